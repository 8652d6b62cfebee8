"""Live recounts give the same TP/FP/TN/FN as recomputing from scratch, and list verdict changes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.metrics import Counts, PixelRecount, ScoreRecount, verdict_changes


def _naive(s, y, t) -> Counts:
    f = s.astype(np.float64) >= np.float64(t)  # exact comparison, whatever the scores' dtype
    return Counts(int(np.sum(f & y)), int(np.sum(f & ~y)), int(np.sum(~f & ~y)), int(np.sum(~f & y)))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 20), st.booleans()), min_size=0, max_size=60),
    st.lists(st.integers(-2, 22), min_size=1, max_size=5),
)
def test_score_recount_equals_naive_counts_at_any_threshold(pairs, thresholds):
    s = np.array([a / 4 for a, _ in pairs], dtype=np.float32)
    y = np.array([b for _, b in pairs], dtype=bool)
    rc = ScoreRecount(y, s)
    ts = [t / 4 for t in thresholds]
    for t in ts:
        assert rc.counts(t) == _naive(s, y, t)
    many = rc.counts_many(ts)
    assert [Counts(*map(int, row)) for row in many] == [_naive(s, y, t) for t in ts]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 10), min_size=1, max_size=50), st.integers(-1, 11), st.integers(-1, 11))
def test_changed_lists_exactly_the_samples_whose_verdict_flips(values, a, b):
    s = np.array(values, dtype=np.float64)
    rc = ScoreRecount(np.zeros(s.size, bool), s)
    expected = np.flatnonzero((s >= a) != (s >= b))
    assert sorted(rc.changed(a, b).tolist()) == expected.tolist()
    assert verdict_changes(s, a, b).tolist() == expected.tolist()


def test_pixel_recount_counts_only_roi_pixels():
    rng = np.random.default_rng(0)
    maps = rng.random((5, 20, 16)).astype(np.float16)
    masks = rng.random((5, 20, 16)) < 0.1
    roi = np.zeros((20, 16), bool)
    roi[3:17, 2:14] = True
    rc = PixelRecount(masks, maps, roi)
    sel = np.broadcast_to(roi, maps.shape)
    for t in (0.0, 0.25, 0.5, 0.9, 1.1):
        assert rc.counts(t) == _naive(maps[sel], masks[sel], t)
    c = rc.counts(0.5)
    assert c.tp + c.fp + c.tn + c.fn == int(sel.sum())


def test_counts_rates_have_documented_zero_cases():
    c = Counts(tp=0, fp=0, tn=5, fn=0)
    assert (c.precision, c.recall, c.fnr, c.f1, c.iou) == (0.0, 0.0, 0.0, 0.0, 0.0)
    assert Counts(2, 1, 3, 1).as_dict() == {"tp": 2, "fp": 1, "tn": 3, "fn": 1}


def test_recount_refuses_nan():
    with pytest.raises(ValueError, match="expected no NaN"):
        ScoreRecount([0, 1], [0.1, np.nan])
    with pytest.raises(ValueError, match="threshold: expected a number, found NaN"):
        ScoreRecount([0, 1], [0.1, 0.2]).counts(float("nan"))


def _zoned_maps(seed: int):
    """Maps (6, 12, 10) with zones A (left), B (right), an unnamed label 4 (outside every zone), a named
    zone C with no pixel, an ROI that leaves the top rows out, labels and GT masks."""
    rng = np.random.default_rng(seed)
    maps = rng.random((6, 12, 10)).astype(np.float32)
    zones = np.zeros((12, 10), np.uint8)
    zones[:, :5], zones[:, 5:], zones[10:, :] = 1, 2, 4
    roi = np.ones((12, 10), bool)
    roi[:2] = False
    labels = np.array([0, 1, 0, 1, 1, 0], bool)
    masks = np.zeros((6, 12, 10), bool)
    masks[1, 4:6, 1:3] = True  # in A
    masks[3, 4:6, 7:9] = True  # in B
    masks[4, 0, 0] = True  # outside the ROI: found nowhere
    return maps, zones, roi, labels, masks


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_zone_recount_gives_the_verdicts_of_a_pixel_level_zone_policy(seed):
    from workbench.metrics import ThresholdPolicy, ZoneRecount, apply_policy

    maps, zones, roi, labels, masks = _zoned_maps(seed)
    zr = ZoneRecount(labels, maps, zones, ["A", "B", "C"], roi=roi, masks=masks)
    assert zr.regions == ["A", "B", "C", ""]
    assert np.isneginf(zr.peaks[:, 2]).all(), "zone C has no pixel"
    rng = np.random.default_rng(seed + 10)
    for _ in range(20):
        a, b, c, rest = rng.uniform(0.5, 1.0, 4)
        policy = ThresholdPolicy(
            threshold=1.0, level="pixel", per_view={"v": rest}, per_zone={"v": {"A": a, "B": b, "C": c}}
        )
        expected = apply_policy(
            policy, maps.max(axis=(1, 2)), ["v"] * 6, maps, {"v": (zones, ["A", "B", "C"])}, {"v": roi}
        )
        assert zr.verdicts([a, b, c, rest]).tolist() == expected.tolist()
        assert zr.counts([a, b, c, rest]) == _naive(expected.astype(float), labels, 0.5)


def test_zone_recount_counts_a_region_on_its_own_defects_and_every_normal():
    from workbench.metrics import ZoneRecount

    maps, zones, roi, labels, masks = _zoned_maps(0)
    zr = ZoneRecount(labels, maps, zones, ["A", "B", "C"], roi=roi, masks=masks)
    assert zr.in_region[:, 0].tolist() == [False, True, False, False, False, False]
    assert zr.in_region[:, 1].tolist() == [False, False, False, True, False, False]
    a = (zones == 1) & roi
    peaks_a = np.array([m[a].max() for m in maps], np.float64)
    keep = ~labels | zr.in_region[:, 0]
    for t in (0.0, 0.6, 0.9, 1.1):
        assert zr.region_counts(0, t) == _naive(peaks_a[keep], zr.in_region[keep, 0], t)
    thresholds = [0.9, 0.95, 0.9, 0.99]
    old = 0.2
    before = zr.verdicts([old, 0.95, 0.9, 0.99])
    assert (
        zr.changed(thresholds, 0, old).tolist() == np.flatnonzero(before != zr.verdicts(thresholds)).tolist()
    )


def test_zone_recount_refuses_maps_of_another_shape():
    from workbench.metrics import ZoneRecount

    maps, zones, roi, labels, _masks = _zoned_maps(0)
    with pytest.raises(ValueError, match="zones' shape"):
        ZoneRecount(labels, maps[:, :, :8], zones, ["A", "B"], roi=roi)
    with pytest.raises(ValueError, match="thresholds"):
        ZoneRecount(labels, maps, zones, ["A", "B"], roi=roi).verdicts([0.5])
