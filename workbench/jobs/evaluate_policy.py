"""Threshold policies for a run: fitted on the validation split only, stored apart, applied to stored scores.

A stored policy is exactly :meth:`ThresholdPolicy.to_dict` (so every reader can rebuild it); its
``params`` say which run it was fitted on (``run``), on what (``fitted_on`` = "val", ``n_val``) and the
target. Applying a policy reads the stored scores or maps; it never runs a model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.jobs.evaluate_data import EvaluationError, SplitData, ensure_split, labelled_samples
from workbench.jobs.evaluate_metrics import NA, nan_reason
from workbench.jobs.evaluate_rates import INTERVAL_NOTE, breakdown, confusion_with_intervals, normals_record
from workbench.metrics import ThresholdPolicy, UndefinedMetricError, apply_policy, fit_policy
from workbench.metrics.size_policy import fit_size_policy
from workbench.project.types import ViewInfo

# CLI words -> ThresholdPolicy sources
SOURCES = {"far": "false_alarm_rate", "precision": "precision", "f1": "f1", "iou": "iou"}
TARGET_PARAM = {"far": "max_fpr", "precision": "min_precision"}
DEFAULT_TARGET = {"far": 0.01, "precision": 0.95}
KINDS = ("threshold", "size")


def default_policy_name(run_id: str, source: str, target: float | None) -> str:
    """A readable default name, e.g. 'run3-far0.01' or 'run3-f1'."""
    return f"{run_id}-{source}" + ("" if target is None else f"{target:g}")


def policy_runs(stored: dict, run_views: dict[str, str]) -> dict[str, str] | None:
    """{view: run id} a stored policy was made for (``run_views``: {run id: view}); None when it names no run.

    The CLI's policies name one run (``params.run``, ``params.view``); the Thresholds pane's name a run
    per view (``params.runs``).
    """
    params = stored.get("params", {}) if isinstance(stored, dict) else {}
    runs = params.get("runs")
    if isinstance(runs, dict) and runs:
        return {str(v): str(r) for v, r in runs.items()}
    run = params.get("run")
    if run:
        return {str(params.get("view") or run_views.get(str(run), "")): str(run)}
    return None


def _zones(view: ViewInfo | None, shape: tuple[int, int]) -> dict | None:
    if view is None or view.zones is None or not view.zone_names or view.zones.shape != shape:
        return None
    return {view.name: (view.zones, list(view.zone_names))}


def fit_run_policy(
    project,
    run_id: str,
    source: str,
    target: float | None = None,
    level: str | None = None,
    min_area: int = 0,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
    kind: str = "threshold",
) -> ThresholdPolicy:
    """A policy for ``run_id`` fitted on its validation split (never the test split).

    ``source``: 'far' (``target`` = the highest false-alarm rate on validation normals, default 0.01),
    'precision' (``target`` = the lowest precision, default 0.95), 'f1' or 'iou' (best value; 'iou'
    works on pixels). ``level`` 'image' or 'pixel' (default: 'pixel' for 'iou', else 'image');
    ``min_area`` is the pixel-level area rule. ``kind`` 'size' fits one pixel-level threshold per
    defect size class (seed 000; sources far, f1 and precision, see :mod:`workbench.metrics.size_policy`).
    """
    if kind not in KINDS:
        raise EvaluationError(f"policy kind: expected one of {', '.join(KINDS)}, found {kind!r}")
    if kind == "size":
        if source == "iou":
            raise EvaluationError("a size-class policy is fitted with far, f1 or precision, not iou")
        if level not in (None, "pixel"):
            raise EvaluationError("a size-class policy works on anomaly-map pixels (level pixel)")
        level = "pixel"
    if source not in SOURCES:
        raise EvaluationError(f"policy source: expected one of {', '.join(SOURCES)}, found {source!r}")
    if target is not None and source not in TARGET_PARAM:
        raise EvaluationError(f"policy source '{source}' takes no target (it picks the best {source} value)")
    level = level or ("pixel" if source == "iou" else "image")
    if level not in ("image", "pixel"):
        raise EvaluationError(f"policy level: expected 'image' or 'pixel', found {level!r}")
    if source == "iou" and level != "pixel":
        raise EvaluationError("an IoU policy is a pixel-level policy (IoU compares flagged and GT pixels)")
    run = project.run(run_id)
    if not labelled_samples(project, run.view, "val"):
        raise EvaluationError(
            f"run {run_id} (view '{run.view}') has no validation sample labelled good or defective; policies "
            "are fitted on the validation split, never on the test split"
        )
    val = ensure_split(project, run_id, "val", with_maps=level == "pixel", progress=progress, cancel=cancel)
    reason = nan_reason(val) or (nan_reason(val, maps=True) if level == "pixel" else None)
    if reason:
        raise EvaluationError(reason)
    params: dict[str, Any] = {}
    if source in TARGET_PARAM:
        target = DEFAULT_TARGET[source] if target is None else float(target)
        if not 0.0 <= target <= 1.0:
            raise EvaluationError(f"policy target for '{source}': expected a value in [0, 1], found {target}")
        params[TARGET_PARAM[source]] = target
    if source == "far" and not (~val.labels).any():
        raise EvaluationError(f"run {run_id}: no normal validation sample to measure false alarms on")
    data = val
    if level == "pixel":
        keep = ~val.labels | val.has_gt  # defectives without a GT mask have unknown pixels
        data = val.subset(keep)
    n = len(data.samples)
    views = [run.view] * n
    try:
        if kind == "size":
            policy = fit_size_policy(
                SOURCES[source], data.maps, data.masks, views,
                roi=None if data.roi is None else {run.view: data.roi}, **params,
            )  # fmt: skip
        elif level == "image":
            policy = fit_policy(
                SOURCES[source], scores=data.scores, labels=data.labels, views=views, **params
            )
        else:
            shape = data.maps[0].shape
            policy = fit_policy(
                SOURCES[source],
                maps=data.maps,
                masks=data.masks,
                views=views,
                roi=None if data.roi is None else {run.view: data.roi},
                zones=_zones(project.views.get(run.view), shape),
                min_area=int(min_area),
                **params,
            )
    except (UndefinedMetricError, ValueError) as exc:
        raise EvaluationError(
            f"run {run_id}: cannot fit a '{source}' {kind} policy on the validation split: {exc}"
        ) from None
    n_normals = int((~data.labels).sum())
    policy.params.update(
        run=run_id, view=run.view, fitted_on="val", n_val=n, n_normals=n_normals, cli_source=source
    )
    return policy


def normals_behind(project, stored: dict, view: str) -> tuple[int | None, str]:
    """(how many normal samples a stored policy's threshold for ``view`` rests on, where they are).

    A fitted policy records ``n_normals`` (one number, or one per view); one that does not (older
    projects, the Thresholds pane's hand-set sliders) rests on the good samples of the split it was set
    on (``fitted_on`` or ``split_shown``), counted now. None when the policy says nothing of its origin.
    """
    params = stored.get("params", {}) if isinstance(stored, dict) else {}
    split = params.get("fitted_on") or params.get("split_shown")
    where = {"val": "validation", "train": "training", "test": "test"}.get(str(split), str(split))
    n = params.get("n_normals")
    if isinstance(n, dict):
        n = n.get(view)
    if isinstance(n, int | float) and not isinstance(n, bool):
        return int(n), where
    if split in ("val", "train", "test"):
        good = [s for s in project.samples(view=view, split=split, label="good") if not s.synthetic]
        return len(good), where
    return None, "unknown"


def policy_for_run(
    name: str, stored: dict, test: SplitData, view: ViewInfo | None, project=None
) -> dict[str, Any]:
    """TP/FP/TN/FN, precision, recall, FPR, FNR (each with its 95 % interval) of a stored policy on a
    run's test data, per defect type and zone too, and how many normals the threshold rests on; or an NA.

    ``project`` lets the record count the normals of a policy that did not record them.
    """
    try:
        policy = ThresholdPolicy.from_dict(stored)
    except (ValueError, KeyError, TypeError) as exc:
        return {"name": name, "na": NA(f"policy '{name}' cannot be read: {exc}")}
    fitted_on = policy.params.get("run")
    run = test.run
    if fitted_on and fitted_on != run.id:
        return {
            "name": name,
            "na": NA(
                f"policy '{name}' was fitted on {fitted_on}'s scores; a threshold does not carry over to {run.id}"
            ),
        }
    reason = nan_reason(test) or (nan_reason(test, maps=True) if policy.level == "pixel" else None)
    if policy.level == "pixel" and test.maps is None:
        reason = "a pixel-level policy needs the stored anomaly maps"
    if reason:
        return {"name": name, "na": NA(reason)}
    n = len(test.samples)
    shape = test.samples[0].height, test.samples[0].width
    verdicts = apply_policy(
        policy,
        test.scores,
        views=[run.view] * n,
        maps=test.maps if policy.level == "pixel" else None,
        zones=_zones(view, shape),
        roi=None if test.roi is None else {run.view: test.roi},
    )
    verdicts = np.asarray(verdicts, bool)
    if project is not None:
        n, where = normals_behind(project, stored, run.view)
    else:
        n, where = policy.params.get("n_normals"), str(policy.params.get("fitted_on", "unknown"))
        n = n.get(run.view) if isinstance(n, dict) else n
    zones = _zones(view, shape)
    zone_img, zone_names = zones[run.view] if zones else (None, [])
    return {
        "name": name,
        "level": policy.level,
        "source": policy.source,
        "threshold": policy.threshold_for(run.view),
        "kind": policy.kind,
        "size_thresholds": policy.per_size.get(run.view),
        "params": {k: v for k, v in policy.params.items() if isinstance(v, int | float | str)},
        **normals_record(n, where),
        **confusion_with_intervals(verdicts, test.labels),
        **breakdown(
            policy,
            test.samples,
            test.labels,
            verdicts,
            test.masks,
            test.maps,
            run.view,
            zone_img,
            zone_names,
            test.roi,
        ),  # fmt: skip
        "interval": INTERVAL_NOTE,
    }
