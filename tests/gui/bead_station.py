"""Builds a small bead station for the Synthesis pane's tests: two views with a rendered sealant bead,
six passes each (train, val and test normals), ROIs around the bead and two zones per view."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

W, H = 176, 120
PASSES = 6
SPLITS = ("train", "train", "val", "val", "test", "test")
BEAD_WIDTH = 11.0


def centreline(view: str, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    """(N, 2) x, y about 1 px apart: a gentle S-curve (front) or an arc (back) across the sample."""
    from workbench.synth.geometry import resample

    xs = np.arange(6.0, W - 6.0, 0.5)
    if view == "front":
        ys = 60 + 22 * np.sin((xs - 20) / 30.0)
    else:
        ys = 30 + 0.006 * (xs - W / 2) ** 2 + 20
    return resample(np.stack([xs + dx, ys + dy], axis=1), None, 1.0)[0]


def bead_sample(view: str, rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) uint8 RGB: a grey, grainy panel with a glossy bead on it, shifted a pixel or two."""
    from workbench.synth.demo.bead import Stroke, render_strip

    grain = cv2.GaussianBlur(rng.standard_normal((H, W)).astype(np.float32), (0, 0), 2.0)
    panel = np.repeat((92 + 10 * grain)[:, :, None], 3, axis=2) * np.float32([0.95, 1.0, 1.04])
    pts = centreline(view, *rng.uniform(-1.5, 1.5, 2))
    widths = BEAD_WIDTH + 0.6 * np.sin(np.arange(len(pts)) / 17.0)
    bgr, _ = render_strip(panel, [Stroke(pts, widths, 0)])
    noisy = bgr.astype(np.float32) + rng.normal(0, 1.5, bgr.shape)
    return np.ascontiguousarray(np.clip(noisy, 0, 255).astype(np.uint8)[:, :, ::-1])


def view_masks(view: str) -> tuple[np.ndarray, np.ndarray]:
    """The ROI (the bead grown by a margin, 0/255) and zones (1 left half, 2 right half) of a view."""
    line = np.zeros((H, W), np.uint8)
    cv2.polylines(line, [np.round(centreline(view)).astype(np.int32)], False, 255, 1)
    dist = cv2.distanceTransform(255 - line, cv2.DIST_L2, 5)
    roi = np.where(dist <= BEAD_WIDTH / 2 + 4, 255, 0).astype(np.uint8)
    zones = np.where(roi > 0, 1, 0).astype(np.uint8)
    zones[:, W // 2 :] *= 2
    return roi, zones


def build_bead_station(folder: Path) -> Path:
    from workbench.project import Project
    from workbench.project.types import CropWindow, ViewInfo

    p = Project.create(folder / "beads.awb")
    src = p.add_source("folder", str(folder / "frames"), {})
    rng = np.random.default_rng(7)
    images, infos = [], []
    for name in ("front", "back"):
        roi, zones = view_masks(name)
        template = np.full((20, 30, 3), 128, np.uint8)
        p.set_view(
            ViewInfo(
                name,
                template,
                CropWindow(0, 0, W, H),
                roi=roi,
                roi_margin=4,
                zones=zones,
                zone_names=[f"{name[0].upper()}1", f"{name[0].upper()}2"],
            )
        )
        for k in range(PASSES):
            images.append(bead_sample(name, rng))
            infos.append(
                {
                    "source": src,
                    "pass_index": k,
                    "view": name,
                    "frame": 10 * k,
                    "x": 0,
                    "y": 0,
                    "split": SPLITS[k],
                    "label": "good",
                    "match_score": 0.95,
                }
            )
    p.add_samples(images, infos)
    p.save()
    p.close()
    return folder / "beads.awb"
