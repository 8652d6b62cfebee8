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
    rc = ScoreRecount(s, y)
    ts = [t / 4 for t in thresholds]
    for t in ts:
        assert rc.counts(t) == _naive(s, y, t)
    many = rc.counts_many(ts)
    assert [Counts(*map(int, row)) for row in many] == [_naive(s, y, t) for t in ts]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 10), min_size=1, max_size=50), st.integers(-1, 11), st.integers(-1, 11))
def test_changed_lists_exactly_the_samples_whose_verdict_flips(values, a, b):
    s = np.array(values, dtype=np.float64)
    rc = ScoreRecount(s, np.zeros(s.size, bool))
    expected = np.flatnonzero((s >= a) != (s >= b))
    assert sorted(rc.changed(a, b).tolist()) == expected.tolist()
    assert verdict_changes(s, a, b).tolist() == expected.tolist()


def test_pixel_recount_counts_only_roi_pixels():
    rng = np.random.default_rng(0)
    maps = rng.random((5, 20, 16)).astype(np.float16)
    masks = rng.random((5, 20, 16)) < 0.1
    roi = np.zeros((20, 16), bool)
    roi[3:17, 2:14] = True
    rc = PixelRecount(maps, masks, roi)
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
        ScoreRecount([0.1, np.nan], [0, 1])
    with pytest.raises(ValueError, match="threshold: expected a number, found NaN"):
        ScoreRecount([0.1, 0.2], [0, 1]).counts(float("nan"))
