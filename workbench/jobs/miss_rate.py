"""Miss-rate table: how often a trained run detects the synthetic defects, by type, size and zone.

Only synthetic samples (``meta["synthetic"]``) count. A defect is detected as
:data:`~workbench.metrics.policy.DETECTION_DEFINITION` says: at image level when its sample's score
reaches the threshold, at pixel level when a region the policy flags touches the defect's GT mask (a
sample flagged elsewhere is a TP verdict, not a detection). Rates carry their 95 % interval. :func:`miss_rate_table` reads one stored result at a given threshold or stored
policy; :func:`run_miss_rates` is the evaluation's answer to "what would this station miss?": the run's
synthetic test defects under the threshold policy in use for the run (see :func:`policy_in_use`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.jobs.evaluate_data import SplitData
from workbench.jobs.evaluate_metrics import NA
from workbench.jobs.evaluate_policy import DEFAULT_TARGET, normals_behind, policy_runs
from workbench.jobs.evaluate_rates import INTERVAL_NOTE, normals_record
from workbench.metrics.intervals import rate
from workbench.metrics.policy import DETECTION_DEFINITION, ThresholdPolicy, detected, fit_policy

LEVELS = ("image", "pixel")


def _policy(project, threshold: float | None, policy: str | None, level: str):
    if threshold is not None:
        value = float(threshold)
        return ThresholdPolicy(threshold=value, level=level), {"value": value}
    if policy is None:
        raise ValueError("give a threshold value or the name of a stored threshold policy")
    stored = project.policies
    if policy not in stored:
        raise ValueError(f"no threshold policy '{policy}'; stored: {', '.join(stored) or 'none'}")
    pol = ThresholdPolicy.from_dict(stored[policy])
    if pol.level != level:  # the table's level decides how a defect counts as found
        pol = ThresholdPolicy(threshold=pol.threshold, level=level, per_view=dict(pol.per_view),
                              per_zone=dict(pol.per_zone) if level == "pixel" else {})  # fmt: skip
    return pol, {"policy": policy}


def detections(
    samples: Sequence,
    scores: np.ndarray,
    maps: Sequence[np.ndarray] | None,
    masks: Sequence[np.ndarray | None] | None,
    policy: ThresholdPolicy,
    zones: dict | None = None,
    roi: dict | None = None,
) -> list[tuple[dict, bool]]:
    """(provenance, detected) of each synthetic sample among ``samples`` (others are skipped).

    ``scores`` (N,) go with ``samples``; at pixel level ``maps`` and GT ``masks`` (one per sample) too,
    with the views' ``zones`` ({view: (labels, names)}) and ``roi`` ({view: (H, W)}) the policy uses.
    """
    zones, roi = zones or {}, roi or {}
    out = []
    for k, s in enumerate(samples):
        syn = (s.meta or {}).get("synthetic") if s.synthetic else None
        if not isinstance(syn, dict):
            continue
        if policy.level == "image":
            hit = detected(policy, float(scores[k]), None, s.view)
        else:
            gt, m = masks[k], np.asarray(maps[k], np.float32)
            z = zones.get(s.view)
            if z is not None and z[0].shape != m.shape:
                z = None
            r = roi.get(s.view)
            hit = detected(
                policy, float(scores[k]), gt, s.view, m, z, r if r is None or r.shape == m.shape else None
            )
        out.append((syn, hit))
    return out


def rate_row(hits: list[bool]) -> dict:
    """n, detected, detection and miss rate of a group of defects, with the detection rate's interval."""
    n, d = len(hits), int(sum(hits))
    return {
        "n": n,
        "detected": d,
        "detection_rate": round(d / n, 4) if n else None,
        "miss_rate": round(1 - d / n, 4) if n else None,
        "detection_interval": rate(d, n).to_dict(),
    }


