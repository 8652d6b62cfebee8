"""Threshold policies: how stored scores and maps become verdicts, saved as JSON apart from the model.

A :class:`ThresholdPolicy` holds a global threshold, per-view thresholds and, at pixel level, per-zone
thresholds and an area rule; ``source`` and ``params`` record where the values came from. ``fit_policy``
derives one from validation results; ``apply_policy`` turns scores (or maps) into verdicts without
running any model. A sample or pixel is defective when its value is >= its threshold.

Levels:

* ``"image"``: verdict = image score >= the view's threshold (zones and the area rule do not apply);
* ``"pixel"``: each map is thresholded pixel by pixel (zone threshold inside a zone, else the view's,
  else the global one); the sample is defective when an 8-connected component of flagged pixels is at
  least as large as the minimum area of the zone holding most of its pixels (``min_area`` outside zones).

Kinds: a pixel-level policy may instead hold thresholds per defect size class for a view (``per_size``
{view: {small, medium, large}} with ``size_edges`` {view: [b1, b2]} as shares of the image, seed 000's
tertiles): a flagged region counts when it reaches the threshold of its own size class (see
:func:`~workbench.metrics.size.size_class_pixels`); such a view uses neither zones nor the area rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from workbench.metrics._inputs import UndefinedMetricError, as_map_list, check_scores, check_scores_labels
from workbench.metrics.curves import best_ratio_sorted, recall_at_precision_sorted, threshold_at_fpr
from workbench.metrics.recount import Recount
from workbench.metrics.size import size_class_pixels

SOURCES = ("false_alarm_rate", "precision", "f1", "iou", "manual")
LEVELS = ("image", "pixel")
SCHEMA = 1

# view -> (zone label image (H, W) int, zone names): label k > 0 is zone_names[k - 1], as in ViewInfo.
Zones = Mapping[str, tuple[np.ndarray, Sequence[str]]]


@dataclass
class ThresholdPolicy:
    """Thresholds per scope, an area rule and their origin; ``to_dict``/``from_dict`` give plain JSON."""

    threshold: float
    level: str = "image"
    per_view: dict[str, float] = field(default_factory=dict)
    per_zone: dict[str, dict[str, float]] = field(default_factory=dict)  # view -> zone -> threshold
    min_area: int = 0  # pixels; 0 or 1 means any flagged pixel makes a defect
    min_area_per_zone: dict[str, dict[str, int]] = field(default_factory=dict)  # view -> zone -> pixels
    source: str = "manual"
    params: dict[str, Any] = field(default_factory=dict)
    per_size: dict[str, dict[str, float]] = field(default_factory=dict)  # view -> size class -> threshold
    size_edges: dict[str, list[float]] = field(default_factory=dict)  # view -> [b1, b2] area shares

    @property
    def kind(self) -> str:
        """'size' when some view has thresholds per defect size class, else 'threshold'."""
        return "size" if self.per_size else "threshold"

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"policy level: expected one of {LEVELS}, found {self.level!r}")
        if self.source not in SOURCES:
            raise ValueError(f"policy source: expected one of {SOURCES}, found {self.source!r}")
        values = [self.threshold, *self.per_view.values()]
        values += [v for z in self.per_zone.values() for v in z.values()]
        if not all(isinstance(v, int | float) and not math.isnan(v) for v in values):
            raise ValueError(f"policy thresholds: expected numbers (not NaN), found {values}")
        areas = [self.min_area, *(a for z in self.min_area_per_zone.values() for a in z.values())]
        if not all(isinstance(a, int | np.integer) and a >= 0 for a in areas):
            raise ValueError(f"policy areas: expected non-negative whole pixel counts, found {areas}")
        if self.level == "image" and (self.per_zone or self.min_area > 1 or self.min_area_per_zone):
            raise ValueError(
                "an image-level policy cannot hold zone thresholds or an area rule; use level='pixel'"
            )
        if self.per_size:
            if self.level != "pixel":
                raise ValueError("thresholds per defect size class need a pixel-level policy (level='pixel')")
            for view, ts in self.per_size.items():
                edges = self.size_edges.get(view)
                if not edges or len(edges) != 2 or not 0 <= edges[0] <= edges[1] <= 1:
                    raise ValueError(
                        f"size classes of view {view!r}: expected edges [b1, b2] in [0, 1], found {edges}"
                    )
                if not set(ts) <= {"small", "medium", "large"} or not ts:
                    raise ValueError(
                        f"size classes of view {view!r}: expected small/medium/large, found {sorted(ts)}"
                    )
                if not all(isinstance(v, int | float) and not math.isnan(v) for v in ts.values()):
                    raise ValueError(f"size-class thresholds of view {view!r}: expected numbers, found {ts}")

    def threshold_for(self, view: str | None, zone: str | None = None) -> float:
        """Return the threshold of a zone of a view, falling back to the view's, then the global one."""
        if zone is not None and zone in self.per_zone.get(view or "", {}):
            return float(self.per_zone[view][zone])
        return float(self.per_view.get(view, self.threshold)) if view is not None else float(self.threshold)

    def min_area_for(self, view: str | None, zone: str | None) -> int:
        """Return the minimum defect area (pixels) in a zone of a view, else the global ``min_area``."""
        if zone is not None and zone in self.min_area_per_zone.get(view or "", {}):
            return int(self.min_area_per_zone[view][zone])
        return int(self.min_area)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (plain floats, ints, strings) with a ``schema`` version (size-class
        keys only when the policy has them, so other policies read as before)."""
        out = {
            "schema": SCHEMA,
            "threshold": float(self.threshold),
            "level": self.level,
            "per_view": {k: float(v) for k, v in self.per_view.items()},
            "per_zone": {v: {z: float(t) for z, t in zs.items()} for v, zs in self.per_zone.items()},
            "min_area": int(self.min_area),
            "min_area_per_zone": {
                v: {z: int(a) for z, a in zs.items()} for v, zs in self.min_area_per_zone.items()
            },
            "source": self.source,
            "params": dict(self.params),
        }
        if self.per_size:
            out["per_size"] = {v: {c: float(t) for c, t in ts.items()} for v, ts in self.per_size.items()}
            out["size_edges"] = {v: [float(e) for e in es] for v, es in self.size_edges.items()}
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ThresholdPolicy:
        """Rebuild a policy from ``to_dict`` output; raises ValueError on an unknown schema or keys."""
        if d.get("schema") != SCHEMA:
            raise ValueError(f"threshold policy: expected schema {SCHEMA}, found {d.get('schema')!r}")
        known = {"schema", "threshold", "level", "per_view", "per_zone", "min_area", "min_area_per_zone"}
        known |= {"per_size", "size_edges"}
        unknown = set(d) - known - {"source", "params"}
        if unknown:
            raise ValueError(f"threshold policy: unexpected keys {sorted(unknown)}")
        return cls(
            threshold=float(d["threshold"]),
            level=d.get("level", "image"),
            per_view={k: float(v) for k, v in d.get("per_view", {}).items()},
            per_zone={v: {z: float(t) for z, t in zs.items()} for v, zs in d.get("per_zone", {}).items()},
            min_area=int(d.get("min_area", 0)),
            min_area_per_zone={
                v: {z: int(a) for z, a in zs.items()} for v, zs in d.get("min_area_per_zone", {}).items()
            },
            source=d.get("source", "manual"),
            params=dict(d.get("params", {})),
            per_size={v: {c: float(t) for c, t in ts.items()} for v, ts in d.get("per_size", {}).items()},
            size_edges={v: [float(e) for e in es] for v, es in d.get("size_edges", {}).items()},
        )


def _fit_value(source: str, scores: np.ndarray, labels: np.ndarray, params: Mapping[str, Any]) -> float:
    """One threshold from flat scores and labels with the given source."""
    if source == "false_alarm_rate":
        return threshold_at_fpr(scores[~labels], float(params["max_fpr"]))
    rc = Recount(labels, scores)
    if source == "precision":
        return recall_at_precision_sorted(rc, float(params["min_precision"])).threshold
    return best_ratio_sorted(rc, source).threshold


_REQUIRED = {"false_alarm_rate": "max_fpr", "precision": "min_precision"}


def _zone_pixels(maps, masks, idx, roi, zone_img, k):
    s, y = [], []
    for i in idx:
        sel = zone_img == k
        if roi is not None:
            sel = sel & roi
        s.append(maps[i][sel])
        y.append(masks[i][sel] if masks is not None else np.zeros(int(sel.sum()), bool))
    return np.concatenate(s), np.concatenate(y)


def fit_policy(
    source: str,
    *,
    scores=None,
    labels=None,
    views: Sequence[str] | None = None,
    maps=None,
    masks=None,
    roi: Mapping[str, np.ndarray] | None = None,
    zones: Zones | None = None,
    min_area: int = 0,
    min_area_per_zone: dict[str, dict[str, int]] | None = None,
    **params: Any,
) -> ThresholdPolicy:
    """Return a policy fitted on validation results: a global value, one per view, one per zone.

    ``source``: ``"false_alarm_rate"`` (``max_fpr=``: the lowest threshold whose false-alarm rate on
    the normal samples is <= max_fpr; labels may be omitted when all are normal),
    ``"precision"`` (``min_precision=``: highest recall at that precision), ``"f1"`` or ``"iou"``
    (the best value). Image level: pass ``scores`` (N,) and ``labels``. Pixel level: pass ``maps``
    (N, H, W) and ``masks`` (omit masks for normal-only data); ``roi`` and ``zones`` map view name to
    (H, W) arrays and need ``views``. The area rule is hand-set (``min_area``, ``min_area_per_zone``).
    A view or zone where the metric is undefined (e.g. F1 without a defect there, or a zone with no
    pixel) gets no value of its own and falls back to the wider threshold; such scopes are listed in
    ``params["not_fitted"]`` ("view" or "view/zone"). The global fit raises instead.
    """
    if source not in SOURCES or source == "manual":
        raise ValueError(
            f"source: expected one of {SOURCES[:-1]} (a manual policy needs no fit), found {source!r}"
        )
    if source in _REQUIRED and _REQUIRED[source] not in params:
        raise ValueError(f"source {source!r} needs the parameter {_REQUIRED[source]}=")
    pixel = maps is not None
    if pixel:
        m_list = as_map_list(maps)
        g_list = None if masks is None else [g.astype(bool) for g in as_map_list(masks, "masks")]
        if g_list is not None and [g.shape for g in g_list] != [m.shape for m in m_list]:
            raise ValueError("masks: expected one mask of each map's shape")
        n = len(m_list)
    else:
        if scores is None:
            raise ValueError("fit_policy: expected scores (image level) or maps (pixel level), found neither")
        s = check_scores(scores)
        y = np.zeros(s.size, bool) if labels is None else check_scores_labels(s, labels)[1]
        n = s.size
    v = None if views is None else np.array([str(x) for x in views])
    if v is not None and v.shape != (n,):
        raise ValueError(f"views: expected one view name per sample ({n}), found {v.shape}")
    if (zones or roi) and v is None:
        raise ValueError("zones and roi are given per view: pass views too")

    def flat(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not pixel:
            return s[idx], y[idx]
        ss, yy = [], []
        for i in idx:
            r = None if roi is None or v is None else roi.get(v[i])
            sel = np.ones(m_list[i].shape, bool) if r is None else r.astype(bool)
            ss.append(m_list[i][sel])
            yy.append(g_list[i][sel] if g_list is not None else np.zeros(int(sel.sum()), bool))
        return np.concatenate(ss), np.concatenate(yy)

    everything = np.arange(n)
    policy = ThresholdPolicy(
        threshold=_fit_value(source, *flat(everything), params),
        level="pixel" if pixel else "image",
        min_area=min_area,
        min_area_per_zone=dict(min_area_per_zone or {}),
        source=source,
        params=dict(params),
    )
    if v is None:
        return policy
    unfitted: list[str] = []
    for name in dict.fromkeys(v.tolist()):
        idx = np.flatnonzero(v == name)
        try:
            policy.per_view[name] = _fit_value(source, *flat(idx), params)
        except UndefinedMetricError:
            unfitted.append(name)
        if pixel and zones and name in zones:
            zone_img, zone_names = zones[name]
            r = None if roi is None or name not in roi else roi[name].astype(bool)
            for k, zname in enumerate(zone_names, start=1):
                zs, zy = _zone_pixels(m_list, g_list, idx, r, zone_img, k)
                try:
                    policy.per_zone.setdefault(name, {})[zname] = _fit_value(source, zs, zy, params)
                except (UndefinedMetricError, ValueError):
                    unfitted.append(f"{name}/{zname}")
        if not policy.per_zone.get(name, True):
            del policy.per_zone[name]
    if unfitted:
        # Kept in the JSON so the report can say which scopes fell back to the wider threshold.
        policy.params["not_fitted"] = unfitted
    return policy


VERDICT_DEFINITION = (
    "verdict: a sample is flagged defective when its image score reaches its view's threshold (image "
    "level), or when a region of anomaly-map pixels inside the ROI reaches the threshold of its zone and is "
    "at least as large as the area rule asks (pixel level); TP/FP/TN/FN count samples by verdict against "
    "their label, wherever in the image the flag is"
)
DETECTION_DEFINITION = (
    "detection: a defect is detected when its sample's verdict is defective and, at pixel level, one of the "
    "flagged regions touches the defect's ground-truth mask; a sample flagged only away from its defect is "
    "a TP verdict but a missed detection (at image level the two are the same)"
)


def flagged_pixels(
    policy: ThresholdPolicy, m: np.ndarray, view: str | None, zone=None, roi=None
) -> np.ndarray:
    """(H, W) bool: the pixels of map ``m`` a pixel-level policy flags, in regions that pass the area rule.

    ``zone`` is (zone labels (H, W), zone names) or None; ``roi`` (H, W) or None. The verdict of the
    sample is ``flagged_pixels(...).any()`` (see :data:`VERDICT_DEFINITION`). A view with size-class
    thresholds flags the regions that reach their own class's threshold.
    """
    if view in policy.per_size:
        return size_class_pixels(m, policy.per_size[view], policy.size_edges[view], roi)
    thr = np.full(m.shape, policy.threshold_for(view), dtype=np.float64)
    zone_img, zone_names = zone if zone is not None else (None, ())
    if zone_img is not None:
        if zone_img.shape != m.shape:
            raise ValueError(f"zones of view {view!r}: expected shape {m.shape}, found {zone_img.shape}")
        for k, zname in enumerate(zone_names, start=1):
            thr[zone_img == k] = policy.threshold_for(view, zname)
    flagged = m >= thr
    if roi is not None:
        flagged &= roi.astype(bool)
    areas = [policy.min_area_for(view, z) for z in zone_names] + [policy.min_area]
    if max(areas) <= 1:
        return flagged
    count, comp, stats, _ = cv2.connectedComponentsWithStats(flagged.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros(m.shape, bool)
    area = stats[1:, cv2.CC_STAT_AREA]
    if zone_img is None:
        need = np.full(count - 1, policy.min_area)
    else:
        nz = len(zone_names) + 1
        z = np.clip(zone_img.astype(np.int64), 0, nz - 1)
        hist = np.bincount(comp.ravel() * nz + z.ravel(), minlength=count * nz).reshape(count, nz)[1:]
        # Ties between zones go to the lowest label; label 0 (outside every zone) uses the global area.
        major = hist.argmax(axis=1)
        need = np.array([policy.min_area] + [policy.min_area_for(view, zn) for zn in zone_names])[major]
    keep = np.r_[False, area >= need]
    return keep[comp]


def _map_verdict(policy: ThresholdPolicy, m: np.ndarray, view: str | None, zone, roi) -> bool:
    return bool(flagged_pixels(policy, m, view, zone, roi).any())


def detected(
    policy: ThresholdPolicy,
    score: float,
    gt: np.ndarray | None,
    view: str | None,
    m=None,
    zone=None,
    roi=None,
) -> bool:
    """Whether one defect is detected (:data:`DETECTION_DEFINITION`): image level, its score reaches the
    view's threshold; pixel level, a flagged region of its map ``m`` touches its GT mask ``gt``."""
    if policy.level == "image":
        return bool(score >= policy.threshold_for(view))
    if m is None:
        raise ValueError("a pixel-level policy needs the anomaly map to decide a detection")
    if gt is None or gt.shape != m.shape:
        return False
    return bool((flagged_pixels(policy, m, view, zone, roi) & (gt > 0)).any())


