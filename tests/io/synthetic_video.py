"""A small synthetic conveyor video with known passes, best-aligned frames and view positions (for tests)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

VIEWS = {"front": (20, 40, 48, 40), "center": (110, 60, 56, 44), "back": (210, 36, 48, 40)}  # on the part


def make_part(rng: np.random.Generator, w: int = 280, h: int = 150) -> np.ndarray:
    """(h, w, 3) uint8 BGR textured part with bead-like strokes."""
    part = np.full((h, w, 3), 90, np.uint8)
    for _ in range(60):
        p1 = tuple(int(v) for v in rng.integers(0, (w, h)))
        p2 = tuple(int(v) for v in rng.integers(0, (w, h)))
        color = tuple(int(c) for c in rng.integers(120, 255, 3))
        cv2.line(part, p1, p2, color, int(rng.integers(2, 6)))
    return part


def make_video(
    path: Path,
    passes: int = 4,
    seed: int = 0,
    width: int = 320,
    height: int = 192,
    pass_len: int = 24,
    gap: int = 10,
    fps: float = 25.0,
) -> dict:
    """Write an MJPG .avi and return the truth: passes, the best-aligned frame per pass, view positions.

    The part slides left to right, the same path every pass. The views' templates are cut from the
    decoded video (as a user cuts them) in pass 0 at a frame in the middle third of the pass; in every
    pass the best-aligned frame is the one where the part is at that position. Returns {'passes':
    [(first, last)], 'best': [frame], 'views': {name: (x, y, w, h) on the part}, 'pos': {frame: (px, py)},
    'templates': {name: BGR}, 'frames': count}.
    """
    rng = np.random.default_rng(seed)
    part = make_part(rng)
    ph, pw = part.shape[:2]
    background = rng.integers(20, 40, (height, width, 3)).astype(np.uint8)
    background = cv2.GaussianBlur(background, (5, 5), 0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    truth: dict = {"passes": [], "best": [], "pos": {}, "views": VIEWS}
    frame_no = 0
    py = (height - ph) // 2
    best_step = int(rng.integers(pass_len // 3, 2 * pass_len // 3))
    for _ in range(passes):
        for _ in range(gap):
            writer.write(background)
            frame_no += 1
        first = frame_no
        for step in range(pass_len):
            px = int(round(-40 + step * (width - pw + 80) / (pass_len - 1)))
            frame = background.copy()
            x0, x1 = max(px, 0), min(px + pw, width)
            frame[py : py + ph, x0:x1] = part[:, x0 - px : x1 - px]
            noise = rng.normal(0, 2.0, frame.shape)
            frame = np.clip(frame + noise, 0, 255).astype(np.uint8)
            if step == best_step:
                truth["best"].append(frame_no)
            truth["pos"][frame_no] = (px, py)
            writer.write(frame)
            frame_no += 1
        truth["passes"].append((first, frame_no - 1))
    for _ in range(gap):
        writer.write(background)
        frame_no += 1
    writer.release()
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, truth["best"][0])
    ok, decoded = cap.read()
    cap.release()
    assert ok, f"cannot read back frame {truth['best'][0]} of {path}"
    bx, by = truth["pos"][truth["best"][0]]
    truth["templates"] = {
        name: decoded[by + vy : by + vy + vh, bx + vx : bx + vx + vw].copy()
        for name, (vx, vy, vw, vh) in VIEWS.items()
    }
    truth["frames"] = frame_no
    return truth
