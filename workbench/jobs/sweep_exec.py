"""Where sweep cells run: the embedded local executor (one child process per free core or GPU, no
server) and, as an optional extra, a Ray cluster (:mod:`workbench.jobs.sweep_ray`). Both take the same
tasks and report through the same callbacks; neither writes the project (the sweep driver does).

A worker that disappears mid-cell (killed, out of memory, a lost machine) is retried up to
``retries`` times; an error the cell raises itself (a bad parameter) is not, it would only fail again.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from workbench.core.progress import Cancelled, CancelToken, ProgressEvent
from workbench.jobs.runner import WorkerProcess
from workbench.jobs.staging import Stage
from workbench.jobs.sweep_plan import Cell


@dataclass
class Task:
    """A cell ready to run: the cell job's parameters (model, params, views, seed, threads, ...) and its
    staged copy. ``attempts`` counts starts."""

    cell: Cell
    params: dict[str, Any]
    stage: Stage
    attempts: int = 0

    def to_json(self) -> dict[str, Any]:
        cell = dataclasses.asdict(self.cell)
        cell["views"] = list(self.cell.views or [])
        cell["varying"] = list(self.cell.varying)
        return {"cell": cell, "params": self.params, "stage": self.stage.to_json(), "attempts": self.attempts}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Task:
        c = dict(d["cell"])
        c["views"], c["varying"] = tuple(c["views"]), tuple(c["varying"])
        return cls(Cell(**c), d["params"], Stage.from_json(d["stage"]), int(d.get("attempts", 0)))


class Handlers(Protocol):
    """What an executor tells the sweep driver, always in the driver's thread."""

    def started(self, task: Task, where: str) -> None: ...
    def event(self, task: Task, event: ProgressEvent) -> None: ...
    def done(self, task: Task, outputs: str | bytes, info: dict[str, Any]) -> None:
        """``outputs``: the cell's npz, as a file path or its bytes (see staging.read_outputs)."""

    def failed(self, task: Task, message: str) -> None: ...
    def retried(self, task: Task, message: str) -> None: ...


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cuda_devices() -> int:
    """CUDA devices torch sees (0 without torch's CUDA build or without a GPU)."""
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:  # noqa: BLE001 - no usable CUDA means CPU cells
        return 0


