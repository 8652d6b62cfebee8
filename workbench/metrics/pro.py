"""AUPRO and AUsPRO: how much of every defect region is found, weighting regions equally, at low FPR.

Definitions (MVTec AD for AUPRO, MVTec LOCO / seed 003 for AUsPRO):

* regions A_i are the 8-connected components of every GT mask (inside the ROI), pooled over all images,
  or, where ``regions`` gives them (MVTec LOCO / AutoVI: one ground-truth image per defect, which may be
  disconnected, with the saturation of its defect type), exactly those regions;
* at threshold t, P = {pixels with map >= t}; FPR(t) = normal pixels in P / normal pixels (all images,
  inside the ROI; with ``fpr_on_good_only`` only the pixels of images without any defect, as LOCO does);
* sPRO(t) = mean_i min(1, |P n A_i| / s_i); PRO is sPRO with s_i = |A_i|;
* the area under (FPR, sPRO), from (0, 0) up to ``fpr_limit`` (the curve linearly interpolated there),
  divided by ``fpr_limit`` so that 1.0 is perfect.

Exact and fast: every pixel's contribution to sPRO is known once the pixels are sorted by score, so
the whole curve is one sort and a few cumulative sums (no loop over thresholds). Pixels whose score is
below the point where the FPR passes the limit cannot change the area, so only the rest are sorted.
Errors: ValueError on bad shapes, NaN or a limit outside (0, 1]; UndefinedMetricError without any
defect region or without a normal pixel.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from workbench.metrics._inputs import MapsLike, UndefinedMetricError, check_maps_masks

Regions = Sequence[Sequence[tuple[np.ndarray, float]] | None]


def component_regions(
    mask: np.ndarray, saturation: float, relative: bool = True
) -> list[tuple[np.ndarray, float]]:
    """[(region (H, W) bool, saturation in pixels)] of the 8-connected components of ``mask``.

    ``saturation`` is a fraction of each component's area (``relative``) or a pixel count capped at
    the area, as a defect type's entry of MVTec LOCO's defects_config says.
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8), connectivity=8)
    out = []
    for k in range(1, count):
        area = float(stats[k, cv2.CC_STAT_AREA])
        out.append((labels == k, float(saturation) * area if relative else min(float(saturation), area)))
    return out


def _explicit(m, gt_all, r, regions, dtype, offset) -> tuple[list, list, list, int]:
    """Scores, ids and saturations of an image's given regions (each cut to the ROI)."""
    scores, ids, sats = [], [], []
    for k, (region, sat) in enumerate(regions):
        region = np.asarray(region, bool)
        if region.shape != m.shape:
            raise ValueError(f"region {k}: expected the map's shape {m.shape}, found {region.shape}")
        if region.any() and not (region <= gt_all).all():
            raise ValueError(f"region {k}: expected inside the image's GT mask, found pixels outside it")
        inside = region if r is None else region & r
        area = int(inside.sum())
        if area == 0:
            continue
        if not sat > 0:
            raise ValueError(f"region {k}: expected a saturation > 0 pixels, found {sat}")
        scores.append(m[inside].astype(dtype, copy=False))
        ids.append(np.full(area, offset, np.int64))
        sats.append(np.array([min(float(sat), float(area))]))
        offset += 1
    return scores, ids, sats, offset


