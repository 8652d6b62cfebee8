"""Qt-free side of the Thresholds pane: which runs belong together, their stored test-split scores (per
view) or per-zone map peaks (per zone), starting thresholds, and the policy the sliders stand for.

Everything here reads exactly what ``workbench eval`` reads (``ensure_split``) and never predicts: the
GUI keeps model inference out of its own process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

VIEW, ZONE = "view", "zone"  # the two scopes: one threshold per view (image score) or per zone (map)
REST = ""  # the region of ROI pixels outside every zone (ZoneRecount's name for it)
Key = tuple[str, str | None]  # (run id, region: None for the whole view, else a zone name or REST)


def run_groups(runs: list) -> list[list]:
    """Runs of one training (same model and parameters), at most one per view, in the project's order."""
    groups: list[tuple[str, list]] = []
    for r in runs:
        key = r.model + json.dumps(r.params, sort_keys=True)
        target = next((g for k, g in groups if k == key and all(x.view != r.view for x in g)), None)
        if target is None:
            groups.append((key, [r]))
        else:
            target.append(r)
    return [g for _k, g in groups]


def region_title(region: str | None, n_regions: int = 2) -> str:
    """A row's name: the zone's, or what the pixels outside every zone are (the whole ROI without zones)."""
    if region == REST:
        return "whole ROI (no zones)" if n_regions == 1 else "outside the zones"
    return str(region)


@dataclass
class Flips:
    """The samples whose verdict a move changed: positions in the run's arrays, the value the moved
    row compares for each sample, and every sample's verdict now."""

    index: np.ndarray
    values: np.ndarray
    flagged: np.ndarray
    what: str  # what ``values`` are, in the user's words
    none_text: str  # what to say when nothing changed


@dataclass
class RunScores:
    """One run's test-split image scores, sorted once for live recounting (scope 'view': one region)."""

    run: str
    view: str
    sample_ids: list[int]
    labels: np.ndarray
    scores: np.ndarray
    recount: Any  # ScoreRecount

    regions = (None,)
    axis = "image score"

    def peaks(self, _region: None) -> np.ndarray:
        return self.scores

    def defects_in(self, _region: None) -> np.ndarray:
        return self.labels

    def counts(self, thresholds: list[float]):
        return self.recount.counts(thresholds[0])

    def verdicts(self, thresholds: list[float]) -> np.ndarray:
        return self.scores >= thresholds[0]

    def region_counts(self, _region: None, threshold: float):
        return self.recount.counts(threshold)

    def flips(self, _region: None, thresholds: list[float], old: float) -> Flips:
        return Flips(
            self.recount.changed(old, thresholds[0]),
            self.scores,
            self.scores >= thresholds[0],
            "score",
            "No verdict changed: no sample's score lies between the two thresholds.",
        )


@dataclass
class RunZones:
    """One run's test-split map peaks per zone, for live recounting of a per-zone policy (scope 'zone')."""

    run: str
    view: str
    sample_ids: list[int]
    recount: Any  # ZoneRecount

    axis = "highest map value in the zone"

    @property
    def labels(self) -> np.ndarray:
        return self.recount.labels

    @property
    def regions(self) -> list[str]:
        return list(self.recount.regions)

    def peaks(self, region: str) -> np.ndarray:
        return self.recount.peaks[:, self.regions.index(region)]

    def defects_in(self, region: str) -> np.ndarray:
        """Which samples have GT defect pixels in the region (the region's own defects)."""
        return self.recount.in_region[:, self.regions.index(region)]

    def counts(self, thresholds: list[float]):
        return self.recount.counts(thresholds)

    def verdicts(self, thresholds: list[float]) -> np.ndarray:
        return self.recount.verdicts(thresholds)

    def region_counts(self, region: str, threshold: float):
        return self.recount.region_counts(self.regions.index(region), threshold)

    def flips(self, region: str, thresholds: list[float], old: float) -> Flips:
        k = self.regions.index(region)
        return Flips(
            self.recount.changed(thresholds, k, old),
            self.recount.peaks[:, k],
            self.recount.verdicts(thresholds),
            f"peak in {region_title(region, len(self.regions))}",
            "No verdict changed: every sample whose peak in this zone lies between the two values "
            "is flagged by another zone anyway.",
        )


def load_scores(project, run_ids: list[str]) -> dict[str, RunScores]:
    """The stored test-split scores of each run (I/O thread); raises when a run has not scored them all."""
    from workbench.jobs.evaluate_data import ensure_split
    from workbench.metrics import ScoreRecount

    warm_up()
    out = {}
    for rid in run_ids:
        data = ensure_split(project, rid, "test", with_maps=False, predict=False)
        out[rid] = RunScores(
            rid, data.run.view, data.ids, data.labels, data.scores, ScoreRecount(data.labels, data.scores)
        )
    return out


