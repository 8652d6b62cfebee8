"""Builds a small station for GUI tests through the project API: a video, two views, passes, samples."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

FRAMES, W, H, FPS = 90, 320, 240, 15.0
PASSES = [(5, 25), (35, 55), (65, 85)]


def frame_image(index: int) -> np.ndarray:
    """(H, W, 3) uint8 BGR: a bright part moving right during each pass, its frame number drawn in."""
    img = np.full((H, W, 3), 40, np.uint8)
    for a, b in PASSES:
        if a <= index <= b:
            x = int(20 + (index - a) * 8)
            cv2.rectangle(img, (x, 60), (x + 120, 180), (200, 200, 200), -1)
            cv2.circle(img, (x + 40, 120), 15, (60, 60, 200), -1)
    cv2.putText(img, str(index), (5, 230), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
    return img


def write_video(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    assert writer.isOpened(), "OpenCV cannot write mp4v videos here"
    for i in range(FRAMES):
        writer.write(frame_image(i))
    writer.release()
    return path


def build_station(folder: Path) -> Path:
    from workbench.project import Project
    from workbench.project.types import CropWindow, ViewInfo

    video = write_video(folder / "demo.mp4")
    p = Project.create(folder / "station.awb")
    src = p.add_source(
        "video", str(video), {"fps": FPS, "frames": FRAMES, "passes": [list(x) for x in PASSES]}
    )
    rng = np.random.default_rng(0)
    for name, color in (("front", (220, 160, 60)), ("back", (60, 160, 220))):
        template = np.zeros((24, 32, 3), np.uint8)
        template[:] = color
        roi = np.zeros((48, 64), np.uint8)
        roi[8:40, 8:56] = 255
        p.set_view(ViewInfo(name, template, CropWindow(-16, -12, 64, 48), roi=roi))
    images, infos, masks = [], [], []
    for k, (a, b) in enumerate(PASSES):
        frame = (a + b) // 2
        bgr = frame_image(frame)
        for name, x in (("front", 40 + (frame - a) * 8), ("back", 90 + (frame - a) * 8)):
            crop = cv2.cvtColor(bgr[90:138, x : x + 64], cv2.COLOR_BGR2RGB)
            crop = np.ascontiguousarray(crop)
            defective = k == 1
            mask = None
            if defective:
                mask = np.zeros(crop.shape[:2], np.uint8)
                mask[10:30, 20:40] = 255
            images.append(crop + rng.integers(0, 3, crop.shape, dtype=np.uint8))
            infos.append(
                {
                    "source": src,
                    "pass_index": k,
                    "view": name,
                    "frame": frame,
                    "x": x,
                    "y": 90,
                    "split": "test" if defective else "train",
                    "label": "defective" if defective else "good",
                    "match_score": 0.9,
                }
            )
            masks.append(mask)
    p.add_samples(images, infos, masks)
    p.save()
    p.close()
    return folder / "station.awb"
