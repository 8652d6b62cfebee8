"""Evaluate runs on the test split: every metric per run and view, timings, an optional threshold policy,
and statistics over seeds; JSON-able, with "n/a" and its reason wherever a value does not exist.

A run without stored scores on the test (and validation) split is predicted first with its stored
weights and the result is added to the project (never re-trained); stored results are reused. The
caller saves the project. Real and synthetic defects are evaluated apart when the test split holds
synthetic samples (seed 000's tables 4-7), and the synthetic ones give each run's detection and miss
rates per defect type, size and zone under the threshold policy in use (``miss_rates``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress, sub_progress
from workbench.jobs.evaluate_data import (
    THRESHOLD_TRAIN_NORMALS,
    EvaluationError,
    SplitData,
    ensure_split,
    labelled_samples,
    run_masking,
)
from workbench.jobs.evaluate_masking import masking_comparison
from workbench.jobs.evaluate_metrics import (
    NA,
    compact_metrics,
    counts_of,
    image_metrics,
    pixel_metrics,
    rates_from_normals,
    recall_at_precisions,
    size_misses,
)
from workbench.jobs.evaluate_policy import policy_for_run
from workbench.jobs.evaluate_rates import INTERVAL_NOTE
from workbench.jobs.evaluate_stats import statistics
from workbench.jobs.miss_rate import run_miss_rates
from workbench.jobs.splits import leak_warnings, training_leaks
from workbench.metrics.intervals import SMALL_VALIDATION_NORMALS
from workbench.metrics.policy import DETECTION_DEFINITION, VERDICT_DEFINITION
from workbench.project.types import RunInfo

DEFINITIONS = {
    "verdict": VERDICT_DEFINITION,
    "detection": DETECTION_DEFINITION,
    "interval": f"every rate k/n carries its two-sided {INTERVAL_NOTE} (intervals: value, k, n, ci_low, ci_high)",
    "small_validation": f"a threshold resting on fewer than {SMALL_VALIDATION_NORMALS} normal samples",
}
TRAIN_KEYS = ("train_seconds", "train_s", "fit_seconds", "train_time_s", "fit_s")
INFER_KEYS = ("inference_ms_per_image", "infer_ms_per_image", "inference_ms", "ms_per_image")
MEMORY_KEYS = ("peak_memory_mb", "peak_gpu_memory_mb", "peak_cuda_mb", "peak_rss_mb", "peak_mem_mb")


def run_seed(run: RunInfo) -> int | None:
    """The run's seed: its parameter ``seed``, else ``meta["seed"]``, else None."""
    for where in (run.params, run.meta):
        if isinstance(where.get("seed"), int | float):
            return int(where["seed"])
    return None


def _flat_meta(meta: dict) -> dict:
    flat = dict(meta)
    for key in ("timings", "timing", "memory", "resources"):
        if isinstance(meta.get(key), dict):
            flat.update(meta[key])
    return flat


def _first(meta: dict, keys: tuple[str, ...]) -> tuple[float, str] | None:
    for k in keys:
        v = meta.get(k)
        if isinstance(v, int | float) and math.isfinite(v):
            return float(v), k
    return None


def timings(run: RunInfo, measured_ms: float | None) -> dict[str, Any]:
    """Train seconds, inference ms/image and peak memory (MB) from the run's meta, each or an NA."""
    meta = _flat_meta(run.meta)
    out: dict[str, Any] = {}
    train = _first(meta, TRAIN_KEYS)
    out["train_seconds"] = train[0] if train else NA("the run's metadata holds no training time")
    infer = _first(meta, INFER_KEYS)
    if infer:
        out["inference_ms_per_image"] = infer[0]
    elif measured_ms is not None:
        out["inference_ms_per_image"] = measured_ms
        out["inference_note"] = "measured when the evaluation predicted the test split"
    else:
        out["inference_ms_per_image"] = NA("no inference time in the run's metadata or results")
    mem = _first(meta, MEMORY_KEYS)
    if mem is None and isinstance(meta.get("peak_memory_bytes"), int | float):
        mem = (float(meta["peak_memory_bytes"]) / 2**20, "peak_memory_bytes")
    out["peak_memory_mb"] = mem[0] if mem else NA("the run's metadata holds no peak memory")
    if mem:
        out["memory_source"] = mem[1]
    if isinstance(meta.get("device"), str):
        out["device"] = meta["device"]
    return out


def training_record(project, run: RunInfo) -> dict[str, Any]:
    """``training_samples`` (how many, which now sit in val or test) and ``warnings`` about them."""
    ids = (run.meta or {}).get("train_ids")
    if not isinstance(ids, list):
        return {
            "training_samples": NA(
                "the run did not record its training samples (trained before they were kept)"
            ),
            "warnings": [],
        }
    moved = training_leaks(project, [run]).get(run.id, {})
    return {
        "training_samples": {
            "n": len(ids),
            "now_in_val": moved.get("val", []),
            "now_in_test": moved.get("test", []),
        },
        "warnings": leak_warnings({run.id: moved}) if moved else [],
    }


def _optional_split(
    project, run_id, split, progress, cancel, models, with_maps=True, limit=None
) -> SplitData | None:
    run = project.run(run_id)
    if not labelled_samples(project, run.view, split):
        return None
    return ensure_split(
        project, run_id, split, with_maps=with_maps, progress=progress, cancel=cancel, models=models,
        limit=limit,
    )  # fmt: skip