def _regions(
    maps: MapsLike, masks: MapsLike, roi, saturation, absolute: bool, fpr_on_good_only: bool, regions=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (region scores, region ids (0-based), saturation per region, normal-pixel scores)."""
    m_list, g_list, rois = check_maps_masks(maps, masks, roi)
    n = len(m_list)
    if regions is not None and len(regions) != n:
        raise ValueError(f"regions: expected one entry (or None) per map ({n}), found {len(regions)}")
    if np.ndim(saturation) == 0:
        sat_per_image = np.full(n, float(saturation))
    else:
        sat_per_image = np.asarray(saturation, dtype=np.float64)
        if sat_per_image.shape != (n,):
            raise ValueError(
                f"saturation: expected one value or {n} (one per map), found {sat_per_image.shape}"
            )
    if (sat_per_image <= 0).any() or (not absolute and (sat_per_image > 1).any()):
        expected = "> 0 pixels" if absolute else "fractions in (0, 1]"
        raise ValueError(f"saturation: expected {expected}, found {sat_per_image.tolist()[:5]}")
    dtype = np.result_type(np.float32, *[m.dtype for m in m_list])
    r_scores, r_ids, r_sat, neg = [], [], [], []
    offset = 0
    for i, (m, g, r, sat) in enumerate(zip(m_list, g_list, rois, sat_per_image)):
        gt = g if r is None else g & r
        keep_neg = ~g if r is None else ~g & r
        if not (fpr_on_good_only and g.any()):
            neg.append(m[keep_neg].astype(dtype, copy=False))
        if regions is not None and regions[i] is not None:
            sc, ids, sats, offset = _explicit(m, g, r, regions[i], dtype, offset)
            r_scores += sc
            r_ids += ids
            r_sat += sats
            continue
        if not gt.any():
            continue
        count, labels, stats, _ = cv2.connectedComponentsWithStats(gt.astype(np.uint8), connectivity=8)
        areas = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
        r_sat.append(np.minimum(sat, areas) if absolute else sat * areas)
        r_scores.append(m[gt].astype(dtype, copy=False))
        r_ids.append(labels[gt].astype(np.int64) - 1 + offset)
        offset += count - 1
    if offset == 0:
        raise UndefinedMetricError("AUPRO/AUsPRO is undefined: no defect region inside the ROI")
    neg_scores = np.concatenate(neg) if neg else np.empty(0, dtype)
    if neg_scores.size == 0:
        raise UndefinedMetricError("AUPRO/AUsPRO is undefined: no normal pixel to measure the FPR on")
    return np.concatenate(r_scores), np.concatenate(r_ids), np.concatenate(r_sat), neg_scores


def _curve(
    r_scores: np.ndarray, r_ids: np.ndarray, r_sat: np.ndarray, neg: np.ndarray, fpr_limit: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return (FPR, sPRO) at every distinct threshold down to the first one past ``fpr_limit``, from (0, 0)."""
    n_neg = neg.size
    k = int(np.floor(fpr_limit * n_neg + 1e-9))
    # Threshold at which at least k + 1 normal pixels are flagged: the FPR has passed the limit there.
    cut = -np.inf if k >= n_neg else np.partition(neg, n_neg - 1 - k)[n_neg - 1 - k]
    neg = neg[neg >= cut]
    keep = r_scores >= cut
    r_scores, r_ids = r_scores[keep], r_ids[keep]

    scores = np.concatenate([r_scores, neg])
    ids = np.concatenate([r_ids, np.full(neg.size, -1, np.int64)])
    order = np.argsort(-scores)  # order among tied pixels does not matter: only run ends are read
    scores, ids = scores[order], ids[order]

    # Rank of each region pixel within its own region, in descending score order.
    in_region = np.flatnonzero(ids >= 0)
    rid = ids[in_region]
    by_region = np.argsort(rid, kind="stable")
    grouped = rid[by_region]
    starts = np.r_[0, np.flatnonzero(np.diff(grouped)) + 1]
    run_len = np.diff(np.r_[starts, grouped.size])
    rank = np.arange(grouped.size) - np.repeat(starts, run_len) + 1
    sat = r_sat[grouped]
    gain = np.empty(in_region.size)
    # The k-th found pixel of a region adds (min(k, s) - min(k - 1, s)) / s to its overlap, capped at 1.
    gain[by_region] = (np.minimum(rank, sat) - np.minimum(rank - 1, sat)) / sat
    contrib = np.zeros(scores.size)
    contrib[in_region] = gain / r_sat.size

    last = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]  # last pixel of each distinct score
    fpr = np.cumsum(ids < 0)[last] / n_neg
    spro = np.cumsum(contrib)[last]
    return np.r_[0.0, fpr], np.r_[0.0, spro]


def _area(fpr: np.ndarray, y: np.ndarray, limit: float) -> float:
    """Trapezoidal area under y(fpr) from 0 to ``limit`` (interpolated there), divided by ``limit``."""
    inside = fpr <= limit
    x, v = fpr[inside], y[inside]
    if x[-1] < limit and inside.size > x.size:
        j = x.size  # first point past the limit
        x0, x1, y0, y1 = fpr[j - 1], fpr[j], y[j - 1], y[j]
        v_lim = y0 + (y1 - y0) * (limit - x0) / (x1 - x0)
        x, v = np.r_[x, limit], np.r_[v, v_lim]
    return float(np.trapezoid(v, x) / limit)


def _check_limit(fpr_limit: float) -> None:
    if not 0.0 < fpr_limit <= 1.0:
        raise ValueError(f"fpr_limit: expected a value in (0, 1], found {fpr_limit}")


def auspro(
    y_true: MapsLike,
    y_score: MapsLike,
    saturation: float | Sequence[float] = 1.0,
    fpr_limit: float = 0.05,
    roi=None,
    absolute: bool = False,
    fpr_on_good_only: bool = False,
    regions: Regions | None = None,
) -> float:
    """Return the normalized area under the saturated per-region overlap curve up to ``fpr_limit``.

    ``y_true`` are the GT masks, ``y_score`` the anomaly maps (scikit-learn's order).
    ``saturation`` is one value or one per map: with ``absolute=False`` a fraction of each region's
    area in (0, 1] (1.0 gives AUPRO); with ``absolute=True`` a pixel count, capped at the region's area
    (MVTec LOCO's absolute saturation thresholds). Seed 003 integrates up to an FPR of 0.05.
    ``regions`` (one entry per map) replaces an image's connected components by the given
    (region (H, W) bool, saturation in pixels) pairs where the entry is not None: per-defect-type
    saturations (see :func:`component_regions`) or LOCO's one region per ground-truth file.
    """
    _check_limit(fpr_limit)
    r_scores, r_ids, r_sat, neg = _regions(
        y_score, y_true, roi, saturation, absolute, fpr_on_good_only, regions
    )
    fpr, spro = _curve(r_scores, r_ids, r_sat, neg, fpr_limit)
    return _area(fpr, spro, fpr_limit)


def aupro(y_true: MapsLike, y_score: MapsLike, fpr_limit: float = 0.3, roi=None) -> float:
    """Return the MVTec AD AUPRO of maps ``y_score`` against masks ``y_true``: area under the per-region
    overlap curve up to ``fpr_limit``, over it."""
    return auspro(y_true, y_score, 1.0, fpr_limit, roi)


def pro_curve(
    y_true: MapsLike, y_score: MapsLike, fpr_limit: float = 1.0, roi=None
) -> tuple[np.ndarray, np.ndarray]:
    """Return (FPR, PRO) (K,) float64 of maps against masks at every distinct threshold until the FPR
    passes ``fpr_limit``."""
    _check_limit(fpr_limit)
    r_scores, r_ids, r_sat, neg = _regions(y_score, y_true, roi, 1.0, False, False)
    return _curve(r_scores, r_ids, r_sat, neg, fpr_limit)
