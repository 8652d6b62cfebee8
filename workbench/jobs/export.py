"""Export job: a station project's trained runs become a verified line bundle (ONNX + JSON + PNG).

By default the newest run of each view is exported; ``run_ids`` picks others (one per view). A
threshold belongs to the run it was set for, so each exported view gets the thresholds of a project
policy made for its run (``policies`` names them; default: the one made for the run, 'default'
first), and a view that no project policy fits gets an image-level policy fitted here on its run's
validation normals (``false_alarm_rate``, ``max_fpr`` 1 %), noted in the manifest. A named policy
that fits no exported run is refused. The job trains nothing and leaves the project unchanged.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress, sub_progress
from workbench.export.writer import BundleResult, ViewExport, write_bundle
from workbench.jobs.evaluate_policy import normals_behind, policy_runs
from workbench.jobs.run_model import load_model
from workbench.metrics.intervals import MIN_EXPORT_NORMALS, small_validation_text
from workbench.metrics.policy import ThresholdPolicy, fit_policy
from workbench.project import Project

log = logging.getLogger(__name__)

DEFAULT_MAX_FPR = 0.01


def choose_runs(project: Project, run_ids: list[str] | None = None) -> dict[str, Any]:
    """{view name: RunInfo}: the newest run of every view, with ``run_ids`` replacing the choice for their views."""
    runs = project.runs
    chosen: dict[str, Any] = {}
    for r in runs:  # in creation order; a later run of a view wins
        if r.view in project.views and (r.view not in chosen or r.created >= chosen[r.view].created):
            chosen[r.view] = r
    if run_ids:
        known = {r.id: r for r in runs}
        picked: dict[str, str] = {}
        for rid in run_ids:
            if rid not in known:
                raise ValueError(
                    f"run {rid!r} is not in project {project.name}; runs: {', '.join(known) or 'none'}"
                )
            r = known[rid]
            if r.view in picked:
                raise ValueError(
                    f"runs {picked[r.view]} and {rid} are both for view {r.view!r}; pick one per view"
                )
            picked[r.view] = rid
            chosen[r.view] = r
    if not chosen:
        raise ValueError(f"project {project.name} has no trained run; train a model for each view first")
    return {v: chosen[v] for v in project.views if v in chosen}


def _crops(
    project: Project, view: str, split: str, label: str | None = None
) -> tuple[list[int], list[np.ndarray]]:
    ids = [s.id for s in project.samples(view=view, split=split, label=label)]
    return ids, [project.sample_image(i) for i in ids]


def _describe_runs(runs: dict[str, str] | None) -> str:
    if runs is None:
        return "names no run"
    return "was made for " + ", ".join(f"{r} (view {v!r})" for v, r in runs.items())


def for_view(policy: ThresholdPolicy, view: str) -> ThresholdPolicy:
    """The part of ``policy`` that applies to ``view``: its thresholds, zones and area rule; no other view's."""

    def own(d: dict) -> dict:
        return {view: dict(d[view])} if view in d else {}

    return ThresholdPolicy(
        threshold=policy.threshold_for(view),
        level=policy.level,
        per_view={view: policy.threshold_for(view)},
        per_zone=own(policy.per_zone),
        min_area=policy.min_area,
        min_area_per_zone=own(policy.min_area_per_zone),
        source=policy.source,
        params=dict(policy.params),
        per_size=own(policy.per_size),
        size_edges={view: list(policy.size_edges[view])} if view in policy.size_edges else {},
    )


def _fit_for_run(project: Project, view: str, run, model, cancel: CancelToken) -> tuple[ThresholdPolicy, str]:
    """An image-level policy for one run from its scores on the view's good validation samples (else train)."""
    split = "val"
    _, images = _crops(project, view, "val", "good")
    if not images:
        split = "train"
        _, images = _crops(project, view, "train", "good")
    if not images:
        raise ValueError(
            f"view {view!r} has no good validation or training samples to set a threshold for {run.id} from"
        )
    cancel.raise_if_cancelled()
    scores, _ = model.predict(images, cancel=cancel)
    scores = [float(x) for x in scores]
    policy = fit_policy(
        "false_alarm_rate", scores=scores, views=[view] * len(scores), max_fpr=DEFAULT_MAX_FPR
    )
    policy.params.update(
        run=run.id, view=view, fitted_on=split, n_val=len(scores), n_normals=len(scores), fitted_at="export"
    )
    return policy, (
        f"fitted at export on {len(scores)} good {'validation' if split == 'val' else 'training'} samples "
        f"of {run.id} (max false-alarm rate {DEFAULT_MAX_FPR:g})"
    )