def _subsets(test: SplitData) -> dict[str, SplitData]:
    """'all', and when synthetic defects exist 'real' (real samples only) and 'synthetic' (normals too)."""
    out = {"all": test}
    if (test.labels & test.synthetic).any():
        out["real"] = test.subset(~test.synthetic)
        out["synthetic"] = test.subset(test.synthetic | ~test.labels)
    return out


def evaluate_run(
    project,
    run_id: str,
    policy: tuple[str, dict] | None = None,
    keep_data: bool = False,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> dict[str, Any]:
    """Every metric of one run on the test split of its view (validation values beside them).

    ``policy`` is (name, stored policy dict). With ``keep_data`` the record keeps the SplitData of
    test and validation under ``"_data"`` (for report figures; dropped from JSON).
    """
    run = project.run(run_id)
    models: dict = {}  # the run's model, loaded once for every split that needs predicting
    test = ensure_split(
        project, run_id, "test", progress=sub_progress(progress, 0.0, 0.6), cancel=cancel, models=models
    )
    val = _optional_split(project, run_id, "val", sub_progress(progress, 0.6, 0.8), cancel, models)
    normals, source, available = None, "validation", None
    if val is not None and (~val.labels).any():
        normals = val.scores[~val.labels]
    else:
        # Only the training normals' scores set thresholds: their maps (hundreds of full-size images)
        # would cost memory and project space for nothing.
        part = sub_progress(progress, 0.8, 0.9)
        # At most THRESHOLD_TRAIN_NORMALS of them, spread over the split (the record says how many).
        train = _optional_split(
            project, run_id, "train", part, cancel, models, with_maps=False, limit=THRESHOLD_TRAIN_NORMALS
        )
        if train is not None and (~train.labels).any():
            normals, source = train.scores[~train.labels], "training"
            available = train.normals_available
    # Predictions are done: the model goes before the pixel metrics take their share of memory (at
    # 500 + 200 images of 1130x460, PatchCore's bank alone is 159 MB, AUPRO's peak 2.1 GB).
    models.clear()
    cancel.raise_if_cancelled()
    progress(0.9, f"{run_id}: metrics")
    subsets = {}
    for name, data in _subsets(test).items():
        subsets[name] = {**image_metrics(data), **pixel_metrics(data)}
        cancel.raise_if_cancelled()
    record: dict[str, Any] = {
        "run": run.id,
        "model": run.model,
        "view": run.view,
        "seed": run_seed(run),
        "params": run.params,
        "masking": run_masking(run),
        "train_augmentation": (run.meta or {}).get("train_augmentation"),
        "counts": {"test": counts_of(test), "val": counts_of(val) if val is not None else None},
        "predicted_now": test.predicted + (val.predicted if val is not None else 0),
        "results": test.result_ids,
        "metrics": subsets,
        "val_metrics": compact_metrics(val) if val is not None else NA("the view has no validation split"),
        "rates_at_tnr": rates_from_normals(test, normals, source, available),
        "recall_at_precision": recall_at_precisions(val, test),
        "size_misses": size_misses(test, subsets["all"]["image_f1_threshold"]),
        "timings": timings(run, test.inference_ms),
        "miss_rates": run_miss_rates(project, test, normals, source, policy),
    }
    record.update(training_record(project, run))
    if policy is not None:
        record["policy"] = policy_for_run(policy[0], policy[1], test, project.views.get(run.view), project)
    if keep_data:
        record["_data"] = {"test": test, "val": val}
    progress(1.0, f"{run_id}: done")
    return record


def evaluate(
    project,
    run_ids: list[str] | None = None,
    policy: str | None = None,
    keep_data: bool = False,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> dict[str, Any]:
    """Evaluate the given runs (default: all) and compare them; raises EvaluationError on bad input.

    Returns {"runs": [record per run], "statistics": {...}, "policy": name or None}.
    """
    runs = project.runs
    known = {r.id for r in runs}
    ids = list(run_ids) if run_ids else [r.id for r in runs]
    if not ids:
        raise EvaluationError(f"project {project.name} has no trained run to evaluate; train a model first")
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise EvaluationError(
            f"unknown run(s) {', '.join(unknown)}; runs in project {project.name}: {', '.join(sorted(known)) or 'none'}"
        )
    if not project.samples(split="test"):
        raise EvaluationError(
            f"project {project.name} has no test split: assign splits first (the test split is what is evaluated)"
        )
    stored = None
    if policy is not None:
        policies = project.policies
        if policy not in policies:
            raise EvaluationError(
                f"no threshold policy '{policy}' in project {project.name} "
                f"(policies: {', '.join(sorted(policies)) or 'none'}; create one with `workbench policy`)"
            )
        stored = (policy, policies[policy])
    records = []
    for k, rid in enumerate(ids):
        cancel.raise_if_cancelled()
        part = sub_progress(progress, k / len(ids), (k + 1) / len(ids))
        records.append(evaluate_run(project, rid, stored, keep_data, part, cancel))
    stats = statistics(records)  # also labels each record's model configuration ("group")
    return {
        "project": str(project.path),
        "split": "test",
        "policy": policy,
        "runs": records,
        "statistics": stats,
        "masking": masking_comparison(records),
        "definitions": DEFINITIONS,
    }


def to_json(obj: Any) -> Any:
    """The evaluation as plain JSON: NA -> {"na": reason}, numpy numbers -> float/int, no private keys."""
    if isinstance(obj, NA):
        return {"na": obj.reason}
    if isinstance(obj, dict):
        return {str(k): to_json(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, list | tuple):
        return [to_json(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating | float):
        v = float(obj)
        return v if math.isfinite(v) else {"na": f"not a finite number ({v})"}
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj
