"""Fit thresholds per defect size class (seed 000's "size-dependent threshold tuning") on validation maps.

A size-class policy flags a region when it reaches the threshold of its own size class (small, medium,
large: seed 000's per-view tertiles of the defect area, eqs. 14-15). Per view and class the threshold is
chosen among candidate values of the validation maps:

* ``"false_alarm_rate"`` (``max_fpr``): the lowest threshold at which at most ``max_fpr / 3`` of the
  normal samples show a region of that class, so that the three rules together stay within ``max_fpr``
  (union bound);
* ``"f1"``: the best F1 of "shows a region of that class" over the defects of that class (by the area of
  their GT mask) against the normal samples;
* ``"precision"`` (``min_precision``): the highest recall of that class's defects at that precision.

Ties go to the higher threshold. A class without a validation defect (f1, precision) keeps the largest
threshold fitted for another class and is listed in ``params["not_fitted"]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from workbench.metrics._inputs import UndefinedMetricError, as_map_list
from workbench.metrics.policy import ThresholdPolicy
from workbench.metrics.size import BINS, area_ratios, size_class_pixels, size_tertiles

SOURCES = ("false_alarm_rate", "f1", "precision")


def _candidates(maps: list[np.ndarray], roi: np.ndarray | None, n: int) -> np.ndarray:
    """Candidate thresholds: quantiles of the upper half of the ROI pixels, plus above the maximum."""
    px = np.concatenate([(m if roi is None else m[roi]).ravel() for m in maps]).astype(np.float64)
    qs = np.quantile(px, np.linspace(0.5, 1.0, n))
    top = float(px.max())
    return np.unique(np.r_[qs, np.nextafter(top, np.inf)])


def _shows(maps, roi, edges, cls: str, t: float) -> np.ndarray:
    """(N,) bool: each map has a region of class ``cls`` at threshold ``t``."""
    return np.array([size_class_pixels(m, {cls: t}, edges, roi).any() for m in maps])


def _pick(source: str, shows: np.ndarray, pos: np.ndarray, neg: np.ndarray, ts: np.ndarray, params) -> float:
    """The threshold among ``ts`` (ascending) for one class; ``shows`` (T, N) bool."""
    if source == "false_alarm_rate":
        fpr = shows[:, neg].mean(axis=1) if neg.any() else np.zeros(len(ts))
        ok = np.flatnonzero(fpr <= float(params["max_fpr"]) / len(BINS) + 1e-12)
        return float(ts[ok[0]]) if ok.size else float(ts[-1])
    if not pos.any():
        raise UndefinedMetricError("no validation defect of this size class")
    tp = shows[:, pos].sum(axis=1)
    fp = shows[:, neg].sum(axis=1)
    fn = pos.sum() - tp
    if source == "f1":
        score = np.where(tp > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
    else:
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 0.0)
        score = np.where(precision >= float(params["min_precision"]) - 1e-12, tp / pos.sum(), -1.0)
    best = np.flatnonzero(score == score.max())
    return float(ts[best[-1]])  # the highest of the tied thresholds


def fit_size_policy(
    source: str,
    maps,
    masks,
    views: Sequence[str],
    roi: Mapping[str, np.ndarray] | None = None,
    edges: Mapping[str, tuple[float, float]] | None = None,
    candidates: int = 48,
    **params: Any,
) -> ThresholdPolicy:
    """A pixel-level policy with thresholds per view and defect size class, fitted on validation data.

    ``maps`` (N, H, W) or a list, ``masks`` the GT masks (empty for normals), ``views`` (N,) names,
    ``roi`` {view: (H, W)}; ``edges`` {view: (b1, b2)} default to the tertiles of the view's
    validation defects (a view without one needs them given). ``source`` as the module says.
    """
    if source not in SOURCES:
        raise ValueError(f"size-class policy source: expected one of {', '.join(SOURCES)}, found {source!r}")
    need = {"false_alarm_rate": "max_fpr", "precision": "min_precision"}.get(source)
    if need and need not in params:
        raise ValueError(f"source {source!r} needs the parameter {need}=")
    m_list = as_map_list(maps)
    g_list = [np.asarray(g) > 0 for g in as_map_list(masks, "masks")]
    v = np.array([str(x) for x in views])
    if len(g_list) != len(m_list) or v.shape != (len(m_list),):
        raise ValueError(f"expected one mask and one view per map ({len(m_list)})")
    ratios = area_ratios(g_list)
    bad = ratios > 0
    own_edges = size_tertiles([g for g, b in zip(g_list, bad) if b], [x for x, b in zip(v, bad) if b])
    edges = {**own_edges, **(edges or {})}
    per_size: dict[str, dict[str, float]] = {}
    not_fitted: list[str] = []
    for name in dict.fromkeys(v.tolist()):
        if name not in edges:
            raise ValueError(
                f"view {name!r} has no validation defect to set its size classes from; give its edges"
            )
        idx = np.flatnonzero(v == name)
        r = None if roi is None or name not in roi else np.asarray(roi[name], bool)
        vm = [m_list[i] for i in idx]
        ts = _candidates(vm, r, candidates)
        b1, b2 = edges[name]
        cls_of = np.where(ratios[idx] <= b1, 0, np.where(ratios[idx] <= b2, 1, 2))
        neg = ~bad[idx]
        out: dict[str, float] = {}
        for k, cls in enumerate(BINS):
            shows = np.stack([_shows(vm, r, (b1, b2), cls, t) for t in ts])
            try:
                out[cls] = _pick(source, shows, bad[idx] & (cls_of == k), neg, ts, params)
            except UndefinedMetricError:
                not_fitted.append(f"{name}/{cls}")
        if not out:
            raise UndefinedMetricError(
                f"view {name!r}: no size class could be fitted on the validation split"
            )
        fallback = max(out.values())
        per_size[name] = {c: out.get(c, fallback) for c in BINS}
    extra = {"not_fitted": not_fitted} if not_fitted else {}
    return ThresholdPolicy(
        threshold=max(max(ts.values()) for ts in per_size.values()),
        level="pixel",
        source=source,
        params={**params, "kind": "size", **extra},
        per_size=per_size,
        size_edges={k: [float(e) for e in edges[k]] for k in per_size},
    )