def view_zones(view: Any, shape: tuple[int, int]) -> tuple[np.ndarray, list[str]]:
    """The view's zone labels and names when painted at the samples' size, else no zone (one region)."""
    if view is None or view.zones is None or not view.zone_names or view.zones.shape != shape:
        return np.zeros(shape, np.uint8), []
    return view.zones, list(view.zone_names)


def load_zones(project, run_ids: list[str]) -> dict[str, RunZones]:
    """Each run's highest stored map value per zone of its view on the test split (I/O thread).

    The maps are read once and dropped; ROI and zones are those ``workbench eval`` applies.
    """
    from workbench.jobs.evaluate_data import ensure_split
    from workbench.metrics import ZoneRecount

    warm_up()
    out = {}
    for rid in run_ids:
        data = ensure_split(project, rid, "test", with_maps=True, predict=False)
        zones, names = view_zones(project.views.get(data.run.view), data.maps[0].shape)
        recount = ZoneRecount(data.labels, data.maps, zones, names, roi=data.roi, masks=data.masks)
        out[rid] = RunZones(rid, data.run.view, data.ids, recount)
    return out


def has_zones(views: dict, run_views: list[str]) -> bool:
    return any(views.get(v) is not None and views[v].zone_names for v in run_views)


def starting_threshold(data: RunScores | RunZones) -> float:
    """The F1-best threshold on the shown split (per zone: one value for every zone, on the highest
    value of each map), else just above the highest normal score."""
    from workbench.metrics import Recount
    from workbench.metrics.curves import best_ratio_sorted

    if isinstance(data, RunZones):
        peaks = data.recount.peaks.max(axis=1) if data.recount.peaks.size else np.zeros(0)
        recount, scores = Recount(data.labels, peaks), peaks[np.isfinite(peaks)]
    else:
        recount, scores = data.recount, data.scores
    try:
        return float(best_ratio_sorted(recount, "f1").threshold)
    except Exception:  # noqa: BLE001 - no defect (or no normal) sample: F1 is undefined there
        return float(scores.max()) if scores.size else 0.0


def score_range(data: RunScores | RunZones) -> tuple[float, float]:
    """(lowest, highest) finite value any row of the run sets a threshold on: every row of one run
    spans the same range, so one value stands at one handle position in every zone."""
    values = np.concatenate([np.asarray(data.peaks(r), np.float64).ravel() for r in data.regions])
    values = values[np.isfinite(values)]
    return (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)


def policy_basis(
    project: Any, policies: dict[str, dict], source: dict[str, str], views: dict[str, str]
) -> dict[str, tuple[str, int | None, str]]:
    """{view: (policy name, how many normal samples its threshold rests on or None, where they are)} for
    the policies the sliders started from (``source``: {run id: policy name}); I/O thread."""
    from workbench.jobs.evaluate_policy import normals_behind

    out = {}
    for rid, name in source.items():
        if name in policies and rid in views:
            n, where = normals_behind(project, policies[name], views[rid])
            out[views[rid]] = (name, n, where)
    return out


def basis_text(basis: dict[str, tuple[str, int | None, str]]) -> tuple[str, bool]:
    """("'tour' rests on test normals: back 19 ⚠, center 15 ⚠, front 23 — ⚠ small validation: ...", True):
    how many normals each view's policy threshold rests on, and whether any rests on fewer than 20."""
    from workbench.metrics.intervals import SMALL_VALIDATION_NORMALS, is_small_validation

    groups: dict[tuple[str, str], list[str]] = {}
    small = False
    for view, (name, n, where) in sorted(basis.items()):
        flag = n is not None and is_small_validation(n)
        small = small or flag
        count = "unknown" if n is None else str(n)
        groups.setdefault((name, where), []).append(f"{view} {count}" + (" ⚠" if flag else ""))
    parts = [
        f"'{name}' rests on {where} normals: {', '.join(views)}" for (name, where), views in groups.items()
    ]
    text = "; ".join(parts)
    if small:
        text += (
            f" — ⚠ small validation: a threshold set on fewer than {SMALL_VALIDATION_NORMALS} normals "
            "gives an uncertain false-alarm rate"
        )
    return text, small


def warm_up() -> None:
    """Import (on the I/O thread) what the pane later uses in the GUI thread: intervals and policies."""
    import workbench.jobs.evaluate_policy  # noqa: F401 - the import is the point
    from workbench.metrics.intervals import rate

    rate(1, 2)  # scipy.stats loads lazily on the first interval


