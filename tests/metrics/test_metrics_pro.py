"""AUPRO and AUsPRO equal a straightforward per-threshold computation and known hand-made values."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.metrics import UndefinedMetricError, aupro, auspro, pro_curve


def naive_auspro(maps, masks, limit, saturation=1.0, absolute=False, roi=None):
    """Loop over every distinct threshold, label regions with OpenCV, integrate by hand."""
    masks = [np.asarray(g).astype(bool) for g in masks]
    rois = [np.ones(g.shape, bool) if roi is None else roi.astype(bool) for g in masks]
    regions = []
    for i, (g, r) in enumerate(zip(masks, rois)):
        n, lab = cv2.connectedComponents((g & r).astype(np.uint8), connectivity=8)
        for k in range(1, n):
            a = lab == k
            s = min(saturation, a.sum()) if absolute else saturation * a.sum()
            regions.append((i, a, s))
    n_neg = sum(int((~g & r).sum()) for g, r in zip(masks, rois))
    xs, ys = [0.0], [0.0]
    for t in np.unique(np.concatenate([np.asarray(m).ravel() for m in maps]))[::-1]:
        flagged = [np.asarray(m) >= t for m in maps]
        fp = sum(int((p & ~g & r).sum()) for p, g, r in zip(flagged, masks, rois))
        xs.append(fp / n_neg)
        ys.append(np.mean([min(1.0, (flagged[i] & a).sum() / s) for i, a, s in regions]))
    area = 0.0
    for j in range(1, len(xs)):
        x0, x1, y0, y1 = xs[j - 1], xs[j], ys[j - 1], ys[j]
        if x0 >= limit:
            break
        if x1 > limit:
            y1, x1 = y0 + (y1 - y0) * (limit - x0) / (x1 - x0), limit
        area += (x1 - x0) * (y0 + y1) / 2
    return area / limit


def _case(seed, n=3, size=10, levels=12):
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, size, size), bool)
    for i in range(n):
        for _ in range(rng.integers(0, 3)):
            y, x = rng.integers(0, size - 2, 2)
            masks[i, y : y + rng.integers(1, 4), x : x + rng.integers(1, 5)] = True
    masks[0, 0, 0] = True  # at least one region
    maps = rng.integers(0, levels, masks.shape).astype(np.float32)
    maps[masks] += rng.integers(0, levels // 2, int(masks.sum()))
    return maps, masks


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 100_000), st.sampled_from([0.01, 0.05, 0.3, 1.0]))
def test_aupro_equals_naive_on_random_cases(seed, limit):
    maps, masks = _case(seed)
    assert aupro(masks, maps, limit) == pytest.approx(naive_auspro(maps, masks, limit), abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 100_000), st.sampled_from([0.2, 0.5, 0.9]), st.sampled_from([0.05, 0.3]))
def test_auspro_equals_naive_with_relative_saturation(seed, sat, limit):
    maps, masks = _case(seed)
    got = auspro(masks, maps, sat, limit)
    assert got == pytest.approx(naive_auspro(maps, masks, limit, sat), abs=1e-9)


@pytest.mark.parametrize("sat", [1, 3, 7])
def test_auspro_equals_naive_with_absolute_saturation(sat):
    maps, masks = _case(11)
    got = auspro(masks, maps, sat, 0.3, absolute=True)
    assert got == pytest.approx(naive_auspro(maps, masks, 0.3, sat, absolute=True), abs=1e-9)


def test_aupro_respects_the_roi():
    maps, masks = _case(5, size=14)
    roi = np.zeros((14, 14), bool)
    roi[1:12, 2:13] = True
    assert aupro(masks, maps, 0.3, roi=roi) == pytest.approx(
        naive_auspro(maps, masks, 0.3, roi=roi), abs=1e-9
    )


def test_hand_made_values():
    g = np.zeros((1, 6, 6), bool)
    g[0, 0:2, 0:2] = True  # region A, 4 px
    g[0, 4:6, 4:6] = True  # region B, 4 px
    perfect = g.astype(np.float32)
    assert aupro(g, perfect) == 1.0
    # A constant map: one threshold, the curve is the diagonal: area 0.3 * 0.3 / 2, over 0.3.
    assert aupro(g, np.zeros_like(perfect)) == pytest.approx(0.15)
    # A found above every normal pixel, B below them: PRO 0.5 over the whole range.
    half = np.full(g.shape, 0.5, np.float32)
    half[0, 0:2, 0:2] = 1.0
    half[0, 4:6, 4:6] = 0.0
    assert aupro(g, half) == pytest.approx(0.5)
    # Half of A found first: PRO 0.25 but sPRO with saturation 0.5 counts A as fully found.
    part = np.full(g.shape, 0.5, np.float32)
    part[0, 0, 0:2] = 1.0
    part[0, 1, 0:2] = 0.0
    part[0, 4:6, 4:6] = 1.0
    assert aupro(g, part) == pytest.approx(0.75)
    assert auspro(g, part, saturation=0.5) == pytest.approx(1.0)


def test_diagonal_regions_are_one_component_under_8_connectivity():
    g = np.zeros((1, 4, 4), bool)
    g[0, 0, 0] = g[0, 1, 1] = True  # one 8-connected region of 2 pixels
    g[0, 3, 3] = True  # a second region
    m = np.zeros(g.shape, np.float32)
    m[0, 0, 0] = 1.0  # half of the first region, nothing of the second, no false alarm
    fpr, pro = pro_curve(g, m)
    assert pro[1] == pytest.approx(0.25) and fpr[1] == 0.0


def test_fpr_on_good_only_uses_defect_free_images_for_the_rate():
    maps, masks = _case(7)
    masks[1:] = False
    # Large scores on normal pixels of the defective image no longer count as false alarms.
    noisy = maps.copy()
    noisy[0][~masks[0]] = 1000.0
    assert auspro(masks, noisy, 1.0, 0.3, fpr_on_good_only=True) == auspro(
        masks, maps, 1.0, 0.3, fpr_on_good_only=True
    )
    assert auspro(masks, noisy, 1.0, 0.3, fpr_on_good_only=True) > auspro(masks, noisy, 1.0, 0.3)


def test_pro_metrics_refuse_undefined_and_bad_input():
    maps, masks = _case(1)
    with pytest.raises(UndefinedMetricError, match="no defect region"):
        aupro(np.zeros_like(masks), maps)
    with pytest.raises(UndefinedMetricError, match="no normal pixel"):
        aupro(np.ones_like(masks), maps)
    with pytest.raises(ValueError, match=r"fpr_limit: expected a value in \(0, 1\]"):
        aupro(masks, maps, 0.0)
    with pytest.raises(ValueError, match="saturation"):
        auspro(masks, maps, 1.5)
    with pytest.raises(ValueError, match="one value or 3"):
        auspro(masks, maps, [0.5, 0.5])
    with pytest.raises(ValueError, match="but its mask has shape"):
        aupro(masks[:, :5], maps)


def test_maps_of_different_sizes_are_pooled():
    a_maps, a_masks = _case(21, n=2, size=9)
    b_maps, b_masks = _case(22, n=2, size=13)
    maps, masks = [*a_maps, *b_maps], [*a_masks, *b_masks]
    assert aupro(masks, maps, 0.3) == pytest.approx(naive_auspro(maps, masks, 0.3), abs=1e-9)
