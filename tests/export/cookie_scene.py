"""Real photographs on a line: photos of cookies on their baking trays (the Amazon Lookout for Vision cookie
sample in ../shared/data/cookies: normal and cracked cookies) carried left to right over a roller conveyor
under a fixed camera, written as an MP4. For end-to-end tests on a video the workbench did not render."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cookies"
W, H, FPS = 640, 360, 25
PHOTO_W, PHOTO_H = 150, 200  # the 576 x 768 photos, scaled
TOP = 80  # the tray's top edge on the conveyor, px
SPEED = 11  # px per frame
GAP = 14  # empty frames between trays


def photos(good: int, cracked: int, every: int) -> list[tuple[Path, bool]]:
    """[(photo, cracked)] in line order: ``good`` normal photos with a cracked one after every ``every``.

    Normal photos come from train/good then test/good, cracked ones from test/crack, each in name order.
    """
    normal = sorted((DATA / "train" / "good").glob("*.jpg")) + sorted((DATA / "test" / "good").glob("*.jpg"))
    crack = sorted((DATA / "test" / "crack").glob("*.jpg"))
    if len(normal) < good or len(crack) < cracked:
        raise ValueError(f"{DATA}: expected {good} normal and {cracked} cracked photos")
    order: list[tuple[Path, bool]] = []
    bad = iter(crack[:cracked])
    for i, p in enumerate(normal[:good]):
        order.append((p, False))
        if (i + 1) % every == 0:
            order.extend((c, True) for c in [next(bad, None)] if c is not None)
    order.extend((c, True) for c in bad)
    return order


def conveyor(rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) uint8 BGR: grey side rails and shaded steel rollers across the direction of travel."""
    f = np.full((H, W, 3), 70, np.uint8)
    x = np.arange(W)
    phase = (x % 34) / 34.0
    shade = np.where(phase < 0.82, 120 + 90 * np.sin(np.pi * phase / 0.82), 35)
    f[40:320] = np.clip(shade[None, :, None] * np.array([1.0, 1.0, 0.95]), 0, 255).astype(np.uint8)
    f[:40], f[320:] = (95, 100, 105), (95, 100, 105)
    return cv2.add(f, rng.integers(0, 6, f.shape, dtype=np.uint8))


def render(path: Path, order: list[tuple[Path, bool]], seed: int = 0) -> list[dict]:
    """Write the video; returns one {'photo', 'cracked', 'first', 'last', 'centred', 'box'} per pass:
    frames where the tray is in view, the frame where it is nearest the centre and its box there."""
    rng = np.random.default_rng(seed)
    belt = conveyor(rng)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    truth, frame_no = [], 0

    def write(f: np.ndarray) -> None:
        nonlocal frame_no
        writer.write(cv2.add(f, rng.integers(0, 3, f.shape, dtype=np.uint8)))
        frame_no += 1

    for photo, cracked in order:
        img = cv2.resize(cv2.imread(str(photo)), (PHOTO_W, PHOTO_H), interpolation=cv2.INTER_AREA)
        y = TOP + int(rng.integers(-4, 5))
        for _ in range(GAP):
            write(belt)
        first = last = centred = None
        best = W
        for x in range(-PHOTO_W + 1, W, SPEED):
            f = belt.copy()
            x0, x1 = max(0, x), min(W, x + PHOTO_W)
            f[y : y + PHOTO_H, x0:x1] = img[:, x0 - x : x1 - x]
            first = frame_no if first is None else first
            last = frame_no
            if abs(x - (W - PHOTO_W) // 2) < best:
                best, centred, box = abs(x - (W - PHOTO_W) // 2), frame_no, (x, y, PHOTO_W, PHOTO_H)
            write(f)
        truth.append(
            {
                "photo": photo.name,
                "cracked": cracked,
                "first": first,
                "last": last,
                "centred": centred,
                "box": box,
            }
        )
    for _ in range(GAP):
        write(belt)
    writer.release()
    return truth
