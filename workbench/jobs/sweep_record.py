"""A sweep's record in the project (``project.meta["sweeps"][id]``: its spec, every finished cell with its
runs, results, time and worker; failed and skipped cells) and what is read back from it: the sweep's
runs, each run's group, and the summary over seeds."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import numpy as np

from workbench.core.progress import CancelToken, ProgressFn
from workbench.jobs.staging import apply_outputs, read_outputs
from workbench.jobs.sweep_exec import Task

SWEEPS = "sweeps"


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


# --- the record in the project ----------------------------------------------------------------------
def sweep_records(project: Any) -> dict[str, Any]:
    return dict(project.meta.get(SWEEPS) or {})


def save_record(project: Any, sid: str, record: dict[str, Any]) -> None:
    sweeps = sweep_records(project)
    sweeps[sid] = record
    project.set_meta(SWEEPS, sweeps)


def sweep_runs(project: Any, sid: str | None = None) -> list[str]:
    """Run ids made by sweep ``sid`` (default: by any sweep), in cell order."""
    out = []
    for s, rec in sweep_records(project).items():
        if sid is None or s == sid:
            for cell in sorted(rec.get("cells", {}).values(), key=lambda c: c["index"]):
                out.extend(cell["runs"])
    known = {r.id for r in project.runs}
    return [r for r in out if r in known]


# --- the driver ----------------------------------------------------------------------------------
def record_cell(
    project: Any, sid: str, record: dict[str, Any], task: Task, source: str | bytes, info: dict[str, Any]
) -> dict[str, list[str]]:
    """Add a finished cell's runs and results to ``project`` and its line to the sweep's record (not saved)."""
    cell = task.cell
    outputs = read_outputs(source)
    ids = apply_outputs(
        project,
        outputs,
        task.stage.id_map,
        {"sweep": {"id": sid, "cell": cell.index, "label": cell.label, "group": cell.group}},
    )
    worker = outputs.get("worker", {})
    record["cells"][cell.key] = {
        "index": cell.index,
        "label": cell.label,
        "runs": ids["runs"],
        "results": ids["results"],
        "seconds": worker.get("seconds", info.get("seconds")),
        "host": worker.get("host", info.get("host")),
        "attempts": task.attempts,
        "finished": now_iso(),
    }
    record["failed"].pop(cell.key, None)
    save_record(project, sid, record)
    return ids


def group_key(run: Any) -> str:
    """The sweep group a run belongs to (its cell without the seed); the model name outside sweeps."""
    return str(run.meta.get("sweep", {}).get("group", run.model))


def summarize(project: Any, run_ids: list[str], progress: ProgressFn, cancel: CancelToken) -> list[dict]:
    """Evaluate the sweep's runs (reusing the predictions the cells made) and give mean +- std over seeds
    of image and pixel AUROC per view and group."""
    from workbench.jobs.evaluate import evaluate

    result = evaluate(project, run_ids, progress=progress, cancel=cancel)
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in result["runs"]:
        groups.setdefault((r["view"], group_key(project.run(r["run"]))), []).append(r)
    rows = []
    for (view, label), recs in groups.items():
        row: dict[str, Any] = {
            "view": view,
            "group": label,
            "runs": [r["run"] for r in recs],
            "seeds": [r["seed"] for r in recs],
        }
        for metric in ("image_auroc", "pixel_auroc"):
            vals = [r["metrics"]["all"].get(metric) for r in recs]
            vals = [float(v) for v in vals if isinstance(v, int | float) and np.isfinite(v)]
            row[metric] = (
                {
                    "mean": float(np.mean(vals)),
                    "std": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0,
                    "n": len(vals),
                }
                if vals
                else None
            )
        rows.append(row)
    return rows
