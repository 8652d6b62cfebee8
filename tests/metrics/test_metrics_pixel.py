"""Pixel metrics pool every ROI pixel, agree with scikit-learn, and accept maps of different sizes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from workbench.metrics import (
    UndefinedMetricError,
    iou_max,
    pixel_auroc,
    pixel_average_precision,
    pixel_confusion_at,
    pixel_f1_max,
)


def _maps(seed=0, n=4, h=16, w=12, levels=None):
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, h, w), np.uint8)
    for i in range(n):
        y, x = rng.integers(0, h - 4), rng.integers(0, w - 4)
        masks[i, y : y + 4, x : x + 3] = 255
    maps = rng.random((n, h, w)).astype(np.float32) + 0.6 * (masks > 0)
    if levels:
        maps = np.round(maps * levels) / levels
    return maps, masks


@pytest.mark.parametrize("levels", [None, 8])
def test_pixel_auroc_and_ap_match_sklearn_inside_a_shared_roi(levels):
    maps, masks = _maps(levels=levels)
    roi = np.zeros(maps.shape[1:], bool)
    roi[2:14, 1:10] = True
    sel = np.broadcast_to(roi, maps.shape)
    y, s = masks[sel] > 0, maps[sel]
    assert pixel_auroc(masks, maps, roi) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-9)
    assert pixel_average_precision(masks, maps, roi) == pytest.approx(
        skm.average_precision_score(y, s), abs=1e-9
    )


def test_roi_excludes_pixels_whatever_their_scores():
    maps, masks = _maps(1)
    roi = np.ones(maps.shape, bool)
    roi[:, :, :3] = False
    spoiled = maps.copy()
    spoiled[:, :, :3] = 100.0  # huge scores outside the ROI must change nothing
    assert pixel_auroc(masks, spoiled, roi) == pixel_auroc(masks, maps, roi)
    assert iou_max(masks, spoiled, roi) == iou_max(masks, maps, roi)


def test_list_of_differently_sized_maps_equals_pooled_pixels():
    rng = np.random.default_rng(2)
    maps = [rng.random((8, 10)), rng.random((5, 7)), rng.random((12, 3))]
    masks = [rng.random(m.shape) < 0.2 for m in maps]
    s = np.concatenate([m.ravel() for m in maps])
    y = np.concatenate([g.ravel() for g in masks])
    assert pixel_auroc(masks, maps) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-9)
    rois = [np.ones(m.shape, bool) for m in maps]
    assert pixel_auroc(masks, maps, rois) == pixel_auroc(masks, maps)


def test_iou_max_is_the_best_jaccard_over_all_thresholds():
    maps, masks = _maps(3, levels=12)
    y, s = masks.ravel() > 0, maps.ravel()
    best = max(skm.jaccard_score(y, s >= t) for t in np.unique(s))
    op = iou_max(masks, maps)
    assert op.value == pytest.approx(best, abs=1e-12)
    assert skm.jaccard_score(y, s >= op.threshold) == pytest.approx(op.value, abs=1e-12)
    assert op.value == op.counts.tp / (op.counts.tp + op.counts.fp + op.counts.fn)
    f1 = pixel_f1_max(masks, maps)
    assert f1.value == pytest.approx(max(skm.f1_score(y, s >= t) for t in np.unique(s)), abs=1e-12)


def test_iou_hand_computed():
    m = np.array([[[0.9, 0.8, 0.1], [0.7, 0.2, 0.1]]])
    g = np.array([[[1, 1, 0], [0, 0, 0]]], bool)
    op = iou_max(g, m)
    assert (op.value, op.threshold) == (1.0, 0.8)
    c = pixel_confusion_at(g, m, 0.7)
    assert (c.tp, c.fp, c.tn, c.fn) == (2, 1, 3, 0) and c.iou == pytest.approx(2 / 3)


def test_pixel_metrics_bad_and_empty_input():
    maps, masks = _maps(4)
    with pytest.raises(ValueError, match=r"map 1 has shape \(16, 12\) but its mask has shape \(16, 11\)"):
        pixel_auroc([masks[0], masks[1][:, :11], masks[2], masks[3]], list(maps))
    with pytest.raises(ValueError, match="expected as many masks as maps"):
        pixel_auroc(masks[:2], maps)
    bad = maps.copy()
    bad[2, 3, 3] = np.nan
    with pytest.raises(ValueError, match="map 2: expected no NaN"):
        pixel_auroc(masks, bad)
    with pytest.raises(ValueError, match=r"roi for map 0: expected shape \(16, 12\)"):
        pixel_auroc(masks, maps, np.ones((4, 4), bool))
    empty = np.zeros_like(masks)
    with pytest.raises(UndefinedMetricError, match="no defective pixels inside the ROI"):
        pixel_auroc(empty, maps)
    with pytest.raises(UndefinedMetricError, match="no defective pixels"):
        iou_max(empty, maps)
    with pytest.raises(UndefinedMetricError, match="no normal pixels"):
        pixel_auroc(np.ones_like(masks), maps)
    with pytest.raises(ValueError, match=r"expected \(N, H, W\)"):
        pixel_auroc(masks[0], maps[0])
