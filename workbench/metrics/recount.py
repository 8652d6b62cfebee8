"""Live TP/FP/TN/FN at any threshold, from scores sorted once, for the threshold sliders.

A sample (or pixel) is flagged defective when its score is >= the threshold, everywhere in this package,
compared exactly (float16 maps are not compared in float16 as numpy does with a Python float).
Building sorts the defective and the normal scores apart (O(n log n) once); a count at a new threshold is
then two binary searches (O(log n)): microseconds for 100,000 image scores or 65 million pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.metrics._inputs import (
    MapsLike,
    as_map_list,
    check_labels,
    check_scores,
    check_scores_labels,
    collect_pixels,
)


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
    """Counts at any threshold from labels ``y_true`` (N,) bool and scores ``y_score`` (N,), sorted once.

    ``pos`` and ``neg`` hold the sorted (ascending) defective and normal scores; other metrics in this
    package reuse them.
    """

    def __init__(self, y_true, y_score) -> None:
        s, y = check_scores_labels(y_score, y_true)
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

    def __init__(self, y_true, y_score) -> None:
        s, y = check_scores_labels(y_score, y_true)
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
    """Pixel-level recount over every pixel inside the ROI of maps ``y_score`` (N, H, W) against masks
    ``y_true`` (N, H, W)."""

    def __init__(self, y_true: MapsLike, y_score: MapsLike, roi=None) -> None:
        s, y = collect_pixels(y_score, y_true, roi)
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


class ZoneRecount:
    """Sample verdicts under one threshold per zone, from each sample's highest map value per zone.

    This is what a pixel-level :class:`~workbench.metrics.ThresholdPolicy` without an area rule
    (``min_area`` <= 1) decides: a sample is defective when a pixel inside the ROI reaches the
    threshold of the zone holding it; ROI pixels outside every zone (labels 0 or above the number of
    names) use the view's threshold and form the last region, named ``""``, when there are any.
    ``y_true`` (N,) bool sample labels, ``y_score`` the maps (N, H, W), ``zones`` (H, W) int labels
    (k > 0 is ``zone_names[k - 1]``), ``roi`` (H, W) bool or None, ``masks`` (N, H, W) GT or None.

    Building reads every map once; a count is then a comparison of (N, R) peaks (sample verdicts) or
    two binary searches (one region's counts).
    """

    def __init__(
        self, y_true, y_score: MapsLike, zones: np.ndarray, zone_names, roi=None, masks=None
    ) -> None:
        m_list = as_map_list(y_score, "maps")
        self.labels = check_labels(y_true, len(m_list))
        names = [str(n) for n in zone_names]
        zones = np.asarray(zones)
        region = np.where((zones >= 1) & (zones <= len(names)), zones, 0).astype(np.int64) - 1
        region[region < 0] = len(names)  # outside every zone: the view's threshold
        inside = np.ones(zones.shape, bool) if roi is None else np.asarray(roi, bool)
        if inside.shape != zones.shape:
            raise ValueError(f"roi: expected the zones' shape {zones.shape}, found {inside.shape}")
        has_rest = bool((inside & (region == len(names))).any())
        self.regions = names + ([""] if has_rest else [])
        pixels = np.flatnonzero(inside.ravel())
        order = pixels[np.argsort(region.ravel()[pixels], kind="stable")]
        counts = np.bincount(region.ravel()[order], minlength=len(names) + 1)[: len(self.regions)]
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        present = counts > 0
        g_list = None if masks is None else as_map_list(masks, "masks")
        if g_list is not None and len(g_list) != len(m_list):
            raise ValueError(f"masks: expected one per map ({len(m_list)}), found {len(g_list)}")
        n, r = len(m_list), len(self.regions)
        self.peaks = np.full((n, r), -np.inf)
        self.in_region = np.zeros((n, r), bool)
        for i, m in enumerate(m_list):
            if m.shape != zones.shape:
                raise ValueError(f"map {i}: expected the zones' shape {zones.shape}, found {m.shape}")
            values = m.ravel()[order].astype(np.float64)
            if np.isnan(values).any():
                raise ValueError(f"map {i}: expected no NaN inside the ROI")
            if values.size:
                self.peaks[i, present] = np.maximum.reduceat(values, starts[present])
            if g_list is not None and self.labels[i]:
                gt = g_list[i].ravel()[order].astype(bool)
                if gt.size:
                    self.in_region[i, present] = np.logical_or.reduceat(gt, starts[present])
        self._recounts: dict[int, Recount] = {}

    def verdicts(self, thresholds) -> np.ndarray:
        """(N,) bool: some region's peak is >= its threshold (``thresholds`` one per region)."""
        t = np.asarray(thresholds, dtype=np.float64)
        if t.shape != (len(self.regions),):
            raise ValueError(f"thresholds: expected one per region {self.regions}, found {t.shape}")
        return (self.peaks >= t).any(axis=1)

    def counts(self, thresholds) -> Counts:
        """Sample-level counts of :meth:`verdicts` against the labels."""
        v, y = self.verdicts(thresholds), self.labels
        return Counts(int((v & y).sum()), int((v & ~y).sum()), int((~v & ~y).sum()), int((~v & y).sum()))

    def region_counts(self, k: int, threshold: float) -> Counts:
        """Counts in region ``k`` alone: its defects are the defective samples with GT pixels there,
        its normals the normal samples (defects elsewhere are left out)."""
        if k not in self._recounts:
            keep = ~self.labels | self.in_region[:, k]
            self._recounts[k] = Recount(self.in_region[keep, k], self.peaks[keep, k])
        return self._recounts[k].counts(threshold)

    def changed(self, thresholds, k: int, old: float) -> np.ndarray:
        """Indices of the samples whose verdict differs with region ``k`` at ``old`` instead of its
        value in ``thresholds``."""
        before = np.array(thresholds, dtype=np.float64)
        before[k] = old
        return np.flatnonzero(self.verdicts(before) != self.verdicts(thresholds))
