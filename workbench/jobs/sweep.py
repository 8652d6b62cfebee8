"""Run a sweep: every cell of a :class:`~workbench.jobs.sweep_plan.SweepSpec` becomes the runs a single
``workbench train`` would make, on an executor (local processes or a Ray cluster), then the evaluation.

Only this process writes the project, and it saves after every finished cell: the cell's runs,
results and the line in the sweep's record (``project.meta["sweeps"][id]["cells"]``) reach the file
in one atomic save. A sweep stopped at any moment (Ctrl-C, SIGKILL, a power cut) is continued by
running the same command again: finished cells are skipped, a cell that was running is redone, and
every cell ends up in the project exactly once. The CLI holds the project's writer lock for the
whole sweep, so nobody else writes the file meanwhile.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench import __version__
from workbench.core.progress import (
    NEVER_CANCEL,
    CancelToken,
    ProgressEvent,
    ProgressFn,
    no_progress,
    report,
    sub_progress,
)
from workbench.jobs.staging import Stage, pick_normals, stage_project
from workbench.jobs.sweep_exec import LocalExecutor, Task, default_workers
from workbench.jobs.sweep_plan import Cell, SweepSpec, expand
from workbench.jobs.sweep_record import (
    now_iso,
    record_cell,
    save_record,
    summarize,
    sweep_records,
    sweep_runs,
)
from workbench.jobs.sweep_views import base_views, window_view


class _Driver:
    """Handlers of the executor's reports: progress per cell and overall, and one save per finished cell."""

    def __init__(self, project, sid, record, total, progress, save, on_cell):
        self.project, self.sid, self.record, self.total = project, sid, record, total
        self.progress, self.save, self.on_cell = progress, save, on_cell
        self.running: dict[int, float] = {}
        self.failed: dict[str, str] = {}

    @property
    def done(self) -> int:
        return len(self.record["cells"])

    def _emit(self, message: str, **values: Any) -> None:
        frac = (self.done + sum(self.running.values())) / max(1, self.total)
        report(
            self.progress,
            min(frac, 1.0),
            message,
            cells=self.total,
            done=self.done,
            failed=len(self.failed),
            running=len(self.running),
            **values,
        )

    def started(self, task: Task, where: str) -> None:
        self.running[task.cell.index] = 0.0
        self._emit(
            f"{task.cell.label}: started ({where})",
            cell_index=task.cell.index,
            cell_state="running",
            cell_fraction=0.0,
        )

    def event(self, task: Task, event: ProgressEvent) -> None:
        if task.cell.key in self.record["cells"]:
            return  # a late word from a cell already saved
        f = event.fraction if event.fraction is not None else self.running.get(task.cell.index, 0.0)
        self.running[task.cell.index] = f
        extra = {k: v for k, v in event.values.items() if k in ("loss", "iteration", "val")}
        self._emit(
            f"{task.cell.label}: {event.message}",
            cell_index=task.cell.index,
            cell_state="running",
            cell_fraction=f,
            **extra,
        )

    def done_cell(self, task: Task, source: str | bytes, info: dict[str, Any]) -> None:
        cell = task.cell
        ids = record_cell(self.project, self.sid, self.record, task, source, info)
        if self.save:
            self.project.save()  # runs, results and the record together: all or nothing
        self.running.pop(cell.index, None)
        self._emit(f"{cell.label}: done", cell_index=cell.index, cell_state="done", cell_fraction=1.0)
        if self.on_cell is not None:
            self.on_cell(cell, ids)

    def failed_cell(self, task: Task, message: str) -> None:
        self.running.pop(task.cell.index, None)
        self.failed[task.cell.key] = message
        self.record["failed"][task.cell.key] = message
        self._emit(f"{task.cell.label}: failed: {message}", cell_index=task.cell.index, cell_state="failed")

    def retried(self, task: Task, message: str) -> None:
        self.running.pop(task.cell.index, None)
        self._emit(
            f"{task.cell.label}: {message}; running it again", cell_index=task.cell.index, cell_state="retry"
        )


class _HandlerAdapter:
    def __init__(self, d: _Driver):
        self.started, self.event, self.retried = d.started, d.event, d.retried
        self.done, self.failed = d.done_cell, d.failed_cell


