"""Threshold policies round-trip through JSON, fit from each source, and turn stored results into verdicts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.metrics import (
    ThresholdPolicy,
    apply_policy,
    f1_max,
    fit_policy,
    iou_max,
    recall_at_precision,
    threshold_at_fpr,
)


def _scores(seed=0, n=300):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    s = (rng.normal(size=n) + 1.5 * y).astype(np.float32)
    views = np.where(rng.random(n) < 0.5, "front", "back")
    return s, y, views


def test_policy_round_trips_through_json():
    p = ThresholdPolicy(
        threshold=0.5,
        level="pixel",
        per_view={"front": 0.6},
        per_zone={"front": {"bead": 0.7}},
        min_area=12,
        min_area_per_zone={"front": {"bead": 4}},
        source="false_alarm_rate",
        params={"max_fpr": 0.01},
    )
    d = json.loads(json.dumps(p.to_dict()))
    assert ThresholdPolicy.from_dict(d) == p
    assert p.threshold_for("front", "bead") == 0.7
    assert p.threshold_for("front", "other") == 0.6
    assert p.threshold_for("back") == 0.5 and p.threshold_for(None) == 0.5
    assert p.min_area_for("front", "bead") == 4 and p.min_area_for("back", "bead") == 12


def test_policy_refuses_inconsistent_content():
    with pytest.raises(ValueError, match="image-level policy cannot hold zone"):
        ThresholdPolicy(0.5, per_zone={"v": {"z": 1.0}})
    with pytest.raises(ValueError, match="policy source"):
        ThresholdPolicy(0.5, source="magic")
    with pytest.raises(ValueError, match="not NaN"):
        ThresholdPolicy(float("nan"))
    with pytest.raises(ValueError, match="non-negative whole pixel counts"):
        ThresholdPolicy(0.5, level="pixel", min_area=-3)
    with pytest.raises(ValueError, match="expected schema 1"):
        ThresholdPolicy.from_dict({"threshold": 0.5})
    with pytest.raises(ValueError, match="unexpected keys"):
        ThresholdPolicy.from_dict({"schema": 1, "threshold": 0.5, "thresh": 2})


def test_each_source_fits_the_threshold_its_metric_defines():
    s, y, views = _scores()
    p = fit_policy("false_alarm_rate", scores=s, labels=y, max_fpr=0.05)
    assert p.threshold == threshold_at_fpr(s[~y], 0.05) and p.params == {"max_fpr": 0.05}
    assert fit_policy("precision", scores=s, labels=y, min_precision=0.95).threshold == (
        recall_at_precision(y, s, 0.95).threshold
    )
    assert fit_policy("f1", scores=s, labels=y).threshold == f1_max(y, s).threshold
    with pytest.raises(ValueError, match="needs the parameter max_fpr"):
        fit_policy("false_alarm_rate", scores=s, labels=y)
    with pytest.raises(ValueError, match="manual policy needs no fit"):
        fit_policy("manual", scores=s)


def test_per_view_false_alarm_policy_keeps_each_view_within_its_rate():
    s, y, views = _scores(1, n=2000)
    normal = s[~y]
    p = fit_policy("false_alarm_rate", scores=normal, views=views[~y], max_fpr=0.02)
    verdict = apply_policy(p, normal, views[~y])
    for v in ("front", "back"):
        sel = views[~y] == v
        assert verdict[sel].mean() <= 0.02
        assert p.per_view[v] == threshold_at_fpr(normal[sel], 0.02)
    # The verdicts of the test set follow from the stored scores alone.
    assert (apply_policy(p, s, views) == (s >= np.array([p.per_view[v] for v in views]))).all()


def test_pixel_iou_policy_matches_iou_max_and_zones_get_their_own_value():
    rng = np.random.default_rng(2)
    masks = np.zeros((6, 12, 12), bool)
    masks[:, 2:5, 2:5] = True
    maps = rng.random((6, 12, 12)).astype(np.float32) + 0.8 * masks
    zone_img = np.zeros((12, 12), np.int32)
    zone_img[:, 6:] = 1
    views = ["v"] * 6
    p = fit_policy("iou", maps=maps, masks=masks, views=views, zones={"v": (zone_img, ["right"])})
    assert p.level == "pixel" and p.threshold == iou_max(masks, maps).threshold
    # The right zone has no defect: IoU is undefined there, so it keeps the view's threshold, on record.
    assert "v" not in p.per_zone and p.params["not_fitted"] == ["v/right"]
    assert p.threshold_for("v", "right") == p.per_view["v"]


def test_pixel_false_alarm_policy_fits_each_zone_on_its_own_normal_pixels():
    rng = np.random.default_rng(3)
    maps = rng.random((10, 8, 8)).astype(np.float32)
    maps[:, :, 4:] *= 3.0  # the right zone is noisier and needs a higher threshold
    zone_img = np.zeros((8, 8), np.int32)
    zone_img[:, 4:] = 1
    p = fit_policy(
        "false_alarm_rate", maps=maps, views=["v"] * 10, zones={"v": (zone_img, ["noisy"])}, max_fpr=0.01
    )
    assert p.per_zone["v"]["noisy"] == threshold_at_fpr(maps[:, :, 4:].ravel(), 0.01)
    assert p.per_zone["v"]["noisy"] > threshold_at_fpr(maps[:, :, :4].ravel(), 0.01)
    verdicts = apply_policy(
        p, maps.max(axis=(1, 2)), ["v"] * 10, maps=maps, zones={"v": (zone_img, ["noisy"])}
    )
    thr = np.where(zone_img == 1, p.per_zone["v"]["noisy"], p.per_view["v"])
    flagged = maps >= thr
    assert flagged[:, zone_img == 1].mean() <= 0.01 and flagged[:, zone_img == 0].mean() <= 0.01
    assert (verdicts == flagged.any(axis=(1, 2))).all()


def _blob_map():
    m = np.zeros((20, 20), np.float32)
    m[2:4, 2:4] = 1.0  # 4 px blob in zone 1 (left)
    m[10:16, 12:18] = 0.6  # 36 px blob in zone 2 (right), below the zone-1 threshold of 0.8
    zone_img = np.zeros((20, 20), np.int32)
    zone_img[:, :10] = 1
    zone_img[:, 10:] = 2
    return m, (zone_img, ["left", "right"])


def test_area_rule_uses_connected_components_per_zone():
    m, zones = _blob_map()
    base = dict(threshold=0.5, level="pixel", source="manual")
    # Global minimum area 10: the 4 px blob is too small, the 36 px blob counts.
    assert apply_policy(ThresholdPolicy(**base, min_area=10), [0.0], ["v"], maps=[m], zones={"v": zones})[0]
    # Raise the right zone's threshold above 0.6: only the small blob is left, and 10 px are needed.
    p = ThresholdPolicy(**base, min_area=10, per_zone={"v": {"right": 0.7}})
    assert not apply_policy(p, [0.0], ["v"], maps=[m], zones={"v": zones})[0]
    # Lower the left zone's minimum area to 4: the small blob now makes a defect.
    p = ThresholdPolicy(
        **base, min_area=10, per_zone={"v": {"right": 0.7}}, min_area_per_zone={"v": {"left": 4}}
    )
    assert apply_policy(p, [0.0], ["v"], maps=[m], zones={"v": zones})[0]
    # An ROI that leaves the small blob out removes it again.
    roi = np.ones((20, 20), bool)
    roi[:5, :5] = False
    assert not apply_policy(p, [0.0], ["v"], maps=[m], zones={"v": zones}, roi={"v": roi})[0]


def test_apply_policy_bad_input():
    p = ThresholdPolicy(0.5)
    with pytest.raises(ValueError, match=r"one view name per score \(2\)"):
        apply_policy(p, [0.1, 0.9], ["v"])
    with pytest.raises(ValueError, match="expected no NaN"):
        apply_policy(p, [0.1, np.nan])
    with pytest.raises(ValueError, match="needs the stored anomaly maps"):
        apply_policy(ThresholdPolicy(0.5, level="pixel"), [0.1])
    m, zones = _blob_map()
    with pytest.raises(ValueError, match="zones of view 'v': expected shape"):
        apply_policy(ThresholdPolicy(0.5, level="pixel"), [0.1], ["v"], maps=[m[:10]], zones={"v": zones})
    assert apply_policy(p, [0.1, 0.5, 0.9]).tolist() == [False, True, True]


def test_a_verdict_counts_any_flag_a_detection_only_a_flag_touching_the_defect():
    from workbench.metrics.policy import detected, flagged_pixels

    m = np.zeros((20, 20), np.float32)
    m[2:4, 2:4] = 1.0  # flagged far from the defect
    gt = np.zeros((20, 20), bool)
    gt[12:16, 12:16] = True
    pol = ThresholdPolicy(threshold=0.5, level="pixel")
    assert apply_policy(pol, [0.0], maps=[m])[0]  # the verdict: defective
    assert not detected(pol, 0.0, gt, None, m)  # the detection: missed
    m[14, 14] = 0.9
    assert detected(pol, 0.0, gt, None, m)
    # the area rule drops the single pixel on the defect: not flagged there, so not detected
    area = ThresholdPolicy(threshold=0.5, level="pixel", min_area=3)
    assert flagged_pixels(area, m, None)[2:4, 2:4].all() and not flagged_pixels(area, m, None)[14, 14]
    assert not detected(area, 0.0, gt, None, m)
    image = ThresholdPolicy(threshold=0.5)
    assert detected(image, 0.7, None, None) and not detected(image, 0.3, gt, None)