def apply_policy(
    policy: ThresholdPolicy,
    scores,
    views: Sequence[str] | None = None,
    maps=None,
    zones: Zones | None = None,
    roi: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Return verdicts (N,) bool (True = defective) for stored scores (N,) or maps (N, H, W).

    An image-level policy uses ``scores`` only; a pixel-level policy needs ``maps`` and uses ``zones``
    ({view: (labels, names)}) and ``roi`` ({view: (H, W) mask}: flagged pixels outside never count).
    ``views`` None applies the global threshold to every sample.
    """
    s = check_scores(scores)
    n = s.size
    v = [None] * n if views is None else [str(x) for x in views]
    if len(v) != n:
        raise ValueError(f"views: expected one view name per score ({n}), found {len(v)}")
    if policy.level == "image":
        thr = np.array([policy.threshold_for(x) for x in v], dtype=np.float64)
        return s >= thr
    if maps is None:
        raise ValueError("a pixel-level policy needs the stored anomaly maps: pass maps=")
    m_list = as_map_list(maps)
    if len(m_list) != n:
        raise ValueError(f"maps: expected one map per score ({n}), found {len(m_list)}")
    zones, roi = zones or {}, roi or {}
    return np.array(
        [_map_verdict(policy, m, x, zones.get(x), roi.get(x)) for m, x in zip(m_list, v)], dtype=bool
    )