def resolve_spec(project: Any, spec: SweepSpec) -> SweepSpec:
    """The spec with its views made explicit (default: every view not derived by a sweep); an unknown
    model or view is refused here, before any cell starts."""
    from workbench.models import registry

    known = registry.names()
    missing = [m for m in spec.models if m not in known]
    if missing:
        raise ValueError(f"sweep: unknown model {missing[0]!r}; known: {', '.join(sorted(known))}")
    views = list(spec.views) if spec.views else base_views(project)
    if not views:
        raise ValueError("the project has no views; define a view before a sweep")
    unknown = [v for v in views if v not in project.views]
    if unknown:
        raise ValueError(
            f"unknown view {unknown[0]!r}; the project's views: {', '.join(sorted(project.views))}"
        )
    return dataclasses.replace(spec, views=views)


def model_defaults(models: list[str]) -> dict[str, dict[str, Any]]:
    """Each registered model's parameter defaults (imports the models, hence torch)."""
    from workbench.models import registry

    return {m: registry.get(m).param_defaults() for m in models if m in registry.names()}


def plan(
    project: Any, spec: SweepSpec, defaults: dict[str, dict[str, Any]] | None = None
) -> tuple[list[Cell], dict[str, str]]:
    """(cells to run, {cell key: why it is skipped}); window views are created here (not saved).

    ``defaults`` (model -> parameter defaults) spares a caller without torch (the GUI) the model imports.
    """
    defaults = model_defaults(spec.models) if defaults is None else defaults
    cells, skipped = [], {}
    for cell in expand(spec, {**{m: {} for m in spec.models if m not in defaults}, **defaults}):
        views = list(cell.views or [])
        if cell.window is not None:
            views = [window_view(project, v, cell.window) for v in views]
        if cell.n_train is not None:
            short = [
                (v, n)
                for v in views
                if (n := len(project.samples(view=v, split="train", label="good"))) < cell.n_train
            ]
            if short:
                skipped[cell.key] = (
                    f"view {short[0][0]!r} has only {short[0][1]} training normals (< {cell.n_train})"
                )
                continue
        cells.append(dataclasses.replace(cell, views=tuple(views)))
    return cells, skipped


def _stage_for(project, cell: Cell, folder: Path, cache: dict, cancel) -> Stage:
    key = (cell.views, cell.n_train, cell.seed if cell.n_train is not None else None)
    if key not in cache:
        train_ids = None
        if cell.n_train is not None:
            train_ids = {
                v: pick_normals(
                    [s.id for s in project.samples(view=v, split="train", label="good")],
                    cell.n_train,
                    cell.seed,
                )
                for v in cell.views
            }
        cache[key] = stage_project(
            project, folder / f"stage{len(cache):04d}", list(cell.views), train_ids, cancel=cancel
        )
    return cache[key]


def work_folder(project: Any, sid: str) -> Path:
    """A fixed folder per project and sweep, so a sweep killed mid-way leaves nothing behind after it is resumed."""
    digest = hashlib.sha256(str(Path(project.path).resolve()).encode("utf-8")).hexdigest()[:8]
    return Path(tempfile.gettempdir()) / f"workbench-{sid}-{digest}"


@dataclasses.dataclass
class Prepared:
    """A sweep ready to run: its id, record (in the project's metadata), every cell and the tasks left."""

    sid: str
    spec: SweepSpec
    record: dict[str, Any]
    cells: list[Cell]
    tasks: list[Task]
    skipped: dict[str, str]

    @property
    def done_before(self) -> int:
        return len(self.cells) - len(self.tasks)


def prepare(
    project: Any,
    spec: SweepSpec,
    folder: Path,
    threads: int = 1,
    evaluate: bool = True,
    cancel: CancelToken = NEVER_CANCEL,
    defaults: dict[str, dict[str, Any]] | None = None,
) -> Prepared:
    """Find or start the sweep's record, create window views, and stage every cell still to run in
    ``folder``. Changes the project (record, window views) without saving it."""
    spec = resolve_spec(project, spec)
    sid = spec.id
    record = sweep_records(project).get(sid) or {
        "spec": spec.to_json(),
        "created": now_iso(),
        "cells": {},
        "failed": {},
        "skipped": {},
    }
    record.setdefault("failed", {})
    cells, skipped = plan(project, spec, defaults)
    record["skipped"] = skipped
    record["total"] = len(cells)
    save_record(project, sid, record)
    stages: dict = {}
    tasks = []
    for cell in cells:
        if cell.key in record["cells"]:
            continue
        cancel.raise_if_cancelled()
        job = {
            "model": cell.model,
            "params": cell.params,
            "views": list(cell.views),
            "seed": cell.seed,
            "device": spec.device,
        }
        params = {
            "key": cell.key,
            "job": job,
            "threads": int(threads),
            "robustness": spec.robustness,
            "evaluate": evaluate,
            "version": __version__,
        }
        tasks.append(Task(cell, params, _stage_for(project, cell, folder, stages, cancel)))
    return Prepared(sid, spec, record, cells, tasks, skipped)


