"""Live TP/FP/TN/FN at any threshold, from scores sorted once, for the threshold sliders.

A sample (or pixel) is flagged defective when its score is >= the threshold, everywhere in this package,
compared exactly (float16 maps are not compared in float16 as numpy does with a Python float).
Building sorts the defective and the normal scores apart (O(n log n) once); a count at a new threshold is
then two binary searches (O(log n)): microseconds for 100,000 image scores or 65 million pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.metrics._inputs import MapsLike, check_scores, check_scores_labels, collect_pixels


@dataclass(frozen=True)
class Counts:
    """Confusion counts at one threshold; rates with a zero denominator are 0.0 (documented per rate)."""

    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 0.0 when nothing is flagged (scikit-learn's zero_division=0)."""
        d = self.tp + self.fp
        return self.tp / d if d else 0.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN) (the TPR); 0.0 when there is no defective entry."""
        d = self.tp + self.fn
        return self.tp / d if d else 0.0

    @property
    def fpr(self) -> float:
        """FP / (FP + TN), the false-alarm rate; 0.0 when there is no normal entry."""
        d = self.fp + self.tn
        return self.fp / d if d else 0.0

    @property
    def fnr(self) -> float:
        """FN / (FN + TP), the miss rate; 0.0 when there is no defective entry."""
        d = self.fn + self.tp
        return self.fn / d if d else 0.0

    @property
    def f1(self) -> float:
        """2 TP / (2 TP + FP + FN); 0.0 when TP + FP + FN = 0."""
        d = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / d if d else 0.0

    @property
    def iou(self) -> float:
        """TP / (TP + FP + FN), the IoU of flagged and defective pixels; 0.0 when TP + FP + FN = 0."""
        d = self.tp + self.fp + self.fn
        return self.tp / d if d else 0.0

    def as_dict(self) -> dict[str, int]:
        return {"tp": self.tp, "fp": self.fp, "tn": self.tn, "fn": self.fn}


def ceil_to_dtype(threshold, dtype: np.dtype) -> np.ndarray:
    """Return the smallest value(s) of ``dtype`` >= ``threshold``, so ``s >= result`` iff ``s >= threshold``.

    Searching a float32 array for a float64 value would make numpy cast the whole array on every call
    (0.1 s for 50 million pixels); rounding the threshold up instead keeps the comparison exact.
    """
    t = np.asarray(threshold, dtype=np.float64)
    if np.isnan(t).any():
        raise ValueError("threshold: expected a number, found NaN")
    if not np.issubdtype(dtype, np.floating) or dtype == np.float64:
        return t
    c = t.astype(dtype)
    low = c.astype(np.float64) < t
    return np.where(low, np.nextafter(c, dtype.type(np.inf)), c).astype(dtype)


class Recount:
    """Counts at any threshold from scores (N,) and labels (N,) bool, both sorted once at construction.

    ``pos`` and ``neg`` hold the sorted (ascending) defective and normal scores; other metrics in this
    package reuse them.
    """

    def __init__(self, scores, labels) -> None:
        s, y = check_scores_labels(scores, labels)
        self.pos = np.sort(s[y])
        self.neg = np.sort(s[~y])

    @property
    def n_pos(self) -> int:
        return int(self.pos.size)

    @property
    def n_neg(self) -> int:
        return int(self.neg.size)

    def counts(self, threshold: float) -> Counts:
        """Return the counts with ``score >= threshold`` flagged defective."""
        t = ceil_to_dtype(threshold, self.pos.dtype)
        fn = int(np.searchsorted(self.pos, t, side="left"))
        tn = int(np.searchsorted(self.neg, t, side="left"))
        return Counts(tp=self.n_pos - fn, fp=self.n_neg - tn, tn=tn, fn=fn)

    def counts_many(self, thresholds) -> np.ndarray:
        """Return (T, 4) int64 [tp, fp, tn, fn] for each of T thresholds (e.g. a whole curve for a plot)."""
        t = ceil_to_dtype(np.asarray(thresholds, dtype=np.float64).ravel(), self.pos.dtype)
        fn = np.searchsorted(self.pos, t, side="left").astype(np.int64)
        tn = np.searchsorted(self.neg, t, side="left").astype(np.int64)
        return np.stack([self.n_pos - fn, self.n_neg - tn, tn, fn], axis=1)


class ScoreRecount(Recount):
    """Image-level recount that also lists the samples whose verdict changes between two thresholds."""

    def __init__(self, scores, labels) -> None:
        s, y = check_scores_labels(scores, labels)
        self.order = np.argsort(s, kind="stable")
        self.sorted_scores = s[self.order]
        ys = y[self.order]
        self.pos = self.sorted_scores[ys]
        self.neg = self.sorted_scores[~ys]

    def changed(self, old: float, new: float) -> np.ndarray:
        """Return the indices (ascending score) of samples flagged at one threshold and not at the other.

        Those are the samples with ``min(old, new) <= score < max(old, new)``; empty when old == new.
        """
        lo, hi = ceil_to_dtype([min(old, new), max(old, new)], self.sorted_scores.dtype)
        a = int(np.searchsorted(self.sorted_scores, lo, side="left"))
        b = int(np.searchsorted(self.sorted_scores, hi, side="left"))
        return self.order[a:b]


class PixelRecount(Recount):
    """Pixel-level recount over every pixel inside the ROI of maps (N, H, W) against masks (N, H, W)."""

    def __init__(self, maps: MapsLike, masks: MapsLike, roi=None) -> None:
        s, y = collect_pixels(maps, masks, roi)
        self.pos = np.sort(s[y])
        neg = s[~y]
        del s, y
        neg.sort()  # in place: the normal pixels are the bulk, a second copy would double peak memory
        self.neg = neg


def verdict_changes(scores, old: float, new: float) -> np.ndarray:
    """Return the indices of samples whose verdict differs between thresholds ``old`` and ``new``.

    A one-off helper; for a slider build a :class:`ScoreRecount` once and call ``changed``.
    """
    s = check_scores(scores).astype(np.float64, copy=False)
    lo, hi = float(min(old, new)), float(max(old, new))
    return np.flatnonzero((s >= lo) & (s < hi))
