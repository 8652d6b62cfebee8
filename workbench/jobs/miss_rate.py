"""Miss-rate table: how often a trained run detects the synthetic defects, by type, size and zone.

Reads a stored result (a run's scores and maps on samples); only synthetic samples (``meta["synthetic"]``)
count. A defect is detected at image level when its sample's score reaches the threshold, or at pixel
level when the anomaly map reaches it somewhere inside the defect's GT mask. The threshold is a given
number or comes from a stored threshold policy (per view, and per zone at pixel level).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from workbench.metrics.policy import ThresholdPolicy


def _threshold(project, threshold: float | None, policy: str | None):
    if threshold is not None:
        value = float(threshold)
        return lambda view, zone: value, {"value": value}
    if policy is None:
        raise ValueError("give a threshold value or the name of a stored threshold policy")
    stored = project.policies
    if policy not in stored:
        raise ValueError(f"no threshold policy '{policy}'; stored: {', '.join(stored) or 'none'}")
    pol = ThresholdPolicy.from_dict(stored[policy])
    return pol.threshold_for, {"policy": policy}


def miss_rate_table(
    project,
    result_id: str,
    threshold: float | None = None,
    policy: str | None = None,
    level: str = "image",
) -> dict:
    """A JSON-able table of detection and miss rates on the result's synthetic samples.

    Rows group by (type, size, zone); ``by_type``, ``by_size`` and ``by_zone`` are the margins and
    ``overall`` the total. ``level`` is "image" (score vs threshold) or "pixel" (map inside the GT mask).
    """
    if level not in ("image", "pixel"):
        raise ValueError(f"level must be 'image' or 'pixel', found '{level}'")
    thr, source = _threshold(project, threshold, policy)
    info = next((r for r in project.results() if r.id == result_id), None)
    if info is None:
        raise ValueError(f"no result '{result_id}' in project {project.name}")
    scores = np.asarray(project.result_scores(result_id), np.float64)
    by_id = {s.id: s for s in project.samples()}
    picked = [
        (k, by_id[sid])
        for k, sid in enumerate(info.sample_ids)
        if sid in by_id and by_id[sid].synthetic and "synthetic" in (by_id[sid].meta or {})
    ]
    maps = project.result_maps(result_id, [s.id for _, s in picked]) if level == "pixel" and picked else []
    groups: dict[tuple, list[bool]] = defaultdict(list)
    for n, (k, s) in enumerate(picked):
        syn = s.meta["synthetic"]
        zone = syn.get("zone")
        t = float(thr(s.view, zone) if level == "pixel" else thr(s.view, None))
        if level == "image":
            hit = bool(scores[k] >= t)
        else:
            gt = project.gt_mask(s.id)
            m = np.asarray(maps[n], np.float32)
            hit = bool(gt is not None and m.shape == gt.shape and (m[gt > 0] >= t).any())
        groups[(syn.get("type"), syn.get("size"), zone)].append(hit)

    def row(hits: list[bool]) -> dict:
        n, d = len(hits), int(sum(hits))
        return {
            "n": n,
            "detected": d,
            "detection_rate": round(d / n, 4) if n else None,
            "miss_rate": round(1 - d / n, 4) if n else None,
        }

    def margin(pos: int) -> dict:
        acc: dict = defaultdict(list)
        for key, hits in groups.items():
            acc[str(key[pos])] += hits
        return {k: row(v) for k, v in sorted(acc.items())}

    rows = [
        {"type": k[0], "size": k[1], "zone": k[2], **row(v)}
        for k, v in sorted(groups.items(), key=lambda kv: tuple(str(x) for x in kv[0]))
    ]
    return {
        "result": result_id,
        "level": level,
        "threshold": source,
        "rows": rows,
        "by_type": margin(0),
        "by_size": margin(1),
        "by_zone": margin(2),
        "overall": row([h for v in groups.values() for h in v]),
    }
