"""Thresholds per defect size class (seed 000): a region counts when it reaches its own class's threshold;
fitted per class on validation maps; stored and read back as a policy kind."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.metrics import ThresholdPolicy, apply_policy
from workbench.metrics.size import size_class_pixels
from workbench.metrics.size_policy import fit_size_policy

H = W = 40  # 1,600 pixels: 16 px = 1 %


def blob_map(rng, size: int, peak: float, noise: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    m = (rng.random((H, W)) * noise).astype(np.float32)
    g = np.zeros((H, W), bool)
    if size:
        y, x = rng.integers(2, H - size - 2), rng.integers(2, W - size - 2)
        g[y : y + size, x : x + size] = True
        m[g] = peak
    return m, g


def test_each_region_must_reach_the_threshold_of_its_size_class():
    m = np.zeros((H, W), np.float32)
    m[2:4, 2:4] = 0.6  # 4 px: small (0.25 %)
    m[20:30, 20:30] = 0.6  # 100 px: large (6.25 %)
    edges = (0.005, 0.02)
    both = size_class_pixels(m, {"small": 0.5, "medium": 0.5, "large": 0.5}, edges)
    assert both[3, 3] and both[25, 25]
    strict_small = size_class_pixels(m, {"small": 0.7, "medium": 0.5, "large": 0.5}, edges)
    assert not strict_small[3, 3] and strict_small[25, 25]
    # a region is classed by its size at its own class's threshold
    assert not size_class_pixels(m, {"small": 0.5}, edges)[25, 25]
    roi = np.zeros((H, W), bool)
    roi[:10, :10] = True
    assert not size_class_pixels(m, {"large": 0.5}, edges, roi).any()


def test_policy_kind_round_trips_and_applies_per_view():
    pol = ThresholdPolicy(
        threshold=0.5, level="pixel", per_size={"v": {"small": 0.7, "medium": 0.5, "large": 0.4}},
        size_edges={"v": [0.005, 0.02]},
    )  # fmt: skip
    assert pol.kind == "size" and ThresholdPolicy.from_dict(pol.to_dict()) == pol
    assert "per_size" not in ThresholdPolicy(threshold=0.5).to_dict()  # other policies read as before
    m = np.zeros((H, W), np.float32)
    m[2:4, 2:4] = 0.6
    assert list(apply_policy(pol, [0.0, 0.0], views=["v", "w"], maps=[m, m])) == [False, True]
    with pytest.raises(ValueError, match="pixel-level"):
        ThresholdPolicy(threshold=0.5, per_size={"v": {"small": 1.0}}, size_edges={"v": [0.1, 0.2]})
    with pytest.raises(ValueError, match="edges"):
        ThresholdPolicy(threshold=0.5, level="pixel", per_size={"v": {"small": 1.0}})


def test_fitted_thresholds_follow_each_class_and_bound_false_alarms():
    rng = np.random.default_rng(0)
    maps, masks = [], []
    for _ in range(30):  # normals with a rare small bright speck: small regions need a high threshold
        m, g = blob_map(rng, 0, 0)
        if rng.random() < 0.5:
            m[5:7, 5:7] = 0.75
        maps.append(m)
        masks.append(g)
    for size, peak in [(2, 0.9)] * 6 + [(4, 0.5)] * 6 + [(9, 0.45)] * 6:
        m, g = blob_map(rng, size, peak)
        maps.append(m)
        masks.append(g)
    views = ["v"] * len(maps)
    pol = fit_size_policy("f1", maps, masks, views)
    t = pol.per_size["v"]
    assert t["small"] > 0.75 >= t["large"]  # small regions must outshine the specks; large ones need not
    verdicts = apply_policy(pol, np.zeros(len(maps)), views=views, maps=maps)
    assert not verdicts[:30].any() and verdicts[30:].all()
    far = fit_size_policy("false_alarm_rate", maps, masks, views, max_fpr=0.3)
    flagged = apply_policy(far, np.zeros(30), views=views[:30], maps=maps[:30])
    assert flagged.mean() <= 0.3 and far.params["kind"] == "size"
    with pytest.raises(ValueError, match="needs the parameter max_fpr"):
        fit_size_policy("false_alarm_rate", maps, masks, views)