def policy_dict(scope: str, values: dict[Key, float], views: dict[str, str]) -> dict[str, Any]:
    """The stored policy (ThresholdPolicy.to_dict) of the sliders: image level with one value per view,
    or pixel level with one value per zone (outside the zones: the view's own value, else the highest
    zone value, which then applies to no pixel)."""
    from workbench.metrics import ThresholdPolicy

    runs = {views[rid]: rid for rid in dict.fromkeys(rid for rid, _r in values)}
    params: dict[str, Any] = {"runs": runs, "set_in": "gui", "split_shown": "test", "scope": scope}
    if len(runs) == 1:
        params["run"] = next(iter(runs.values()))  # eval refuses it for other runs' scores
    per_view: dict[str, float] = {}
    per_zone: dict[str, dict[str, float]] = {}
    for (rid, region), t in values.items():
        view = views[rid]
        if scope == VIEW or region == REST:
            per_view[view] = float(t)
        else:
            per_zone.setdefault(view, {})[str(region)] = float(t)
    for view, zs in per_zone.items():
        per_view.setdefault(view, max(zs.values()))
    return ThresholdPolicy(
        threshold=max(per_view.values()),
        per_view=per_view,
        per_zone=per_zone,
        level="image" if scope == VIEW else "pixel",
        source="manual",
        params=params,
    ).to_dict()


def policy_values(stored: dict, runs: dict[str, str]) -> tuple[str, dict[Key, float]] | None:
    """(scope, {key: threshold}) a stored policy sets for ``runs`` ({run id: view}) — the runs it was
    made for, or every run when it names none (as ``workbench export`` reads it); None when it fits none
    of them or the sliders cannot stand for it (a pixel policy with an area rule or size classes)."""
    from workbench.jobs.evaluate_policy import policy_runs

    covers = policy_runs(stored, runs)
    if covers is None:
        pairs = list(runs.items())
    else:
        pairs = [(rid, view) for rid, view in runs.items() if covers.get(view) == rid]
    if not pairs:
        return None
    per_view = stored.get("per_view", {}) or {}
    if stored.get("level") == "image":
        return VIEW, {(rid, None): float(per_view.get(v, stored["threshold"])) for rid, v in pairs}
    if (
        stored.get("level") == "pixel"
        and int(stored.get("min_area", 0)) <= 1
        and not stored.get("min_area_per_zone")
        and not stored.get("per_size")
    ):
        values: dict[Key, float] = {}
        for rid, v in pairs:
            values[(rid, REST)] = float(per_view.get(v, stored["threshold"]))
            for zone, t in (stored.get("per_zone", {}) or {}).get(v, {}).items():
                values[(rid, zone)] = float(t)
        return ZONE, values
    return None


def fitting_policies(policies: dict[str, dict], runs: dict[str, str]) -> list[str]:
    """Names of the stored policies the sliders can show for ``runs`` ({run id: view}), newest first."""
    return [name for name, d in reversed(list(policies.items())) if policy_values(d, runs) is not None]


def start_values(
    policies: dict[str, dict], runs: dict[str, str], name: str | None = None
) -> tuple[str, dict[Key, float], dict[str, str]]:
    """(scope, {key: threshold}, {run id: policy name}) to start the sliders from: the named policy, or
    (``name`` None) for each run the newest policy made for it, in the scope of the newest of them —
    whether ``workbench policy`` (one run each) or this pane (a run per view) wrote it. ('', {}, {})
    when no policy fits."""
    names = [name] if name else fitting_policies(policies, runs)
    scope, values, source = "", {}, {}
    for n in names:
        got = policy_values(policies[n], runs)
        if got is None or (scope and got[0] != scope):
            continue
        scope = scope or got[0]
        for key, t in got[1].items():
            if key[0] not in source or source[key[0]] == n:
                values.setdefault(key, t)
                source.setdefault(key[0], n)
    return scope, values, source


def saved_values(
    policies: dict[str, dict], ids: list[str], views: dict[str, str]
) -> tuple[str, str, dict[Key, float]]:
    """(name, scope, {key: threshold}) of the newest stored policy (or policies) for these runs: the name
    is the one policy they all come from, else ''."""
    scope, values, source = start_values(policies, {rid: views[rid] for rid in ids})
    names = set(source.values())
    return (names.pop() if len(names) == 1 and len(source) == len(ids) else ""), scope, values


def count_members(
    data: Any, region: Any, thresholds: list[float], which: str, whole: bool = False
) -> list[int]:
    """The sample ids behind one count ('tp', 'fp', 'tn', 'fn') of a row (``region``) or, with ``whole``,
    of the run's own sample-level counts at all its thresholds."""
    labels = np.asarray(data.labels, bool)
    if whole or isinstance(data, RunScores):
        flagged = data.verdicts(thresholds)
        positive, keep = labels, np.ones_like(labels)
    else:
        k = data.regions.index(region)
        flagged = data.recount.peaks[:, k] >= thresholds[k]
        positive = data.recount.in_region[:, k]
        keep = ~labels | positive  # a zone counts its own defects and every normal
    want = {
        "tp": flagged & positive,
        "fp": flagged & ~positive,
        "tn": ~flagged & ~positive,
        "fn": ~flagged & positive,
    }
    return [int(data.sample_ids[i]) for i in np.flatnonzero(want[which] & keep)]
