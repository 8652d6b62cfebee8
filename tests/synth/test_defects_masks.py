"""Synthetic defects on a rendered bead: masks match the changed pixels, edits stay local, seeds repeat."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from workbench.synth.bead import find_bead
from workbench.synth.bead_defects import BEAD_TYPES
from workbench.synth.defects import DEFECT_TYPES, SIZE_CLASSES, preview, size_class, synthesize_one
from workbench.synth.masks import difference, iou


def bead_image(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A bright smooth ridge along a curve on a noisy textured grey panel, and its ROI."""
    rng = np.random.default_rng(seed)
    h, w = 200, 320
    panel = 120 + 8 * cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 4) * 3
    xs = np.arange(10, 310, dtype=np.float64)
    ys = 100 + 35 * np.sin(xs / 60.0)
    cover = np.zeros((h, w), np.uint8)
    cv2.polylines(cover, [np.stack([xs, ys], 1).round().astype(np.int32)], False, 255, 1)
    dist = cv2.distanceTransform(255 - cover, cv2.DIST_L2, 5)
    half = 8.0
    ridge = np.sqrt(np.clip(1 - (dist / half) ** 2, 0, 1))
    img = panel * (1 - (ridge > 0)) + (150 + 80 * ridge) * (ridge > 0)
    img = img + rng.normal(0, 2.0, (h, w))
    bgr = np.repeat(np.clip(img, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    roi = np.where(dist <= half + 2, 255, 0).astype(np.uint8)
    return bgr, roi


def test_bead_is_found_with_its_width():
    img, roi = bead_image()
    bead = find_bead(img, roi)
    assert len(bead.lines) == 1
    assert bead.lines[0].length > 250
    # the ridge is 17 px wide (2 x 8 px plus the rasterised line): both flanks count, not just the bright top
    assert 15 < bead.median_width() < 21


@pytest.mark.parametrize("kind", DEFECT_TYPES)
def test_mask_covers_the_changed_pixels(kind):
    img, roi = bead_image(1)
    bead = find_bead(img, roi)
    made = synthesize_one(img, bead, kind, "medium", np.random.default_rng(3), roi=roi)
    raw = difference(img, made.image) > 12
    assert made.mask.any()
    assert iou(made.mask, raw) >= 0.8
    assert made.size in SIZE_CLASSES


def test_requested_size_class_is_reached_for_every_bead_type():
    """Small, medium and large are shares of the sample; a 17 px bead on a 320x200 sample reaches each."""
    img, roi = bead_image(4)
    bead = find_bead(img, roi)
    rng = np.random.default_rng(0)
    h, w = roi.shape
    for kind in BEAD_TYPES:
        made = [
            synthesize_one(img, bead, kind, size, rng, roi=roi) for size in SIZE_CLASSES for _ in range(2)
        ]
        assert all(m.size == size_class(float((m.mask > 0).sum()) / (h * w)) for m in made)
        hits = [m.size == m.target_size for m in made]
        assert sum(hits) >= 5, (kind, [(m.target_size, m.size) for m in made])


def test_preview_repeats_under_a_seed_and_stays_local():
    img, roi = bead_image(2)
    bead = find_bead(img, roi).to_dict()
    a1, m1 = preview(img, bead, "missing", seed=5)
    a2, m2 = preview(img, bead, "missing", seed=5)
    assert np.array_equal(a1, a2) and np.array_equal(m1, m2)
    far = cv2.dilate(m1, np.ones((41, 41), np.uint8)) == 0
    # away from the defect nothing changes beyond sub-threshold grain
    assert np.abs(a1[far].astype(int) - img[far]).max() <= 12
