"""Image-level metrics on labels (N,) (1 = defective) and scores (N,): AUROC, AP, F1-max, recall at precision.

Arguments come in scikit-learn's order and names: ``(y_true, y_score)``.

A sample is flagged defective when ``score >= threshold``. Every function raises ValueError on NaN scores
or mismatched shapes and :class:`UndefinedMetricError` (a ValueError) where the metric has no value, e.g.
AUROC without a defective or without a normal sample; none returns NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.metrics._inputs import UndefinedMetricError, check_scores
from workbench.metrics.recount import Counts, Recount


@dataclass(frozen=True)
class OperatingPoint:
    """A metric's best value, the threshold that reaches it (flag ``score >= threshold``) and the counts."""

    value: float
    threshold: float
    counts: Counts

    def as_dict(self) -> dict:
        return {"value": self.value, "threshold": self.threshold, **self.counts.as_dict()}


def _require(rc: Recount, metric: str, unit: str, pos: bool = True, neg: bool = True) -> None:
    total = rc.n_pos + rc.n_neg
    if pos and rc.n_pos == 0:
        raise UndefinedMetricError(f"{metric} is undefined: no defective {unit} among {total}")
    if neg and rc.n_neg == 0:
        raise UndefinedMetricError(f"{metric} is undefined: no normal {unit} among {total}")


def auroc_sorted(rc: Recount, unit: str = "samples") -> float:
    """AUROC from a built :class:`Recount` (the Mann-Whitney statistic; ties count one half)."""
    _require(rc, "AUROC", unit)
    below = np.searchsorted(rc.neg, rc.pos, side="left").astype(np.int64)
    below_or_tied = np.searchsorted(rc.neg, rc.pos, side="right").astype(np.int64)
    # Integer sums keep the statistic exact before the one division.
    u2 = int(below.sum()) + int(below_or_tied.sum())
    return u2 / (2.0 * rc.n_pos * rc.n_neg)


