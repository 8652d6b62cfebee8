"""Train a model per view on a project's normal training samples and score its test split.

A job: ``train_job(params, progress, cancel) -> {"runs": [...], "results": [...]}``. Everything is
computed first and written to the project only at the end, so a cancelled job leaves it unchanged.

Each run records what it learned from (``meta``): the training sample ids (``train_ids``), whether the
view's ROI masked training and inference (``masking``: "roi" or "none", seed 000's ablation), and the
training-time augmentation (``train_augmentation``, the robustness section's augmentations).
"""

from __future__ import annotations

import resource
import time
from typing import Any

from workbench.core.augment import TrainAugmentation
from workbench.core.progress import (
    NEVER_CANCEL,
    CancelToken,
    ProgressFn,
    no_progress,
    phase_progress,
    report,
    sub_progress,
)
from workbench.core.view_roi import effective_roi
from workbench.models import registry
from workbench.models.plan import DEFAULT_BUDGET_S, can_plan, plan_train


def _peak_rss_bytes() -> int:
    # ru_maxrss is the process-wide peak (kilobytes on Linux): an upper bound for this fit.
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def train_views(
    project: Any,
    model: str,
    params: dict[str, Any] | None = None,
    views: list[str] | None = None,
    seed: int | None = None,
    device: str | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
    *,
    roi: bool = True,
    augment: TrainAugmentation | dict | None = None,
    budget_s: float | None = None,
) -> dict[str, list[str]]:
    """Fit ``model`` once per view (train split, label good; ROI dilated by its margin), store runs and
    test-split results in ``project`` (not saved: the caller saves); returns their ids.

    ``roi`` False trains (and so scores) on the whole crop, as seed 000's unmasked runs; ``augment``
    adds augmented copies of the training images (a :class:`TrainAugmentation` or its dict; its seed
    defaults to ``seed``).

    Before each view's fit the planner (:mod:`workbench.models.plan`) predicts its time and memory
    within ``budget_s`` (default 10 minutes per view), sets what the defaults leave open (the working
    size of large images, a trained model's training time) and refuses a fit that would not fit in
    memory. Each plan is reported before its fit starts (progress values ``plan``: the text, and
    ``plan_fit_s``, ``plan_predict_s``, ``plan_peak_ram_bytes``).
    """
    params = dict(params or {})
    if isinstance(augment, dict):
        augment = TrainAugmentation.from_dict({"seed": seed or 0, **augment})
    known = registry.get(model).param_defaults()
    if seed is not None and "seed" in known:
        params["seed"] = seed
    if device is not None and "device" in known:
        params["device"] = device
    all_views = project.views
    names = list(views) if views else sorted(all_views)
    if not names:
        raise ValueError("the project has no views; define a view before training")
    unknown = [v for v in names if v not in all_views]
    if unknown:
        raise ValueError(f"unknown view {unknown[0]!r}; the project's views: {', '.join(sorted(all_views))}")
    pending = []
    for k, name in enumerate(names):
        step = sub_progress(progress, k / len(names), (k + 1) / len(names))
        view = all_views[name]
        train = project.samples(view=name, split="train", label="good")
        if not train:
            raise ValueError(f"view {name!r} has no normal samples in the train split; nothing to learn from")
        images = [project.sample_image(s.id) for s in train]
        view_roi = effective_roi(view, images[0].shape[:2]) if roi else None
        n_original = len(images)
        if augment is not None:
            images = augment.apply(images)
        test = project.samples(view=name, split="test")
        plan = None
        if can_plan(model):
            plan = plan_train(
                model, params, len(images), [im.shape for im in images], len(test),
                DEFAULT_BUDGET_S if budget_s is None else float(budget_s),
            )  # fmt: skip
            report(
                step, 0.0, f"{name}: planned", plan=f"view {name}: " + plan.describe(),
                plan_fit_s=plan.fit_s, plan_predict_s=plan.predict_s, plan_peak_ram_bytes=plan.peak_ram_bytes,
            )  # fmt: skip
        # The progress bar's share of the fit is its share of the planned time, so the ETA holds early.
        split = 0.8 if plan is None or plan.total_s <= 0 else min(0.98, max(0.02, plan.fit_s / plan.total_s))
        estimator = registry.create(model, **params, **(plan.chosen if plan else {}))
        t0, c0 = time.perf_counter(), time.process_time()
        fit_progress = phase_progress(sub_progress(step, 0.0, split), "fit")
        estimator.fit(images, roi=view_roi, progress=fit_progress, cancel=cancel)
        fit_s, fit_cpu_s = time.perf_counter() - t0, time.process_time() - c0
        peak = _peak_rss_bytes()
        meta = {
            "train_seconds": round(fit_s, 3),
            "train_cpu_seconds": round(fit_cpu_s, 3),  # all threads: comparable under load
            "peak_rss_bytes": peak,
            "peak_memory_mb": round(peak / 2**20, 1),
            "n_train": n_original,
            "train_ids": [s.id for s in train],
            "masking": "roi" if view_roi is not None else "none",
        }
        if augment is not None:
            meta["train_augmentation"] = {**augment.to_dict(), "n_images": len(images)}
        if callable(getattr(estimator, "resolved", None)):  # defaults chosen at fit time (e.g. by device)
            meta["resolved"] = estimator.resolved()
        if plan is not None:
            meta["plan"] = {
                "fit_s": round(plan.fit_s, 1), "predict_s": round(plan.predict_s, 1),
                "peak_ram_bytes": plan.peak_ram_bytes, "chosen": plan.chosen, "notes": list(plan.notes),
                "fit_cpu_s": plan.fit_cpu_s, "predict_cpu_s": plan.predict_cpu_s, "load": plan.load,
            }  # fmt: skip
        result = None
        if test:
            t0, c0 = time.perf_counter(), time.process_time()
            scores, maps = estimator.predict(
                [project.sample_image(s.id) for s in test],
                progress=phase_progress(sub_progress(step, split, 1.0), "predict", len(test)),
                cancel=cancel,
            )
            predict_s, predict_cpu_s = time.perf_counter() - t0, time.process_time() - c0
            meta["inference_ms_per_image"] = round(1000.0 * predict_s / len(test), 2)
            timing = {"predict_s": round(predict_s, 3), "predict_cpu_s": round(predict_cpu_s, 3)}
            result = ([s.id for s in test], scores, maps, timing)
        pending.append((name, estimator, meta, result))
    cancel.raise_if_cancelled()
    runs, results = [], []
    for name, estimator, meta, result in pending:
        rid = project.add_run(model, name, estimator.get_params(), estimator.state_dict(), meta)
        runs.append(rid)
        if result is not None:
            ids, scores, maps, rmeta = result
            results.append(project.add_result(rid, ids, scores, maps, rmeta))
    progress(1.0, f"trained {len(runs)} run(s)")
    return {"runs": runs, "results": results}


def train_described(
    project, job: dict[str, Any], progress: ProgressFn, cancel: CancelToken
) -> dict[str, list[str]]:
    """:func:`train_views` with its arguments from a job's dict: 'model', 'params', 'views', 'seed',
    'device', 'roi' (default True), 'augment' (TrainAugmentation dict or None), 'budget_s' (the
    planner's time budget per view)."""
    return train_views(
        project,
        job["model"],
        job.get("params"),
        job.get("views"),
        job.get("seed"),
        job.get("device"),
        progress,
        cancel,
        roi=job.get("roi", True),
        augment=job.get("augment"),
        budget_s=job.get("budget_s"),
    )


def train_job(params: dict[str, Any], progress: ProgressFn, cancel: CancelToken) -> dict[str, list[str]]:
    """Job entry: params {'project': path} and :func:`train_described`'s keys; saves the project."""
    from workbench.project import Project

    project = Project.open(params["project"], lock=True)
    try:
        out = train_described(project, params, progress, cancel)
        project.save()
        return out
    finally:
        project.close()
