"""A scene the demo renderer does not make: printed boards (a dot grid and a label strip on a rounded plate) gliding
left to right over a striped belt under a fixed camera; some boards miss a dot. For end-to-end line tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

W, H, FPS = 640, 360, 25
BOARD_W, BOARD_H = 260, 170


def board(rng: np.random.Generator, defect: bool) -> np.ndarray:
    """(BOARD_H, BOARD_W, 3) uint8 BGR board: plate, 4 x 7 dot grid, label strip; a defect drops one dot."""
    b = np.zeros((BOARD_H, BOARD_W, 3), np.uint8)
    cv2.rectangle(b, (0, 0), (BOARD_W - 1, BOARD_H - 1), (60, 140, 70), -1)
    cv2.rectangle(b, (0, 0), (BOARD_W - 1, BOARD_H - 1), (30, 80, 40), 4)
    missing = (int(rng.integers(4)), int(rng.integers(7))) if defect else None
    for r in range(4):
        for c in range(7):
            if (r, c) != missing:
                cv2.circle(b, (28 + 34 * c, 30 + 28 * r), 8, (40, 200, 230), -1)
    cv2.rectangle(b, (20, 140), (BOARD_W - 20, 158), (235, 235, 235), -1)
    for k in range(12):
        cv2.line(b, (28 + 18 * k, 144), (34 + 18 * k, 154), (20, 20, 20), 2)
    return b


def render(path: Path, passes: int = 10, defect_every: int = 4, seed: int = 1) -> list[dict]:
    """Write the video; returns one {'first', 'last', 'defect'} per pass (frames where the board is in view)."""
    rng = np.random.default_rng(seed)
    belt = np.full((H, W, 3), 90, np.uint8)
    for x in range(0, W, 24):
        cv2.line(belt, (x, 0), (x, H), (70, 70, 75), 3)
    belt = cv2.add(belt, rng.integers(0, 12, belt.shape, dtype=np.uint8))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    truth, frame_no = [], 0
    speed = 14  # px per frame
    for p in range(passes):
        defect = p % defect_every == defect_every - 1
        b = board(rng, defect)
        y = 95 + int(rng.integers(-6, 7))
        first = None
        for _ in range(12):  # empty belt between boards
            writer.write(cv2.add(belt, rng.integers(0, 3, belt.shape, dtype=np.uint8)))
            frame_no += 1
        for x in range(-BOARD_W, W + 1, speed):
            f = belt.copy()
            x0, x1 = max(0, x), min(W, x + BOARD_W)
            if x1 > x0:
                f[y : y + BOARD_H, x0:x1] = b[:, x0 - x : x1 - x]
                first = frame_no if first is None else first
                last = frame_no
            writer.write(cv2.add(f, rng.integers(0, 3, f.shape, dtype=np.uint8)))
            frame_no += 1
        truth.append({"first": first, "last": last, "defect": defect})
    for _ in range(12):
        writer.write(belt)
    writer.release()
    return truth


def template(video: Path, truth: dict) -> np.ndarray:
    """An RGB template cut from the frame where the first board is centred: the dot grid, not the label."""
    cap = cv2.VideoCapture(str(video))
    best, best_frame = None, None
    for i in range(truth["last"] + 1):
        ok, f = cap.read()
        if not ok:
            break
        if i >= truth["first"]:
            # The board's left edge: the first column of plate green in the middle row.
            row = f[H // 2]
            green = np.flatnonzero((row[:, 1] > 120) & (row[:, 0] < 90))
            if green.size and (best is None or abs(green[0] - (W - BOARD_W) // 2) < best):
                best, best_frame = abs(green[0] - (W - BOARD_W) // 2), (f, green[0])
    cap.release()
    f, x = best_frame
    col = f[:, x + 10]
    top = int(np.flatnonzero((col[:, 1] > 120) & (col[:, 0] < 90))[0])
    return cv2.cvtColor(f[top + 10 : top + 130, x + 8 : x + 250], cv2.COLOR_BGR2RGB)