def run_sweep(
    project: Any,
    spec: SweepSpec,
    executor: Any = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
    save: bool = True,
    evaluate: bool = True,
    on_cell: Callable[[Cell, dict], None] | None = None,
) -> dict[str, Any]:
    """Run every cell of ``spec`` not already in the project, saving after each; then the evaluation.

    Returns {'id', 'cells', 'done', 'ran', 'skipped', 'failed', 'runs', 'summary', 'executor'}.
    """
    if executor is None:
        workers, threads, gpus = default_workers(spec.device)
        executor = LocalExecutor(workers, threads, gpus)
    sid = resolve_spec(project, spec).id
    folder = work_folder(project, sid)
    shutil.rmtree(folder, ignore_errors=True)  # what a killed run of this sweep left behind
    folder.mkdir(parents=True)
    try:
        if isinstance(executor, LocalExecutor):
            executor.start()  # the workers import torch while the cells are staged here
        ready = prepare(project, spec, folder, getattr(executor, "threads", 1), evaluate, cancel)
        if save and project.dirty:
            project.save()  # window views and the record before any cell runs
        if isinstance(executor, LocalExecutor):
            executor.work_dir = folder
        where = executor.describe()
        cells_part = sub_progress(progress, 0.0, 0.9) if evaluate else progress
        total, before = len(ready.cells), ready.done_before
        report(
            cells_part,
            before / max(1, total),
            f"{sid}: {total} cells, {before} done, {len(ready.tasks)} to run on the {where}",
            cells=total,
            done=before,
        )
        driver = _Driver(project, sid, ready.record, total, cells_part, save, on_cell)
        executor.run(ready.tasks, _HandlerAdapter(driver), cancel)
    finally:
        if isinstance(executor, LocalExecutor):
            executor.close()  # workers started early when the preparation failed
        shutil.rmtree(folder, ignore_errors=True)
    record = ready.record
    if not record["failed"] and len(record["cells"]) == total:
        record["finished"] = now_iso()
    save_record(project, sid, record)
    summary = None
    runs = sweep_runs(project, sid)
    if evaluate and runs:
        summary = summarize(project, runs, sub_progress(progress, 0.9, 1.0), cancel)
    if save and project.dirty:
        project.save()
    return {
        "id": sid,
        "cells": total,
        "done": len(record["cells"]),
        "ran": len(record["cells"]) - before,
        "skipped": ready.skipped,
        "failed": dict(record["failed"]),
        "runs": runs,
        "summary": summary,
        "executor": where,
    }


def sweep_job(params: dict[str, Any], progress: ProgressFn, cancel: CancelToken) -> dict[str, Any]:
    """Job entry: params {'project': path, 'spec': SweepSpec JSON, 'workers'?: n, 'ray'?: address}."""
    from workbench.project import Project

    spec = SweepSpec.from_json(params["spec"])
    executor = make_executor(spec, params.get("workers"), params.get("ray"), params.get("threads"))
    with Project.open(params["project"], lock=True) as project:
        out = run_sweep(project, spec, executor, progress, cancel)
    return json.loads(json.dumps(out, default=str))


def make_executor(
    spec: SweepSpec, workers: int | None = None, ray_address: str | None = None, threads: int | None = None
) -> Any:
    """The local executor (``workers`` cells at a time, default one per core or GPU) or a Ray one.

    ``threads`` is each cell's torch thread count (default: the cores shared out on this workstation,
    1 on a cluster); results are the same numbers on either executor for the same thread count.
    """
    from workbench.jobs.sweep_exec import usable_cores

    w, t, gpus = default_workers(spec.device)
    if workers:
        w = int(workers)
        if not gpus:
            t = max(1, usable_cores() // w)
    if ray_address:
        from workbench.jobs.sweep_ray import RayExecutor

        return RayExecutor(ray_address, threads=threads or 1, gpus=gpus)
    return LocalExecutor(w, threads or t, gpus)


__all__ = ["run_sweep", "prepare", "record_cell", "sweep_job", "make_executor", "window_view", "sweep_runs"]
