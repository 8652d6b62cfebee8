"""A tiny MVTec LOCO / AutoVI folder written by the tests: grey 48x64 parts, validation normals, logical and
structural anomalies with one ground-truth file per defect region (disconnected and overlapping ones
included) and a defects_config.json mixing relative and absolute saturation thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

H, W = 48, 64
CONFIG = [
    {
        "defect_name": "missing_part",
        "pixel_value": 250,
        "saturation_threshold": 0.7,
        "relative_saturation": True,
    },
    {
        "defect_name": "misplaced_part",
        "pixel_value": 200,
        "saturation_threshold": 40,
        "relative_saturation": False,
    },
    {"defect_name": "scratch", "pixel_value": 100, "saturation_threshold": 1.0, "relative_saturation": True},
]
# test image -> its regions: (defect pixel value, list of rectangles (y0, y1, x0, x1) forming one region)
REGIONS = {
    "logical_anomalies/000": [(250, [(10, 22, 8, 20)]), (200, [(30, 38, 40, 50), (5, 12, 48, 58)])],
    "logical_anomalies/001": [(250, [(20, 34, 20, 36)]), (200, [(26, 32, 30, 44)])],  # overlapping regions
    "structural_anomalies/002": [(100, [(14, 16, 10, 50)])],
    "structural_anomalies/003": [(100, [(30, 40, 12, 16)]), (250, [(4, 9, 4, 12)])],
}


def part(rng: np.random.Generator) -> np.ndarray:
    img = np.full((H, W), 70, np.uint8)
    img[16:32, 8:56] = 180
    return np.clip(img + rng.normal(0, 5, img.shape), 0, 255).astype(np.uint8)


def make_loco(root: Path, seed: int = 0) -> Path:
    """Write the folder under ``root`` and return it."""
    rng = np.random.default_rng(seed)
    for folder, n in (("train/good", 6), ("validation/good", 3), ("test/good", 3)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for k in range(n):
            cv2.imwrite(str(root / folder / f"{k:03d}.png"), part(rng))
    for name, regions in REGIONS.items():
        kind, stem = name.split("/")
        (root / "test" / kind).mkdir(parents=True, exist_ok=True)
        img = part(rng)
        gt = root / "ground_truth" / kind / stem
        gt.mkdir(parents=True, exist_ok=True)
        for k, (value, rects) in enumerate(regions):
            m = np.zeros((H, W), np.uint8)
            for y0, y1, x0, x1 in rects:
                m[y0:y1, x0:x1] = value
                img[y0:y1, x0:x1] = 30
            cv2.imwrite(str(gt / f"{k:03d}.png"), m)
        cv2.imwrite(str(root / "test" / kind / f"{stem}.png"), img)
    (root / "defects_config.json").write_text(json.dumps(CONFIG, indent=1))
    return root
