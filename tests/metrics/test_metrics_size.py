"""Size-aware misses bin each missed defective image by its view's defect-area tertiles."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.metrics import area_ratios, size_aware_misses, size_tertiles


def _masks(areas, shape=(10, 10)):
    out = []
    for a in areas:
        m = np.zeros(shape, np.uint8)
        m.flat[:a] = 1
        out.append(m)
    return out


def test_bins_per_view_hand_computed():
    masks = _masks([1, 2, 3, 4, 5, 6, 0, 10, 20, 30])
    views = ["front"] * 7 + ["back"] * 3
    detected = np.array([0, 1, 0, 1, 1, 0, 0, 0, 1, 1], bool)
    assert area_ratios(masks)[:3].tolist() == [0.01, 0.02, 0.03]
    edges = size_tertiles(masks, views)
    # front ratios 0.01..0.06 (the normal image is skipped): quantiles 0.333, 0.667 -> 0.02665, 0.04335
    assert edges["front"] == pytest.approx((0.02665, 0.04335))
    out = size_aware_misses(masks, detected, views)
    assert out["front"] == {
        "small": {"missed": 1, "total": 2},
        "medium": {"missed": 1, "total": 2},
        "large": {"missed": 1, "total": 2},
    }
    assert out["back"]["small"] == {"missed": 1, "total": 1}
    assert sum(b["total"] for b in out["back"].values()) == 3


def test_fixed_edges_are_reused_and_must_cover_every_view():
    masks = _masks([1, 50])
    out = size_aware_misses(masks, [False, False], ["v", "v"], edges={"v": (0.1, 0.2)})
    assert out["v"]["small"]["missed"] == 1 and out["v"]["large"]["missed"] == 1
    with pytest.raises(ValueError, match="bin edges for view 'v'"):
        size_aware_misses(masks, [False, False], ["v", "v"], edges={"w": (0.1, 0.2)})
    with pytest.raises(ValueError, match="one view name per mask"):
        size_aware_misses(masks, [False, False], ["v"])
    with pytest.raises(ValueError, match=r"y_pred \(verdicts\): expected shape \(2,\)"):
        size_aware_misses(masks, [False], ["v", "v"])