def _positive_steps(rc: Recount) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct defective scores, descending, with TP, FP at each and the number of defectives tied there.

    Recall only changes at a defective score, so these are the only thresholds where F1, IoU, AP and
    recall-at-precision can improve.
    """
    values, tied = np.unique(rc.pos, return_counts=True)
    values, tied = values[::-1], tied[::-1]
    tp = rc.n_pos - np.searchsorted(rc.pos, values, side="left").astype(np.int64)
    fp = rc.n_neg - np.searchsorted(rc.neg, values, side="left").astype(np.int64)
    return values, tp, fp, tied.astype(np.int64)


def average_precision_sorted(rc: Recount, unit: str = "samples") -> float:
    """Average precision (sum over thresholds of recall step x precision, as scikit-learn) from a Recount."""
    _require(rc, "average precision", unit, neg=False)
    _, tp, fp, tied = _positive_steps(rc)
    return float(np.sum(tied / rc.n_pos * (tp / (tp + fp))))


def _above_all(rc: Recount) -> float:
    """A threshold just above every score: nothing is flagged."""
    top = max(rc.pos[-1] if rc.n_pos else -np.inf, rc.neg[-1] if rc.n_neg else -np.inf)
    return float(np.nextafter(top, np.inf)) if np.isfinite(top) else float(np.inf)


def best_ratio_sorted(rc: Recount, metric: str, unit: str = "samples") -> OperatingPoint:
    """F1-max (``metric='f1'``) or IoU-max (``metric='iou'``) over all thresholds, from a Recount.

    Ties go to the highest threshold (fewest flags). Undefined without a defective entry.
    """
    _require(rc, metric.upper() + "-max", unit, neg=False)
    values, tp, fp, _ = _positive_steps(rc)
    fn = rc.n_pos - tp
    if metric == "f1":
        ratio = 2 * tp / (2 * tp + fp + fn)
    elif metric == "iou":
        ratio = tp / (tp + fp + fn)
    else:
        raise ValueError(f"metric: expected 'f1' or 'iou', found {metric!r}")
    i = int(np.argmax(ratio))
    return OperatingPoint(float(ratio[i]), float(values[i]), rc.counts(values[i]))


def recall_at_precision_sorted(rc: Recount, min_precision: float, unit: str = "samples") -> OperatingPoint:
    """Highest recall whose precision is >= ``min_precision`` (seed 002's Recall at Pr=x), from a Recount.

    Ties go to the highest threshold. When no threshold reaches the precision, the value is 0.0 and the
    threshold lies above every score (nothing flagged), as in the seed's max over thresholds.
    """
    if not 0.0 < min_precision <= 1.0:
        raise ValueError(f"min_precision: expected a value in (0, 1], found {min_precision}")
    _require(rc, "recall at precision", unit, neg=False)
    values, tp, fp, _ = _positive_steps(rc)
    # A relative tolerance so that e.g. 249/250 passes 0.996 despite rounding.
    ok = tp >= min_precision * (tp + fp) * (1 - 1e-12)
    if not ok.any():
        t = _above_all(rc)
        return OperatingPoint(0.0, t, rc.counts(t))
    recall = np.where(ok, tp, -1)
    i = int(np.argmax(recall))
    return OperatingPoint(float(tp[i] / rc.n_pos), float(values[i]), rc.counts(values[i]))


def auroc(y_true, y_score) -> float:
    """Return the image AUROC of scores ``y_score`` (N,) against labels ``y_true`` (N,) bool/0-1 (1 = defective)."""
    return auroc_sorted(Recount(y_true, y_score))


def average_precision(y_true, y_score) -> float:
    """Return the image average precision (AU-PR as scikit-learn computes it); needs >= 1 defective."""
    return average_precision_sorted(Recount(y_true, y_score))


def f1_max(y_true, y_score) -> OperatingPoint:
    """Return the best F1 over all thresholds and the threshold reaching it (flag ``score >= threshold``)."""
    return best_ratio_sorted(Recount(y_true, y_score), "f1")


def recall_at_precision(y_true, y_score, min_precision: float = 0.996) -> OperatingPoint:
    """Return the highest recall with precision >= ``min_precision`` and its threshold (seed 002)."""
    return recall_at_precision_sorted(Recount(y_true, y_score), min_precision)


def confusion_at(y_true, y_score, threshold: float) -> Counts:
    """Return TP/FP/TN/FN with ``score >= threshold`` flagged; rates on it have documented zero cases."""
    return Recount(y_true, y_score).counts(threshold)


def precision_recall_f1(y_true, y_score, threshold: float) -> tuple[float, float, float]:
    """Return (precision, recall, F1) at ``threshold``.

    Precision is 0.0 when nothing is flagged (scikit-learn's zero_division=0); recall and F1 are
    undefined (UndefinedMetricError) without a defective sample.
    """
    rc = Recount(y_true, y_score)
    _require(rc, "recall", "samples", neg=False)
    c = rc.counts(threshold)
    return c.precision, c.recall, c.f1


def fp_share(fp: int, fn: int) -> float:
    """Return FP / (FP + FN), the false-alarm share of all errors (seed 000, eq. 13).

    Undefined (UndefinedMetricError) when there is no error at all; negative counts raise ValueError.
    """
    if fp < 0 or fn < 0:
        raise ValueError(f"fp_share: expected non-negative counts, found fp={fp}, fn={fn}")
    if fp + fn == 0:
        raise UndefinedMetricError("FP share is undefined: no false positive and no false negative")
    return fp / (fp + fn)


def threshold_at_fpr(normal_scores, max_fpr: float) -> float:
    """Return the lowest threshold whose false-alarm rate on ``normal_scores`` (N,) is <= ``max_fpr``.

    At most ``floor(max_fpr * N)`` normal scores are >= the returned threshold. It lies halfway between
    the highest normal score left unflagged and the next distinct score above, rounded to the scores'
    dtype so that comparing in float32 or float64 flags the same samples; when no false alarm is
    allowed, 1e-3 of the scores' spread above the highest. Raises ValueError on an empty array or
    ``max_fpr`` outside [0, 1].
    """
    s = check_scores(normal_scores, "normal_scores")
    if s.size == 0:
        raise ValueError("normal_scores: expected at least one normal score, found none")
    if not 0.0 <= max_fpr <= 1.0:
        raise ValueError(f"max_fpr: expected a value in [0, 1], found {max_fpr}")
    a = np.sort(s)
    n = a.size
    # The epsilon keeps 1 - 0.9 = 0.0999... from losing one allowed false alarm out of 100.
    k = int(np.floor(max_fpr * n + 1e-9))
    if k >= n:
        return float(a[0])
    lo = a[n - 1 - k]
    j = int(np.searchsorted(a, lo, side="right"))
    if j >= n:
        # Above every normal by a margin (1e-3 of their spread, the export's parity tolerance), not by one
        # ulp: float noise between machines or runtimes must not flag the highest normal.
        step = a.dtype.type(1e-3) * max(a[-1] - a[0], abs(lo))
        above = a.dtype.type(lo + step)
        return float(above if above > lo else np.nextafter(lo, a.dtype.type(np.inf)))
    hi = a[j]
    mid = lo + (hi - lo) / a.dtype.type(2)
    return float(mid if mid > lo else hi)


def threshold_at_tnr(normal_scores, tnr: float) -> float:
    """Return the threshold keeping at least a ``tnr`` fraction of ``normal_scores`` unflagged (seed 003)."""
    if not 0.0 <= tnr <= 1.0:
        raise ValueError(f"tnr: expected a value in [0, 1], found {tnr}")
    return threshold_at_fpr(normal_scores, 1.0 - tnr)


def rates_at_tnr(y_true, y_score, normal_scores, tnrs=(0.99, 0.95, 0.90)) -> list[dict]:
    """Return FPR and FNR on a test set (``y_true``, ``y_score``) at thresholds from ``normal_scores`` at each TNR.

    Seed 003's protocol: thresholds come from defect-free images only, then test FPR = FP/(FP+TN) and
    FNR = FN/(FN+TP). Each entry: {"tnr", "threshold", "fpr", "fnr", "tp", "fp", "tn", "fn"}. FPR is
    undefined without a normal test sample, FNR without a defective one (UndefinedMetricError).
    """
    rc = Recount(y_true, y_score)
    _require(rc, "FPR/FNR", "test samples")
    out = []
    for tnr in tnrs:
        t = threshold_at_tnr(normal_scores, tnr)
        c = rc.counts(t)
        out.append({"tnr": float(tnr), "threshold": t, "fpr": c.fpr, "fnr": c.fnr, **c.as_dict()})
    return out
