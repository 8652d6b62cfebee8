"""Image-level metrics agree with scikit-learn and with brute force, and refuse bad input clearly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from workbench.metrics import (
    UndefinedMetricError,
    auroc,
    average_precision,
    confusion_at,
    f1_max,
    fp_share,
    precision_recall_f1,
    rates_at_tnr,
    recall_at_precision,
    threshold_at_fpr,
    threshold_at_tnr,
)


def _data(seed: int, n: int = 400, levels: int | None = None):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    s = rng.normal(size=n) + 1.2 * y
    if levels:  # quantized scores make many ties
        s = np.round(s * levels / 4) / levels
    y[0], y[1] = True, False
    return s, y


@pytest.mark.parametrize("levels", [None, 3, 20])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auroc_and_ap_match_sklearn_with_and_without_ties(seed, levels):
    s, y = _data(seed, levels=levels)
    assert auroc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-9)
    assert average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 6), st.booleans()), min_size=2, max_size=40).filter(
        lambda xs: 0 < sum(b for _, b in xs) < len(xs)
    )
)
def test_auroc_and_ap_match_sklearn_on_any_small_set(pairs):
    s = np.array([float(a) for a, _ in pairs])
    y = np.array([b for _, b in pairs])
    assert auroc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-9)
    assert average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-9)


def test_auroc_is_invariant_to_monotone_rescaling_and_flips_with_negation():
    s, y = _data(5)
    assert auroc(y, np.exp(s)) == pytest.approx(auroc(y, s), abs=1e-12)
    assert auroc(y, -s) == pytest.approx(1 - auroc(y, s), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 3])
def test_f1_max_matches_brute_force_over_every_threshold(seed):
    s, y = _data(seed, levels=10)
    best = max(skm.f1_score(y, s >= t) for t in np.unique(s))
    op = f1_max(y, s)
    assert op.value == pytest.approx(best, abs=1e-9)
    assert skm.f1_score(y, s >= op.threshold) == pytest.approx(op.value, abs=1e-12)
    c = op.counts
    assert (c.tp, c.fp, c.fn) == (
        np.sum((s >= op.threshold) & y),
        np.sum((s >= op.threshold) & ~y),
        np.sum((s < op.threshold) & y),
    )


def test_precision_recall_f1_match_sklearn_at_a_threshold():
    s, y = _data(4)
    for t in (-1.0, 0.3, 1.5, 99.0):
        p, r, f = precision_recall_f1(y, s, t)
        pred = s >= t
        assert p == pytest.approx(skm.precision_score(y, pred, zero_division=0), abs=1e-12)
        assert r == pytest.approx(skm.recall_score(y, pred), abs=1e-12)
        assert f == pytest.approx(skm.f1_score(y, pred, zero_division=0), abs=1e-12)


def test_recall_at_precision_hand_computed():
    # Sorted by score: d d n d n d. At t=0.8 precision 2/2, recall 2/4; at t=0.6 precision 3/4.
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    y = np.array([1, 1, 0, 1, 0, 1])
    op = recall_at_precision(y, s, 0.996)
    assert (op.value, op.threshold) == (0.5, 0.8)
    assert recall_at_precision(y, s, 0.75).value == 0.75
    assert recall_at_precision(y, s, 0.6).value == 1.0  # 4 / 6 flagged correct at t=0.4
    # Precision 0.996 is never reached when the top score is normal: recall 0, nothing flagged.
    op = recall_at_precision(np.array([0, 1]), np.array([1.0, 0.5]), 0.996)
    assert op.value == 0.0 and op.counts.tp + op.counts.fp == 0


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([0.5, 0.9, 0.95, 0.996]))
def test_recall_at_precision_is_the_best_feasible_recall(seed, x):
    s, y = _data(seed, n=60, levels=8)
    feasible = [
        skm.recall_score(y, s >= t)
        for t in np.unique(s)
        if skm.precision_score(y, s >= t, zero_division=0) >= x
    ]
    assert recall_at_precision(y, s, x).value == pytest.approx(max(feasible, default=0.0), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 30), min_size=1, max_size=80),
    st.floats(0.0, 1.0),
    st.sampled_from([np.float32, np.float64, np.float16]),
)
def test_threshold_at_fpr_is_the_lowest_threshold_meeting_the_rate(values, max_fpr, dtype):
    s = np.array(values, dtype=dtype) / dtype(4)
    t = threshold_at_fpr(s, max_fpr)
    flagged = int(np.sum(s >= t))
    assert flagged <= np.floor(max_fpr * s.size + 1e-9)
    # Any lower threshold that flags one more distinct score breaks the rate (unless all are flagged).
    below = s[s < t]
    if below.size:
        assert np.sum(s >= below.max()) > np.floor(max_fpr * s.size + 1e-9)
    # Comparing in float64 flags the same samples as comparing in the scores' own dtype.
    assert flagged == int(np.sum(s.astype(np.float64) >= np.float64(t)))


def test_threshold_at_tnr_keeps_the_promised_share_of_normals():
    normal = np.arange(100, dtype=np.float64)
    for tnr, flagged in ((0.99, 1), (0.95, 5), (0.90, 10)):  # 1 - 0.9 is 0.0999.. in floating point
        assert np.sum(normal >= threshold_at_tnr(normal, tnr)) == flagged


def test_rates_at_tnr_uses_thresholds_from_training_normals():
    train = np.arange(100, dtype=float)
    test = np.array([5.0, 95.0, 99.5, 120.0, 50.0])
    y = np.array([0, 0, 0, 1, 1])
    rows = rates_at_tnr(y, test, train)
    assert [r["tnr"] for r in rows] == [0.99, 0.95, 0.90]
    r99 = rows[0]  # threshold 98.5: flags 99.5 (normal) and 120 (defective)
    assert (r99["fp"], r99["tn"], r99["tp"], r99["fn"]) == (1, 2, 1, 1)
    assert r99["fpr"] == pytest.approx(1 / 3) and r99["fnr"] == 0.5


def test_fp_share_defined_values():
    assert fp_share(3, 1) == 0.75
    assert fp_share(0, 5) == 0.0
    with pytest.raises(UndefinedMetricError, match="no false positive and no false negative"):
        fp_share(0, 0)
    with pytest.raises(ValueError, match="non-negative"):
        fp_share(-1, 2)


def test_confusion_at_counts_ties_as_flagged():
    c = confusion_at([1, 0, 1], [0.5, 0.5, 0.2], 0.5)
    assert (c.tp, c.fp, c.tn, c.fn) == (1, 1, 0, 1)


def test_one_class_sets_raise_undefined_metric():
    s = np.array([0.1, 0.2, 0.3])
    with pytest.raises(UndefinedMetricError, match="no defective samples"):
        auroc([0, 0, 0], s)
    with pytest.raises(UndefinedMetricError, match="no normal samples"):
        auroc([1, 1, 1], s)
    with pytest.raises(UndefinedMetricError, match="no defective"):
        average_precision([0, 0, 0], s)
    with pytest.raises(UndefinedMetricError):
        f1_max([0, 0, 0], s)
    with pytest.raises(UndefinedMetricError):
        precision_recall_f1([0, 0, 0], s, 0.2)
    # Defined without normals: every defective can be found.
    assert average_precision([1, 1, 1], s) == 1.0
    assert f1_max([1, 1, 1], s).value == 1.0


def test_bad_input_says_what_was_expected_and_found():
    with pytest.raises(ValueError, match=r"expected no NaN, found 1 NaN \(first at index 1\)"):
        auroc([0, 1, 1], [0.1, np.nan, 0.3])
    with pytest.raises(ValueError, match=r"expected shape \(3,\)"):
        auroc([0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"expected 0/1 or bool, found values \[2\]"):
        auroc([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="1-D"):
        auroc([0, 1], np.zeros((2, 2)))
    with pytest.raises(ValueError, match="max_fpr"):
        threshold_at_fpr([1.0, 2.0], 1.5)
    with pytest.raises(ValueError, match="at least one normal score"):
        threshold_at_fpr([], 0.1)
