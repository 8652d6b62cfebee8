"""Export job: a station project's trained runs become a verified line bundle (ONNX + JSON + PNG).

By default the newest run of each view is exported; ``run_ids`` picks others (one per view). The
threshold policy is the project's policy named ``policy`` (default: the one named "default", else the
only one); a project without any gets a per-view image-level policy fitted here on the validation
normals (``false_alarm_rate``, ``max_fpr`` 1 %), noted in the manifest. The job trains nothing and
leaves the project unchanged.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress, sub_progress
from workbench.export.writer import BundleResult, ViewExport, write_bundle
from workbench.metrics.policy import ThresholdPolicy, fit_policy
from workbench.models import registry
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


def load_model(project: Project, run) -> Any:
    """The run's model rebuilt from its parameters and weights, on CPU (export and parity run there)."""
    params = dict(run.params)
    if "device" in registry.get(run.model).param_defaults():
        params["device"] = "cpu"
    model = registry.create(run.model, **params)
    return model.load_state_dict(project.run_state(run.id))


def _crops(
    project: Project, view: str, split: str, label: str | None = None
) -> tuple[list[int], list[np.ndarray]]:
    ids = [s.id for s in project.samples(view=view, split=split, label=label)]
    return ids, [project.sample_image(i) for i in ids]


def choose_policy(
    project: Project, name: str | None, models: dict[str, Any], cancel: CancelToken
) -> tuple[ThresholdPolicy, str]:
    """(policy, note) from the project, or fitted on the validation normals when the project has none."""
    policies = project.policies
    if name is not None:
        if name not in policies:
            raise ValueError(
                f"project {project.name} has no policy {name!r}; policies: {', '.join(policies) or 'none'}"
            )
        return ThresholdPolicy.from_dict(policies[name]), f"policy {name!r} of the project"
    if "default" in policies:
        return ThresholdPolicy.from_dict(policies["default"]), "policy 'default' of the project"
    if len(policies) == 1:
        (only,) = policies
        return ThresholdPolicy.from_dict(policies[only]), f"policy {only!r} of the project"
    if policies:
        raise ValueError(
            f"project {project.name} has several policies ({', '.join(policies)}); pick one with --policy"
        )
    scores, views = [], []
    for view, model in models.items():
        split = "val"
        _, images = _crops(project, view, "val", "good")
        if not images:
            split = "train"
            _, images = _crops(project, view, "train", "good")
        if not images:
            raise ValueError(
                f"view {view!r} has no good validation or training samples to set a threshold from"
            )
        cancel.raise_if_cancelled()
        s, _ = model.predict(images, cancel=cancel)
        scores.extend(float(x) for x in s)
        views.extend([view] * len(s))
        log.info("view %s: threshold fitted on %d good %s samples", view, len(s), split)
    policy = fit_policy("false_alarm_rate", scores=scores, views=views, max_fpr=DEFAULT_MAX_FPR)
    return (
        policy,
        f"no policy in the project: fitted at export on good validation samples (max false-alarm rate {DEFAULT_MAX_FPR:g})",
    )


def export_station(
    project_path: str | os.PathLike,
    out: str | os.PathLike,
    run_ids: list[str] | None = None,
    policy: str | None = None,
    fusion: str = "any",
    missing: str = "ng",
    strict: bool = True,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> BundleResult:
    """Export the station at ``project_path`` to the bundle folder ``out``; returns paths, manifest, parity."""
    with Project.open(project_path) as project:
        runs = choose_runs(project, run_ids)
        views = project.views
        missing_views = [v for v in views if v not in runs]
        if missing_views:
            log.warning("views without a trained run are not exported: %s", ", ".join(missing_views))
        progress(0.0, "loading models")
        models = {v: load_model(project, r) for v, r in runs.items()}
        pol, note = choose_policy(project, policy, models, cancel)
        items = []
        for v, r in runs.items():
            ids, images = _crops(project, v, "test")
            note_v = ""
            if not images:
                ids, images = _crops(project, v, "val")
                note_v = "no test samples: parity checked on the validation split"
            items.append(
                ViewExport(
                    views[v], models[v], {"id": r.id, "model": r.model, "created": r.created, "meta": r.meta},
                    images, ids, note_v,
                )
            )  # fmt: skip
        rule = {}
        for s in reversed(project.sources):
            if "pass_rule" in s.meta:
                rule = dict(s.meta["pass_rule"])
                break
        station = {"name": project.name, "project": str(Path(project_path).resolve())}
        return write_bundle(
            out, items, pol, station=station, pass_rule=rule, fusion={"rule": fusion, "missing": missing},
            policy_note=note, strict=strict, progress=sub_progress(progress, 0.05, 1.0), cancel=cancel,
        )  # fmt: skip
