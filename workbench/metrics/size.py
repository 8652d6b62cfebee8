"""Size-aware misses (seed 000, eqs. 14-15): missed defective images binned by defect-area tertile per view.

A defective image's size is its ``area_ratio`` = defect pixels / (H x W). Per view, the bin edges are the
0.333 and 0.667 empirical quantiles of the area ratios of that view's defective images; an image is
*small* if ratio <= b1, *medium* if b1 < ratio <= b2, *large* otherwise. Pass the edges computed once
(``size_tertiles``) to every model's ``size_aware_misses`` so the bins stay fixed across models.
Images without any defect pixel are normal: they have no size and cannot be missed, so they are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from workbench.metrics._inputs import MapsLike, as_map_list

BINS = ("small", "medium", "large")


def area_ratios(masks: MapsLike) -> np.ndarray:
    """Return (N,) float64: the fraction of each mask's pixels that are defect (non-zero)."""
    return np.array([np.count_nonzero(m) / m.size if m.size else 0.0 for m in as_map_list(masks, "masks")])


def _check_views(views: Sequence[str], n: int) -> list[str]:
    v = [str(x) for x in views]
    if len(v) != n:
        raise ValueError(f"views: expected one view name per mask ({n}), found {len(v)}")
    return v


def size_tertiles(masks: MapsLike, views: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Return {view: (b1, b2)}, the 0.333/0.667 quantiles of the defect-area ratios of each view.

    Views without a defective image get no entry.
    """
    ratios = area_ratios(masks)
    v = _check_views(views, ratios.size)
    out = {}
    for name in dict.fromkeys(v):
        r = ratios[(np.array(v) == name) & (ratios > 0)]
        if r.size:
            b1, b2 = np.quantile(r, [0.333, 0.667])
            out[name] = (float(b1), float(b2))
    return out


def size_aware_misses(
    y_true: MapsLike,
    y_pred,
    views: Sequence[str],
    edges: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, dict[str, dict[str, int]]]:
    """Return {view: {bin: {"missed": FN, "total": defective images}}} for bins small/medium/large.

    ``y_true`` are the GT masks (N, H, W) or a list of (H, W); ``y_pred`` (N,) bool is each image's
    verdict (scikit-learn's order); ``views`` (N,) the view names. ``edges`` default to this set's own tertiles; a view absent
    from ``edges`` raises ValueError (its bins would not be comparable).
    """
    ratios = area_ratios(y_true)
    n = ratios.size
    v = np.array(_check_views(views, n))
    det = np.asarray(y_pred)
    if det.shape != (n,):
        raise ValueError(f"y_pred (verdicts): expected shape ({n},) to match the masks, found {det.shape}")
    det = det.astype(bool)
    if edges is None:
        edges = size_tertiles(y_true, list(v))
    out: dict[str, dict[str, dict[str, int]]] = {}
    for name in dict.fromkeys(v.tolist()):
        sel = (v == name) & (ratios > 0)
        if not sel.any():
            continue
        if name not in edges:
            raise ValueError(f"edges: expected bin edges for view {name!r}, found only {sorted(edges)}")
        b1, b2 = edges[name]
        r, d = ratios[sel], det[sel]
        which = np.where(r <= b1, 0, np.where(r <= b2, 1, 2))
        out[name] = {
            label: {"missed": int(np.sum((which == k) & ~d)), "total": int(np.sum(which == k))}
            for k, label in enumerate(BINS)
        }
    return out


def size_class_pixels(
    m: np.ndarray, thresholds: Mapping[str, float], edges: Sequence[float], roi: np.ndarray | None = None
) -> np.ndarray:
    """(H, W) bool: the pixels a per-size-class rule flags in map ``m`` (H, W).

    For each class c (small, medium, large) the 8-connected regions of ``m >= thresholds[c]`` (inside
    ``roi``) whose area, as a share of the image (seed 000, eq. 14), falls in c's bin of ``edges`` =
    (b1, b2) (small <= b1 < medium <= b2 < large, eq. 15) are flagged: a small region must reach the
    small threshold, a large one the large threshold.
    """
    import cv2

    b1, b2 = float(edges[0]), float(edges[1])
    total = float(m.size)
    inside = None if roi is None else np.asarray(roi, bool)
    out = np.zeros(m.shape, bool)
    for c in BINS:
        if c not in thresholds:
            continue
        f = m >= float(thresholds[c])
        if inside is not None:
            f &= inside
        if not f.any():
            continue
        count, comp, stats, _ = cv2.connectedComponentsWithStats(f.astype(np.uint8), connectivity=8)
        ratio = stats[1:, cv2.CC_STAT_AREA] / total
        if c == "small":
            keep = ratio <= b1
        elif c == "medium":
            keep = (ratio > b1) & (ratio <= b2)
        else:
            keep = ratio > b2
        out |= np.r_[False, keep][comp]
    return out
