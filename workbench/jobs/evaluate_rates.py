"""Rates at a threshold policy with their 95 % intervals: per view, per defect type and per zone.

Every rate is a count k of n (precision TP/(TP+FP), recall TP/(TP+FN), FPR FP/(FP+TN), FNR FN/(FN+TP))
and carries its two-sided 95 % interval (:mod:`workbench.metrics.intervals`, Wilson score unless said
otherwise) in ``intervals``. Counts are verdicts (:data:`~workbench.metrics.policy.VERDICT_DEFINITION`);
detections of synthetic defects are counted apart (``miss_rates``). A threshold resting on fewer than
20 normal samples is flagged (``small_validation``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.jobs.evaluate_data import defect_type
from workbench.jobs.evaluate_metrics import NA
from workbench.metrics.intervals import (
    INTERVAL_METHOD,
    METHOD_LABEL,
    confusion_rates,
    is_small_validation,
    rate,
    small_validation_text,
)
from workbench.metrics.policy import ThresholdPolicy, flagged_pixels
from workbench.metrics.size import area_ratios

NO_ZONE = "no zone"
INTERVAL_NOTE = f"95 % {METHOD_LABEL[INTERVAL_METHOD]} interval"


def counts_dict(tp: int, fp: int, tn: int, fn: int) -> dict[str, Any]:
    """TP/FP/TN/FN, the four rates (NA over no sample) and ``intervals`` {rate: Rate.to_dict()}."""
    rates = confusion_rates(tp, fp, tn, fn)
    why = {"precision": "nothing flagged", "recall": "no defective sample", "fpr": "no normal sample"}
    why["fnr"] = why["recall"]
    out: dict[str, Any] = {"tp": tp, "fp": fp, "tn": tn, "fn": fn}
    for k, r in rates.items():
        out[k] = r.value if r.n else NA(why[k])
    out["intervals"] = {k: r.to_dict() for k, r in rates.items()}
    return out


def confusion_with_intervals(verdicts: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """:func:`counts_dict` of verdicts (N,) bool against labels (N,) bool (True = defective)."""
    v, y = np.asarray(verdicts, bool), np.asarray(labels, bool)
    return counts_dict(int((v & y).sum()), int((v & ~y).sum()), int((~v & ~y).sum()), int((~v & y).sum()))


def normals_record(n: int | None, where: str) -> dict[str, Any]:
    """How many normals a threshold rests on, and the small-validation flag ("" when there is none)."""
    if n is None:
        return {"n_normals": None, "normals_from": where, "small_validation": True,
                "small_validation_text": "small validation: unknown number of normals"}  # fmt: skip
    return {
        "n_normals": int(n),
        "normals_from": where,
        "small_validation": is_small_validation(n),
        "small_validation_text": small_validation_text(n),
    }


def defect_zone(sample, gt: np.ndarray | None, zones: np.ndarray | None, names: Sequence[str]) -> str:
    """The zone a defect lies in: the synthetic defect's, else the zone holding most of its GT pixels."""
    syn = (sample.meta or {}).get("synthetic") if sample.synthetic else None
    if isinstance(syn, dict) and syn.get("zone"):
        return str(syn["zone"])
    if gt is None or zones is None or zones.shape != gt.shape or not gt.any():
        return NO_ZONE
    hist = np.bincount(zones[gt > 0].astype(np.int64), minlength=len(names) + 1)[: len(names) + 1]
    hist[0] = 0  # outside every zone only when no zone holds any of it
    k = int(hist.argmax())
    return str(names[k - 1]) if hist[k] > 0 else NO_ZONE


def recall_by(keys: Sequence[str], verdicts: np.ndarray) -> dict[str, dict[str, Any]]:
    """{key: {"n", "tp", "fn", "recall", "fnr", "intervals"}} over defective samples grouped by key."""
    groups: dict[str, list[bool]] = defaultdict(list)
    for k, v in zip(keys, verdicts):
        groups[k].append(bool(v))
    out = {}
    for k in sorted(groups):
        hits = groups[k]
        tp, n = int(sum(hits)), len(hits)
        r, m = rate(tp, n), rate(n - tp, n)
        out[k] = {"n": n, "tp": tp, "fn": n - tp, "recall": r.value, "fnr": m.value,
                  "intervals": {"recall": r.to_dict(), "fnr": m.to_dict()}}  # fmt: skip
    return out


def size_breakdown(policy: ThresholdPolicy, view: str, masks: list[np.ndarray], verdicts: np.ndarray):
    """Recall/FNR of the defects per size class (seed 000's tertiles: the policy's own edges for a
    size-class policy, else those of these defects), or NA without a GT mask."""
    ratios = area_ratios(masks) if masks else np.zeros(0)
    has = ratios > 0
    if not has.any():
        return NA("no defective sample with a GT mask to measure its size")
    if view in policy.size_edges:
        b1, b2 = policy.size_edges[view]
    else:
        b1, b2 = np.quantile(ratios[has], [0.333, 0.667])
    keys = ["small" if r <= b1 else "medium" if r <= b2 else "large" for r in ratios[has]]
    return {"edges": [float(b1), float(b2)], "classes": recall_by(keys, verdicts[has])}


def breakdown(
    policy: ThresholdPolicy,
    samples: list,
    labels: np.ndarray,
    verdicts: np.ndarray,
    masks: list[np.ndarray],
    maps: list[np.ndarray] | None,
    view: str,
    zones: np.ndarray | None,
    zone_names: Sequence[str],
    roi: np.ndarray | None,
) -> dict[str, Any]:
    """Rates per defect type and per zone at a policy's verdicts.

    ``by_type`` and ``by_zone`` give recall/FNR over the defects of each type or zone; at pixel level
    ``by_zone`` also gives each zone's FPR: the share of normal samples with a flagged region in it.
    """
    y = np.asarray(labels, bool)
    bad = np.flatnonzero(y)
    out: dict[str, Any] = {
        "by_type": recall_by([defect_type(samples[i]) for i in bad], verdicts[bad]),
        "by_size": size_breakdown(policy, view, [masks[i] for i in bad], verdicts[bad]),
    }
    names = list(zone_names)
    if not names:
        out["by_zone"] = NA(f"view '{view}' has no zones")
        return out
    by_zone = recall_by([defect_zone(samples[i], masks[i], zones, names) for i in bad], verdicts[bad])
    if policy.level == "pixel" and maps is not None and zones is not None:
        normals = np.flatnonzero(~y)
        zone_pair = (zones, names)
        hit = np.zeros((normals.size, len(names)), bool)
        for row, i in enumerate(normals):
            if zones.shape != maps[i].shape:
                continue
            f = flagged_pixels(policy, maps[i], view, zone_pair, roi)
            present = np.unique(zones[f])
            hit[row, [int(z) - 1 for z in present if 1 <= z <= len(names)]] = True
        for k, name in enumerate(names):
            fp = int(hit[:, k].sum())
            entry = by_zone.setdefault(name, {"n": 0, "tp": 0, "fn": 0, "recall": None, "fnr": None,
                                              "intervals": {}})  # fmt: skip
            r = rate(fp, int(normals.size))
            entry.update(n_normals=int(normals.size), fp=fp, fpr=r.value)
            entry["intervals"]["fpr"] = r.to_dict()
    out["by_zone"] = by_zone
    return out