def default_workers(device: str | None) -> tuple[int, int, bool]:
    """(parallel cells, torch threads per cell, one GPU per cell) for this workstation."""
    cores = usable_cores()
    gpus = cuda_devices() if device in (None, "auto", "cuda") else 0
    if gpus:
        return gpus, max(1, cores // gpus), True
    return cores, 1, False


class LocalExecutor:
    """Cells in long-lived child processes on this workstation, ``workers`` at a time."""

    name = "local"

    def __init__(
        self,
        workers: int,
        threads: int = 1,
        gpus: bool = False,
        retries: int = 2,
        work_dir: Path | None = None,
    ):
        if workers < 1:
            raise ValueError(f"--workers: expected at least 1; found {workers}")
        self.workers, self.threads, self.gpus, self.retries = int(workers), int(threads), gpus, int(retries)
        self.work_dir = work_dir
        self._slots: list[WorkerProcess | None] | None = None  # started early by start()

    def describe(self) -> str:
        what = (
            f"{self.workers} GPU(s)"
            if self.gpus
            else f"{self.workers} process(es) x {self.threads} thread(s)"
        )
        return f"local executor, {what}"

    def start(self) -> None:
        """Start the worker processes now (they import torch and the models meanwhile), so that the
        sweep's preparation and their start overlap; :meth:`run` starts any that are missing."""
        slots = self._slots or [None] * self.workers
        for k, w in enumerate(slots):
            if w is None or not w.alive:
                slots[k] = WorkerProcess(name=f"workbench-cell-worker-{k}", preload=("sweep_cell",)).start()
        self._slots = slots

    def close(self) -> None:
        """Stop workers that :meth:`start` started and no :meth:`run` took over."""
        for w in self._slots or []:
            if w is not None:
                w.stop()
        self._slots = None

    def run(self, tasks: list[Task], handlers: Handlers, cancel: CancelToken) -> None:
        if self.work_dir is None:
            raise ValueError("LocalExecutor needs a work folder")
        pending = list(tasks)
        # One long-lived worker per slot (GPU k for slot k): a cell does not pay again for a process
        # and for importing torch. A worker that dies is replaced.
        slots: list[WorkerProcess | None] = self._slots or [None] * self.workers
        self._slots = None  # stopped at the end of this run
        running: dict[int, tuple[Task, int]] = {}  # slot -> (task, slot)
        seconds: dict[str, list[float]] = {}  # model -> durations of its finished cells
        began: dict[int, float] = {}  # cell index -> when it was handed to a worker (monotonic)

        def fill() -> None:
            for k in range(self.workers):
                if not pending or k in running:
                    continue
                if slots[k] is None or not slots[k].alive:
                    slots[k] = WorkerProcess(
                        name=f"workbench-cell-worker-{k}", preload=("sweep_cell",)
                    ).start()
                now = time.monotonic()
                elapsed: dict[str, float] = {}
                for t_run, _slot in running.values():
                    m = t_run.cell.model
                    elapsed[m] = max(elapsed.get(m, 0.0), now - began.get(t_run.cell.index, now))
                task = pending.pop(_longest(pending, seconds, elapsed))
                began[task.cell.index] = now
                out = self.work_dir / "cells" / f"{task.cell.index:05d}"
                gpu = k if self.gpus else None
                params = {**task.params, "stage": str(task.stage.path), "out": str(out), "gpu": gpu}
                task.attempts += 1
                slots[k].submit("sweep_cell", params)
                running[k] = (task, k)
                handlers.started(task, f"local pid {slots[k].pid}")

        try:
            while pending or running:
                if cancel.cancelled:
                    raise Cancelled("cancelled by the user")
                fill()
                ended: list[tuple[Task, Any]] = []
                for k, (task, _) in list(running.items()):
                    for msg in slots[k].poll(max_s=0.05, wait_s=0.05 / max(1, len(running))):
                        if msg.kind == "event":
                            handlers.event(task, msg.event)
                            continue
                        del running[k]
                        ended.append((task, msg))
                        if msg.kind == "done":
                            seconds.setdefault(task.cell.model, []).append(
                                float(msg.result.get("seconds", 0.0))
                            )
                if ended and not cancel.cancelled:
                    # A freed worker starts its next cell before the driver records this one (reading
                    # the outputs and saving the project take seconds; the core must not wait for them).
                    fill()
                for task, msg in ended:
                    if msg.kind == "done":
                        handlers.done(task, msg.result["outputs"], msg.result)
                    elif msg.kind == "lost" and task.attempts <= self.retries:
                        handlers.retried(task, msg.error)
                        pending.insert(0, task)
                    elif msg.kind == "cancelled":
                        raise Cancelled("cancelled by the user")
                    else:
                        handlers.failed(task, msg.error)
        finally:
            for w in slots:
                if w is not None:
                    w.cancel()
            for w in slots:
                if w is not None:
                    w.stop()


def _longest(
    pending: list[Task], seconds: dict[str, list[float]], running: dict[str, float] | None = None
) -> int:
    """Index of the next cell: a model neither timed nor running first (one cell each, to learn its time),
    then the longest expected (a finished model's mean time; a model whose first cell still runs at least
    the time that cell has run so far), so the last cells running are short ones and the cores finish
    together."""
    running = running or {}

    def expected(t: Task) -> float:
        done = seconds.get(t.cell.model)
        if done:
            return sum(done) / len(done)
        return running.get(t.cell.model, float("inf"))

    return max(range(len(pending)), key=lambda i: (expected(pending[i]), -i))


class _Reporter:
    """Handlers for a sweep run away from the project (the GUI's child): every report becomes a progress
    event with the cell's numbers; a finished cell's outputs file is named in the event."""

    def __init__(self, progress: Any, total: int, out: Path):
        self.progress, self.total, self.out = progress, total, out
        self.fractions: dict[int, float] = {}
        self.done_n = 0
        self.failures: dict[int, str] = {}

    def _emit(self, task: Task, message: str, **values: Any) -> None:
        from workbench.core.progress import report

        frac = (self.done_n + sum(self.fractions.values())) / max(1, self.total)
        report(
            self.progress,
            min(frac, 1.0),
            f"{task.cell.label}: {message}",
            cell_index=task.cell.index,
            **values,
        )

    def started(self, task: Task, where: str) -> None:
        self.fractions[task.cell.index] = 0.0
        self._emit(task, f"started ({where})", cell_state="running", cell_fraction=0.0)

    def event(self, task: Task, event: ProgressEvent) -> None:
        if task.cell.index not in self.fractions:
            return
        f = event.fraction if event.fraction is not None else self.fractions[task.cell.index]
        self.fractions[task.cell.index] = f
        extra = {k: v for k, v in event.values.items() if k in ("loss", "iteration", "val")}
        self._emit(task, event.message, cell_state="running", cell_fraction=f, **extra)

    def done(self, task: Task, outputs: str | bytes, info: dict[str, Any]) -> None:
        if isinstance(outputs, bytes):
            path = self.out / f"{task.cell.index:05d}.npz"
            path.write_bytes(outputs)
            outputs = str(path)
        self.fractions.pop(task.cell.index, None)
        self.done_n += 1
        self._emit(
            task, "done", cell_state="done", cell_fraction=1.0, outputs=outputs, attempts=task.attempts
        )

    def failed(self, task: Task, message: str) -> None:
        self.fractions.pop(task.cell.index, None)
        self.failures[task.cell.index] = message
        self._emit(task, f"failed: {message}", cell_state="failed", error=message)

    def retried(self, task: Task, message: str) -> None:
        self.fractions.pop(task.cell.index, None)
        self._emit(task, f"{message}; running it again", cell_state="retry")


def cells_job(params: dict[str, Any], progress: Any, cancel: CancelToken) -> dict[str, Any]:
    """Job entry (a child of the GUI): run ``params['tasks']`` on the local executor (``workers``) or on
    Ray (``ray``: address); progress events name each finished cell's outputs file (``outputs``).
    The caller adds them to its project."""
    work = Path(params["work"])
    tasks = [Task.from_json(t) for t in params["tasks"]]
    threads = int(params.get("threads") or 1)
    if params.get("ray"):
        from workbench.jobs.sweep_ray import RayExecutor

        executor: Any = RayExecutor(params["ray"], threads=threads)
    else:
        executor = LocalExecutor(int(params.get("workers") or usable_cores()), threads, work_dir=work)
    out = work / "outputs"
    out.mkdir(parents=True, exist_ok=True)
    handlers = _Reporter(progress, len(tasks), out)
    try:
        executor.run(tasks, handlers, cancel)
    finally:
        close = getattr(executor, "close", None)
        if close is not None:
            close()
    return {"done": handlers.done_n, "failed": {str(k): v for k, v in handlers.failures.items()}}