def choose_policies(
    project: Project,
    runs: dict[str, Any],
    models: dict[str, Any],
    names: list[str] | None = None,
    cancel: CancelToken = NEVER_CANCEL,
) -> dict[str, tuple[ThresholdPolicy, str]]:
    """{view: (policy, note)}: for each exported run, thresholds made for that very run.

    A project policy fits a view when it was made for the view's exported run (or names no run at
    all). With ``names`` only those policies are considered and every exported view must be fitted
    by exactly one of them, else ValueError says which run lacks one. Without ``names`` a view takes
    the policy made for its run ('default' first, then the only one; policies naming a run before
    those naming none); a view that no project policy fits gets one fitted here on its run's good
    validation samples, and its note says so.
    """
    policies = project.policies
    run_views = {r.id: r.view for r in project.runs}
    for name in names or []:
        if name not in policies:
            raise ValueError(
                f"project {project.name} has no policy {name!r}; policies: {', '.join(policies) or 'none'}"
            )
    considered = list(dict.fromkeys(names)) if names else list(policies)
    covers = {n: policy_runs(policies[n], run_views) for n in considered}
    chosen: dict[str, tuple[ThresholdPolicy, str]] = {}
    used: set[str] = set()
    for view, run in runs.items():
        specific = [n for n in considered if covers[n] is not None and covers[n].get(view) == run.id]
        fitting = specific or [n for n in considered if covers[n] is None]
        if not names and "default" in fitting:
            fitting = ["default"]
        if len(fitting) > 1:
            raise ValueError(
                f"view {view!r} ({run.id}): several policies fit ({', '.join(fitting)}); "
                + ("name only one of them" if names else "pick with --policy (repeat it, one per run)")
            )
        if fitting:
            (name,) = fitting
            used.add(name)
            note = f"policy {name!r} of the project" + ("" if specific else " (it names no run)")
            chosen[view] = for_view(ThresholdPolicy.from_dict(policies[name]), view), note
            continue
        if names:
            named = "; ".join(f"policy {n!r} {_describe_runs(covers[n])}" for n in considered)
            raise ValueError(
                f"{named}; none fits {run.id}, the run exported for view {view!r}: a threshold does not carry "
                f"over between runs. Export the run it was made for (--run), fit one for {run.id} "
                f"(workbench policy {Path(project.path).name} --run {run.id}), or leave out --policy"
            )
        chosen[view] = _fit_for_run(project, view, run, models[view], cancel)
        # A warning when the project has policies (none made for this run), plain news when it has none.
        level = logging.WARNING if policies else logging.INFO
        log.log(level, "view %s: no policy of the project fits %s; %s", view, run.id, chosen[view][1])
    unused = [n for n in names or [] if n not in used]
    if unused:
        raise ValueError(
            "; ".join(f"policy {n!r} {_describe_runs(covers[n])}" for n in unused)
            + f", which is not exported (exported: {', '.join(r.id for r in runs.values())})"
        )
    return chosen


class SmallValidationError(ValueError):
    """A view's threshold rests on fewer than MIN_EXPORT_NORMALS normal samples and nobody accepted it."""


def validation_sizes(project: Project, chosen: dict[str, tuple[ThresholdPolicy, str]]) -> dict[str, dict]:
    """{view: {"n_normals", "split", "small", "text"}}: how many normals each exported threshold rests on."""
    out = {}
    for view, (pol, _note) in chosen.items():
        n, where = normals_behind(project, pol.to_dict(), view)
        if n is None:
            flag, text = (
                "small validation: unknown number of normals",
                "rests on an unknown number of normals",
            )
        else:
            flag, text = small_validation_text(n), f"threshold rests on {n} normal {where} samples"
        out[view] = {
            "n_normals": n,
            "split": where,
            "small": bool(flag),
            "text": f"{text} ({flag})" if flag else text,
        }
    return out


def check_validation_sizes(sizes: dict[str, dict], accept_small_validation: bool) -> None:
    """Raise SmallValidationError naming the views whose threshold rests on < MIN_EXPORT_NORMALS normals."""
    few = {v: s for v, s in sizes.items() if s["n_normals"] is None or s["n_normals"] < MIN_EXPORT_NORMALS}
    if few and not accept_small_validation:
        views = "; ".join(f"view {v!r}: {s['text']}" for v, s in few.items())
        raise SmallValidationError(
            f"{views}. A threshold on fewer than {MIN_EXPORT_NORMALS} normals cannot bound the false-alarm "
            "rate; add normal validation passes (workbench split) or export anyway with --accept-small-validation"
        )


def export_station(
    project_path: str | os.PathLike,
    out: str | os.PathLike,
    run_ids: list[str] | None = None,
    policies: list[str] | None = None,
    fusion: str = "any",
    missing: str = "ng",
    strict: bool = True,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
    accept_small_validation: bool = False,
) -> BundleResult:
    """Export the station at ``project_path`` to the bundle folder ``out``; returns paths, manifest, parity.

    Refuses (SmallValidationError, nothing written) when a view's threshold rests on fewer than
    MIN_EXPORT_NORMALS normal samples, unless ``accept_small_validation``; each view's policy note (in
    the manifest and on the console) says how many normals its threshold rests on.
    """
    with Project.open(project_path) as project:
        runs = choose_runs(project, run_ids)
        views = project.views
        missing_views = [v for v in views if v not in runs]
        if missing_views:
            log.warning("views without a trained run are not exported: %s", ", ".join(missing_views))
        progress(0.0, "loading models")
        models = {
            v: load_model(project, r, device="cpu") for v, r in runs.items()
        }  # export and parity run on CPU
        chosen = choose_policies(project, runs, models, policies, cancel)
        sizes = validation_sizes(project, chosen)
        check_validation_sizes(sizes, accept_small_validation)
        chosen = {v: (pol, f"{note}; {sizes[v]['text']}") for v, (pol, note) in chosen.items()}
        items = []
        for v, r in runs.items():
            pol, note = chosen[v]
            ids, images = _crops(project, v, "test")
            note_v = ""
            if not images:
                ids, images = _crops(project, v, "val")
                note_v = "no test samples: parity checked on the validation split"
            items.append(
                ViewExport(
                    views[v], models[v], {"id": r.id, "model": r.model, "created": r.created, "meta": r.meta},
                    pol, note, images, ids, note_v,
                )
            )  # fmt: skip
        rule = {}
        for s in reversed(project.sources):
            if "pass_rule" in s.meta:
                rule = dict(s.meta["pass_rule"])
                break
        station = {"name": project.name, "project": str(Path(project_path).resolve())}
        return write_bundle(
            out, items, station=station, pass_rule=rule, fusion={"rule": fusion, "missing": missing},
            strict=strict, progress=sub_progress(progress, 0.05, 1.0), cancel=cancel,
        )  # fmt: skip