def group_rates(found: list[tuple[dict, bool]]) -> dict:
    """Rows per (type, size, zone), the margins ``by_type``, ``by_size``, ``by_zone`` and ``overall``."""
    groups: dict[tuple, list[bool]] = defaultdict(list)
    for syn, hit in found:
        groups[(syn.get("type"), syn.get("size"), syn.get("zone"))].append(hit)

    def margin(pos: int) -> dict:
        acc: dict = defaultdict(list)
        for key, hits in groups.items():
            acc[str(key[pos])] += hits
        return {k: rate_row(v) for k, v in sorted(acc.items())}

    rows = [
        {"type": k[0], "size": k[1], "zone": k[2], **rate_row(v)}
        for k, v in sorted(groups.items(), key=lambda kv: tuple(str(x) for x in kv[0]))
    ]
    return {
        "rows": rows,
        "by_type": margin(0),
        "by_size": margin(1),
        "by_zone": margin(2),
        "overall": rate_row([h for v in groups.values() for h in v]),
    }


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
    if level not in LEVELS:
        raise ValueError(f"level must be 'image' or 'pixel', found '{level}'")
    pol, source = _policy(project, threshold, policy, level)
    info = next((r for r in project.results() if r.id == result_id), None)
    if info is None:
        raise ValueError(f"no result '{result_id}' in project {project.name}")
    scores = np.asarray(project.result_scores(result_id), np.float64)
    by_id = {s.id: s for s in project.samples()}
    picked = [
        (k, by_id[sid]) for k, sid in enumerate(info.sample_ids) if sid in by_id and by_id[sid].synthetic
    ]
    samples = [s for _, s in picked]
    maps = masks = None
    if level == "pixel" and picked:
        maps = project.result_maps(result_id, [s.id for s in samples])
        masks = [project.gt_mask(s.id) for s in samples]
    found = detections(samples, scores[[k for k, _ in picked]], maps, masks, pol)
    return {"result": result_id, "level": level, "threshold": source, **group_rates(found)}


def policy_in_use(project, run_id: str, view: str, given: tuple[str, dict] | None = None):
    """(name, stored policy dict, why) of the policy that makes a run's verdicts, or None when none does.

    ``given`` (name, dict) wins when it was made for this run or names no run. Otherwise, as an export
    picks it: a project policy made for this run ('default' first, then by name), else one naming no run.
    """
    run_views = {r.id: r.view for r in project.runs}

    def fits(stored: dict) -> str | None:
        runs = policy_runs(stored, run_views)
        if runs is None:
            return "names no run"
        return "made for this run" if runs.get(view) == run_id else None

    if given is not None and fits(given[1]):
        return given[0], given[1], f"the policy asked for ({fits(given[1])})"
    stored = project.policies
    for specific in (True, False):
        names = sorted(
            n for n in stored if fits(stored[n]) == ("made for this run" if specific else "names no run")
        )
        if names:
            name = "default" if "default" in names else names[0]
            more = f"; also fitting: {', '.join(n for n in names if n != name)}" if len(names) > 1 else ""
            return name, stored[name], f"the project's policy {fits(stored[name])}{more}"
    return None


def run_miss_rates(
    project,
    test: SplitData,
    normals: np.ndarray | None,
    normals_from: str = "validation",
    given: tuple[str, dict] | None = None,
) -> dict[str, Any] | NA:
    """Detection and miss rates of a run's synthetic test defects under the policy in use, or an NA.

    The policy is :func:`policy_in_use`'s; a run without one gets an image-level threshold at a 1 %
    false-alarm rate on ``normals`` (the run's normal validation scores, else training scores), as an
    export would fit. The record says which policy, its level and the view's threshold.
    """
    run = test.run
    synthetic = [k for k, s in enumerate(test.samples) if s.synthetic and (s.meta or {}).get("synthetic")]
    if not synthetic:
        return NA(
            f"the test split of view '{run.view}' holds no synthetic defect (add some: workbench synth)"
        )
    chosen = policy_in_use(project, run.id, run.view, given)
    if chosen is not None:
        name, stored, why = chosen
        try:
            policy = ThresholdPolicy.from_dict(stored)
        except (ValueError, KeyError, TypeError) as exc:
            return NA(f"policy '{name}' cannot be read: {exc}")
        normals_info = normals_record(*normals_behind(project, stored, run.view))
    else:
        if normals is None or len(normals) == 0 or not np.isfinite(normals).all():
            return NA(f"{run.id} has no policy and no finite normal validation or training score to fit one")
        far = DEFAULT_TARGET["far"]
        policy = fit_policy("false_alarm_rate", scores=normals, max_fpr=far)
        name, why = (
            None,
            f"fitted here: false-alarm rate <= {far:g} on {len(normals)} normal {normals_from} images",
        )
        normals_info = normals_record(len(normals), normals_from)
    if policy.level == "pixel" and test.maps is None:
        return NA(f"policy '{name}' is pixel-level and the run's test maps were not loaded")
    part = test.subset(np.isin(np.arange(len(test.samples)), synthetic))
    view = project.views.get(run.view)
    zones = None
    if view is not None and view.zones is not None and view.zone_names:
        zones = {run.view: (view.zones, list(view.zone_names))}
    roi = None if test.roi is None else {run.view: test.roi}
    found = detections(part.samples, part.scores, part.maps, part.masks, policy, zones, roi)
    return {
        "split": test.split,
        "policy": {
            "name": name,
            "source": policy.source,
            "level": policy.level,
            "threshold": policy.threshold_for(run.view),
            "why": why,
            **normals_info,
        },
        "definition": DETECTION_DEFINITION,
        "interval": INTERVAL_NOTE,
        **group_rates(found),
    }
