"""Statistics for comparing runs: mean +- std over seeds, paired t-tests with Benjamini-Hochberg, Welch
t-tests, and knee-point model selection on the accuracy / inference-time Pareto front.

Tests come from scipy (``ttest_rel``, ``ttest_ind(equal_var=False)``, ``false_discovery_control``).
Degenerate inputs get defined values, never NaN: when all paired differences are equal (or both Welch
groups are constant), the t statistic is 0 and p = 1 if the means are equal, and t = +-inf and p = 0 if
they differ. Fewer than 2 values per group, NaN or mismatched lengths raise ValueError.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class MeanStd:
    """Mean and sample standard deviation (ddof=1) of a metric over n runs; std is 0.0 when n == 1."""

    mean: float
    std: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.4g} ± {self.std:.2g}"


@dataclass(frozen=True)
class Comparison:
    """One comparison: ``a`` against ``b``, mean difference a - b, t statistic, p-value, BH-adjusted p."""

    a: str
    b: str
    mean_diff: float
    t: float
    p: float
    p_adjusted: float
    significant: bool


def _values(x, what: str, min_n: int = 1) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1 or arr.size < min_n:
        raise ValueError(f"{what}: expected a 1-D list of at least {min_n} values, found shape {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{what}: expected no NaN, found {int(np.isnan(arr).sum())}")
    return arr


def mean_std(values: Sequence[float]) -> MeanStd:
    """Return the mean +- sample std of a metric over runs (e.g. N seeds); n = 1 gives std 0.0."""
    v = _values(values, "values")
    return MeanStd(float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0, int(v.size))


def _degenerate(diff_mean: float) -> tuple[float, float]:
    if diff_mean == 0:
        return 0.0, 1.0
    return float(np.copysign(np.inf, diff_mean)), 0.0


def paired_t(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Return (t, p) of a two-sided paired t-test of a against b (the same seeds, in the same order)."""
    x, y = _values(a, "a", 2), _values(b, "b", 2)
    if x.size != y.size:
        raise ValueError(
            f"paired t-test: expected equal lengths (one value per seed), found {x.size} and {y.size}"
        )
    d = x - y
    if np.all(d == d[0]):
        return _degenerate(float(d[0]))
    with warnings.catch_warnings():  # near-constant differences: scipy warns, the result is still right
        warnings.simplefilter("ignore", RuntimeWarning)
        r = stats.ttest_rel(x, y)
    return float(r.statistic), float(r.pvalue)


