"""A small synthetic conveyor video with known passes, best frames and view positions (for tests)."""

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
    """Write an MJPG .avi and return the truth: passes, best frame per pass and view positions.

    The part slides left to right; frames are sharp at the pass's best frame and blur away from it,
    so the best-aligned frame is unique. Returns {'passes': [(first, last)], 'best': [frame],
    'views': {name: (x, y, w, h) on the part}, 'pos': {frame: (px, py)}, 'templates': {name: BGR}}.
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
    templates = {}
    for p in range(passes):
        for _ in range(gap):
            writer.write(background)
            frame_no += 1
        first = frame_no
        best_step = int(rng.integers(pass_len // 3, 2 * pass_len // 3))
        for step in range(pass_len):
            px = int(round(-40 + step * (width - pw + 80) / (pass_len - 1)))
            frame = background.copy()
            x0, x1 = max(px, 0), min(px + pw, width)
            frame[py : py + ph, x0:x1] = part[:, x0 - px : x1 - px]
            sigma = 0.6 * abs(step - best_step)
            if sigma > 0:
                frame = cv2.GaussianBlur(frame, (0, 0), sigma)
            noise = rng.normal(0, 2.0, frame.shape)
            frame = np.clip(frame + noise, 0, 255).astype(np.uint8)
            if step == best_step:
                truth["best"].append(frame_no)
                if p == 0:
                    for name, (vx, vy, vw, vh) in VIEWS.items():
                        templates[name] = frame[py + vy : py + vy + vh, px + vx : px + vx + vw].copy()
            truth["pos"][frame_no] = (px, py)
            writer.write(frame)
            frame_no += 1
        truth["passes"].append((first, frame_no - 1))
    for _ in range(gap):
        writer.write(background)
        frame_no += 1
    writer.release()
    truth["templates"] = templates
    truth["frames"] = frame_no
    return truth
