"""Verdicts on line: one view's score and map -> OK/NG with defect boxes and zones, and one part verdict
from all views by late fusion (NG if any view is NG by default).

A view's verdict is exactly ``apply_policy`` of the threshold policy (image or pixel level), so the
line and the workbench's evaluation agree. Defects are the 8-connected components of the map at the
pixel thresholds (zone threshold inside a zone, else the view's); each gets its box (x, y, w, h in
crop pixels), area, peak value and the zone holding most of its pixels.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from workbench.metrics.policy import ThresholdPolicy, apply_policy

FUSION_RULES = ("any", "all", "majority")
MISSING_RULES = ("ng", "ok", "ignore")


def pixel_thresholds(
    policy: ThresholdPolicy, view: str, shape, zones: np.ndarray | None, names
) -> np.ndarray:
    """(H, W) float64 threshold of every pixel: the zone's inside a zone, else the view's (else global)."""
    thr = np.full(shape, policy.threshold_for(view), np.float64)
    if zones is not None:
        for k, z in enumerate(names, start=1):
            thr[zones == k] = policy.threshold_for(view, z)
    return thr


def defects(
    amap: np.ndarray,
    thr: np.ndarray,
    roi: np.ndarray | None,
    zones: np.ndarray | None,
    names,
    max_defects: int = 32,
) -> list[dict[str, Any]]:
    """Connected components of ``amap >= thr`` inside the ROI, largest first: box, area, peak, zone."""
    flagged = amap >= thr
    if roi is not None:
        flagged &= roi > 0
    count, comp, stats, _ = cv2.connectedComponentsWithStats(flagged.astype(np.uint8), connectivity=8)
    out = []
    for k in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[k])
        sel = comp[y : y + h, x : x + w] == k
        zone = None
        if zones is not None:
            labels = zones[y : y + h, x : x + w][sel]
            hist = np.bincount(labels.ravel().astype(np.int64), minlength=len(names) + 1)
            if hist[1:].any():
                zone = names[int(hist[1:].argmax())]
        peak = float(amap[y : y + h, x : x + w][sel].max())
        out.append({"box": [x, y, w, h], "area": area, "peak": round(peak, 6), "zone": zone})
    out.sort(key=lambda d: -d["area"])
    return out[:max_defects]


def view_verdict(
    policy: ThresholdPolicy,
    view: str,
    score: float,
    amap: np.ndarray,
    roi: np.ndarray | None = None,
    zones: np.ndarray | None = None,
    zone_names: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """{'verdict': 'OK'|'NG', 'score', 'threshold', 'defects', 'zones'} of one view's output."""
    zone_arg = {view: (zones, list(zone_names))} if zones is not None and policy.level == "pixel" else None
    roi_arg = {view: roi} if roi is not None else None
    ng = bool(apply_policy(policy, [score], [view], maps=[amap], zones=zone_arg, roi=roi_arg)[0])
    thr = pixel_thresholds(policy, view, amap.shape, zones if policy.level == "pixel" else None, zone_names)
    if ng and not (amap >= thr).any():
        # Image-level NG whose map stays under the threshold (PatchCore reweights its top score):
        # show where the map peaks rather than nothing.
        thr = np.minimum(thr, float(amap.max()))
    found = defects(amap, thr, roi, zones, list(zone_names)) if ng else []
    return {
        "verdict": "NG" if ng else "OK",
        "score": round(float(score), 6),
        "threshold": policy.threshold_for(view),
        "defects": found,
        "zones": sorted({d["zone"] for d in found if d["zone"]}),
    }


def fuse(verdicts: dict[str, str], rule: str = "any", missing: str = "ng") -> str:
    """One part verdict 'OK'|'NG' from per-view verdicts ('OK', 'NG' or 'MISSING').

    ``rule``: 'any' (NG if any view is NG), 'all' (NG only if every view is), 'majority' (NG if
    more than half are). ``missing``: a view not found in the pass counts as 'ng', 'ok', or is ignored.
    """
    if rule not in FUSION_RULES:
        raise ValueError(f"fusion rule: expected one of {FUSION_RULES}; found {rule!r}")
    if missing not in MISSING_RULES:
        raise ValueError(f"missing-view rule: expected one of {MISSING_RULES}; found {missing!r}")
    votes = []
    for v in verdicts.values():
        if v == "MISSING":
            if missing != "ignore":
                votes.append(missing == "ng")
        else:
            votes.append(v == "NG")
    if not votes:
        return "NG" if missing != "ok" else "OK"
    if rule == "any":
        ng = any(votes)
    elif rule == "all":
        ng = all(votes)
    else:
        ng = sum(votes) * 2 > len(votes)
    return "NG" if ng else "OK"
