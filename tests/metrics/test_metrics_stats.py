"""Statistics use scipy's tests, correct with Benjamini-Hochberg, and pick the knee of the Pareto front."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from workbench.metrics import (
    best_models,
    knee_point,
    mean_std,
    paired_t,
    paired_tests,
    pareto_front,
    welch_t,
    welch_tests,
)


def test_mean_std_uses_sample_std_and_defines_a_single_run():
    m = mean_std([0.9, 0.92, 0.94])
    assert m.mean == pytest.approx(0.92) and m.std == pytest.approx(0.02) and m.n == 3
    assert mean_std([0.5]).std == 0.0
    with pytest.raises(ValueError, match="expected no NaN"):
        mean_std([0.5, np.nan])
    with pytest.raises(ValueError, match="at least 1"):
        mean_std([])


def _bh(p):
    """Benjamini-Hochberg by hand: p_(i) * m / i, made monotone from the top, capped at 1."""
    p = np.asarray(p)
    order = np.argsort(p)
    ranked = p[order] * p.size / np.arange(1, p.size + 1)
    adj = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(adj)
    out[order] = np.minimum(adj, 1)
    return out


def test_paired_tests_match_scipy_and_hand_made_bh():
    rng = np.random.default_rng(0)
    base = rng.normal(0.8, 0.02, 8)
    results = {
        "A": base + 0.05,
        "B": base + rng.normal(0, 0.01, 8),
        "C": base + 0.002 + rng.normal(0, 0.01, 8),
    }
    out = paired_tests(results)
    assert [(r.a, r.b) for r in out] == [("A", "B"), ("A", "C"), ("B", "C")]
    raw = [stats.ttest_rel(results[r.a], results[r.b]).pvalue for r in out]
    assert [r.p for r in out] == pytest.approx(raw, abs=1e-12)
    assert [r.p_adjusted for r in out] == pytest.approx(_bh(raw), abs=1e-12)
    assert out[0].significant and out[0].mean_diff > 0


def test_welch_matches_scipy_and_degenerate_cases_are_defined():
    a, b = [0.91, 0.93, 0.92, 0.95], [0.88, 0.9, 0.86, 0.91, 0.89]
    r = stats.ttest_ind(a, b, equal_var=False)
    assert welch_t(a, b) == pytest.approx((r.statistic, r.pvalue), abs=1e-12)
    assert welch_t([1, 1, 1], [1, 1]) == (0.0, 1.0)
    assert welch_t([2, 2], [1, 1]) == (np.inf, 0.0)
    assert paired_t([1, 2, 3], [1, 2, 3]) == (0.0, 1.0)
    assert paired_t([1, 2, 3], [2, 3, 4]) == (-np.inf, 0.0)
    assert all(np.isfinite(c.p_adjusted) for c in welch_tests({"x": [1, 1], "y": [1, 1], "z": [0.5, 0.7]}))
    with pytest.raises(ValueError, match="equal lengths"):
        paired_t([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 2"):
        welch_t([1], [1, 2])


def test_best_models_keeps_those_not_significantly_worse():
    rng = np.random.default_rng(1)
    res = {
        "top": 0.95 + rng.normal(0, 0.01, 8),
        "close": 0.949 + rng.normal(0, 0.01, 8),
        "bad": 0.80 + rng.normal(0, 0.01, 8),
    }
    assert best_models(res) == ["top", "close"]
    assert best_models(res, higher_is_better=False) == ["bad"]


def test_pareto_front_and_knee_on_a_hand_made_set():
    #          fast/poor  knee      slow/best  dominated  slightly better than knee, much slower
    acc = [0.70, 0.95, 0.97, 0.80, 0.96]
    time = [1.0, 2.0, 10.0, 5.0, 6.0]
    assert pareto_front(acc, time).tolist() == [0, 1, 4, 2]
    assert knee_point(acc, time) == 1


def test_knee_of_one_or_two_runs():
    assert knee_point([0.9], [3.0]) == 0
    assert knee_point([0.9, 0.8], [1.0, 2.0]) == 0  # one run dominates
    # Two non-dominated runs both lie on the line between extremes: the tie goes to the faster one.
    assert knee_point([0.8, 0.9], [1.0, 2.0]) == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(1, 50)), min_size=1, max_size=25))
def test_knee_is_on_the_front_and_front_runs_are_not_dominated(points):
    acc = np.array([p[0] / 50 for p in points])
    time = np.array([float(p[1]) for p in points])
    front = pareto_front(acc, time)
    assert knee_point(acc, time) in front.tolist()
    for i in front:
        dominated = (acc >= acc[i]) & (time <= time[i]) & ((acc > acc[i]) | (time < time[i]))
        assert not dominated.any()
    for j in set(range(len(points))) - set(front.tolist()):
        assert ((acc >= acc[j]) & (time <= time[j])).sum() >= 2  # someone else is at least as good


def test_paired_tests_by_seed_use_models_with_two_seeds_and_list_the_others():
    from workbench.metrics import paired_tests_by_seed

    results = {
        "a": {0: 0.90, 1: 0.92, 2: 0.91},
        "b": {0: 0.80, 1: 0.83, 2: 0.79},
        "c": {1: 0.70, 2: 0.72},
        "single": {0: 0.60},
        "other": {7: 0.5, 8: 0.6},
    }
    rows, one_seed, unpaired = paired_tests_by_seed(results)
    assert one_seed == ["single"]
    assert ("a", "other") in unpaired and ("c", "other") in unpaired
    by_pair = {(c.a, c.b): c for c in rows}
    assert set(by_pair) == {("a", "b"), ("a", "c"), ("b", "c")}
    t, p = stats.ttest_rel([0.92, 0.91], [0.70, 0.72])  # a against c over their shared seeds 1 and 2
    assert by_pair[("a", "c")].t == pytest.approx(t) and by_pair[("a", "c")].p == pytest.approx(p)
    assert [c.p_adjusted for c in rows] == pytest.approx(list(_bh([c.p for c in rows])))


def test_auroc_chance_p_is_the_one_sided_mann_whitney_test():
    from itertools import combinations

    from workbench.metrics import auroc_chance_p

    y = np.array([0, 0, 0, 0, 1, 1, 1])
    s = np.array([0.1, 0.5, 0.3, 0.7, 0.6, 0.9, 0.4])

    # exact permutation p: the share of label arrangements whose U is at least the observed one
    def u(pos):
        return sum((s[i] > s[j]) for i in pos for j in range(7) if j not in pos)

    observed = u(tuple(np.flatnonzero(y)))
    perms = [u(c) for c in combinations(range(7), 3)]
    assert auroc_chance_p(y, s) == pytest.approx(np.mean([x >= observed for x in perms]))
    assert auroc_chance_p(y, -s) > 0.5
    with pytest.raises(ValueError, match="defective and normal"):
        auroc_chance_p([0, 0], [0.1, 0.2])
