"""Robustness: AUROC drops on seeded augmented test copies, masks and ROI following rotations, results reused."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.jobs.evaluate import evaluate
from workbench.jobs.evaluate_data import AUGMENTATION_KEY
from workbench.jobs.robustness import AUGMENTATIONS, augment_split, robustness
from workbench.project import Project

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate_station import station_copy  # noqa: E402


def test_rotation_moves_mask_and_roi_with_the_image():
    rng = np.random.default_rng(1)
    images, masks = [], []
    for _ in range(4):
        mask = np.zeros((40, 60), bool)
        y, x = rng.integers(5, 30), rng.integers(5, 45)
        mask[y : y + 8, x : x + 10] = True
        img = np.zeros((40, 60, 3), np.uint8)
        img[mask] = 255  # the defect is the only bright thing, so it shows where the mask must go
        images.append(img)
        masks.append(mask)
    roi = np.zeros((40, 60), bool)
    roi[10:30] = True
    a_img, a_masks, a_rois = augment_split(images, masks, roi, "rotation", seed=3)
    moved = 0
    for img, m, r, m0 in zip(a_img, a_masks, a_rois, masks):
        bright = img[:, :, 0] > 127
        assert (bright & m).sum() / max(1, (bright | m).sum()) > 0.8
        moved += int((m != m0).any())
        assert r.sum() == pytest.approx(roi.sum(), rel=0.15) and not np.array_equal(r, roi)
    assert moved == 4
    # photometric augmentations leave masks and ROI where they were
    _, same_masks, same_rois = augment_split(images, masks, roi, "defocus", seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(same_masks, masks))
    assert all(np.array_equal(r, roi) for r in same_rois)


def test_robustness_reports_drops_and_reuses_stored_results(tmp_path_factory, tmp_path):
    path = station_copy(tmp_path_factory, tmp_path)
    with Project.open(path) as p:
        before = len(p.results())
        out = robustness(p, "run1", seed=5)
        added = [r for r in p.results(run_id="run1") if r.meta.get(AUGMENTATION_KEY)]
        assert len(p.results()) == before + len(AUGMENTATIONS) == before + len(added)
        base = out["baseline"]["image_auroc"]
        assert base == evaluate(p, ["run1"])["runs"][0]["metrics"]["all"]["image_auroc"]
        for row in out["augmentations"]:
            assert row["image_drop"] == pytest.approx(base - row["image_auroc"])
            assert 0.0 <= row["pixel_auroc"] <= 1.0
        # noise of sigma 2-10 grey levels on 48 px crops with faint defects must cost something
        assert max(r["image_drop"] for r in out["augmentations"]) > 0
        p.save()
    with Project.open(path) as p:
        again = robustness(p, "run1", seed=5)
        assert len(p.results()) == before + len(AUGMENTATIONS)
        assert [r["image_auroc"] for r in again["augmentations"]] == [
            r["image_auroc"] for r in out["augmentations"]
        ]
        # evaluation never mistakes augmented scores for the clean test scores
        assert evaluate(p, ["run1"])["runs"][0]["predicted_now"] == 0
        other = robustness(p, "run1", augmentations=["rotation"], seed=6)
        assert len(p.results()) == before + len(AUGMENTATIONS) + 1
        assert other["augmentations"][0]["name"] == "rotation"
        with pytest.raises(ValueError, match="unknown augmentation"):
            robustness(p, "run1", augmentations=["fog"])