def welch_t(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Return (t, p) of a two-sided Welch t-test (unequal variances), as seed 003 uses over 8 runs."""
    x, y = _values(a, "a", 2), _values(b, "b", 2)
    if np.all(x == x[0]) and np.all(y == y[0]):
        return _degenerate(float(x[0] - y[0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        r = stats.ttest_ind(x, y, equal_var=False)
    return float(r.statistic), float(r.pvalue)


def _adjust(pairs: list[tuple[str, str, float, float, float]], alpha: float) -> list[Comparison]:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha: expected a value in (0, 1), found {alpha}")
    if not pairs:
        return []
    p_adj = stats.false_discovery_control([p for *_, p in pairs], method="bh")
    return [
        Comparison(a, b, md, t, p, float(q), bool(q < alpha))
        for (a, b, md, t, p), q in zip(pairs, np.atleast_1d(p_adj))
    ]


def paired_tests(results: Mapping[str, Sequence[float]], alpha: float = 0.05) -> list[Comparison]:
    """Return paired t-tests between every two models, Benjamini-Hochberg corrected (seed 000).

    ``results`` maps model name -> one metric value per seed (same seeds, same order for every model).
    ``significant`` means BH-adjusted p < ``alpha``.
    """
    pairs = []
    for a, b in itertools.combinations(results, 2):
        t, p = paired_t(results[a], results[b])
        pairs.append((a, b, float(np.mean(results[a]) - np.mean(results[b])), t, p))
    return _adjust(pairs, alpha)


def welch_tests(results: Mapping[str, Sequence[float]], alpha: float = 0.05) -> list[Comparison]:
    """Return Welch t-tests between every two models, Benjamini-Hochberg corrected."""
    pairs = []
    for a, b in itertools.combinations(results, 2):
        t, p = welch_t(results[a], results[b])
        pairs.append((a, b, float(np.mean(results[a]) - np.mean(results[b])), t, p))
    return _adjust(pairs, alpha)


def paired_tests_by_seed(
    results: Mapping[str, Mapping[int, float]], alpha: float = 0.05, min_seeds: int = 2
) -> tuple[list[Comparison], list[str], list[tuple[str, str]]]:
    """Paired t-tests between every two models that each have >= ``min_seeds`` seeds, over the seeds
    the two share, Benjamini-Hochberg corrected over the pairs tested.

    ``results`` maps model -> {seed: value}. Returns (comparisons, models with fewer seeds ("one
    seed"), pairs of eligible models sharing fewer than ``min_seeds`` seeds).
    """
    eligible = [m for m, v in results.items() if len(v) >= min_seeds]
    few = [m for m in results if m not in eligible]
    pairs, unpaired = [], []
    for a, b in itertools.combinations(eligible, 2):
        shared = sorted(set(results[a]) & set(results[b]))
        if len(shared) < min_seeds:
            unpaired.append((a, b))
            continue
        x = [results[a][s] for s in shared]
        y = [results[b][s] for s in shared]
        t, p = paired_t(x, y)
        pairs.append((a, b, float(np.mean(x) - np.mean(y)), t, p))
    return _adjust(pairs, alpha), few, unpaired


def auroc_chance_p(y_true, y_score) -> float:
    """One-sided p-value that the AUROC of ``y_score`` against ``y_true`` is above 0.5 (chance).

    The Mann-Whitney U test of defective > normal scores (scipy ``mannwhitneyu``, alternative
    'greater'; exact for small samples without ties, else the normal approximation with tie correction).
    Raises ValueError without a defective or a normal sample.
    """
    y = np.asarray(y_true).astype(bool)
    s = _values(y_score, "y_score")
    if y.shape != s.shape:
        raise ValueError(f"expected one label per score, found {y.shape} labels and {s.shape} scores")
    if not y.any() or y.all():
        raise ValueError("the chance test needs defective and normal samples")
    return float(stats.mannwhitneyu(s[y], s[~y], alternative="greater").pvalue)


def best_models(
    results: Mapping[str, Sequence[float]], alpha: float = 0.05, higher_is_better: bool = True
) -> list[str]:
    """Return the model with the best mean and every model a Welch test cannot tell from it (seed 003).

    Tests are uncorrected at level ``alpha``, as the seed's tables mark them.
    """
    if not results:
        raise ValueError("results: expected at least one model, found none")
    sign = 1.0 if higher_is_better else -1.0
    means = {k: sign * float(np.mean(_values(v, k))) for k, v in results.items()}
    best = max(means, key=means.__getitem__)
    out = [best]
    for name in results:
        if name != best and welch_t(results[best], results[name])[1] >= alpha:
            out.append(name)
    return out


def pareto_front(accuracy: Sequence[float], time: Sequence[float]) -> np.ndarray:
    """Return the indices of runs no other run beats (higher accuracy and lower time), by ascending time.

    A run is dominated when another is at least as good on both and strictly better on one.
    """
    a, t = _values(accuracy, "accuracy"), _values(time, "time")
    if a.size != t.size:
        raise ValueError(f"expected one time per accuracy, found {a.size} accuracies and {t.size} times")
    order = np.lexsort((-a, t))  # by time, then best accuracy first among equal times
    front, best = [], -np.inf
    for i in order:
        if a[i] > best:
            front.append(int(i))
            best = a[i]
    return np.array(front, dtype=np.int64)


def knee_point(accuracy: Sequence[float], time: Sequence[float]) -> int:
    """Return the index of the knee run: the balanced, "no preference" choice of seed 001.

    On the Pareto front, with accuracy and time each scaled to [0, 1] over the front, the knee is the
    run farthest above the straight line joining the fastest and the most accurate runs (largest
    scaled accuracy minus scaled time). Ties, and fronts of two runs where both lie on that line, go to
    the run nearest the ideal corner (time 0, accuracy 1), then to the faster one.
    """
    a, t = _values(accuracy, "accuracy"), _values(time, "time")
    front = pareto_front(a, t)
    if front.size == 1:
        return int(front[0])
    fa, ft = a[front], t[front]
    sa = (fa - fa.min()) / (fa.max() - fa.min())
    st = (ft - ft.min()) / (ft.max() - ft.min())
    gap = sa - st
    ideal = np.hypot(st, 1 - sa)
    best = np.lexsort((ft, ideal, -np.round(gap, 12)))[0]
    return int(front[best])
