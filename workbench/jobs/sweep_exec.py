"""Where sweep cells run: the embedded local executor (one child process per free core or GPU, no
server) and, as an optional extra, a Ray cluster (:mod:`workbench.jobs.sweep_ray`). Both take the same
tasks and report through the same callbacks; neither writes the project (the sweep driver does).

A worker that disappears mid-cell (killed, out of memory, a lost machine) is retried up to
``retries`` times; an error the cell raises itself (a bad parameter) is not, it would only fail again.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from workbench.core.progress import Cancelled, CancelToken, ProgressEvent
from workbench.jobs.runner import ChildRun
from workbench.jobs.staging import Stage, read_outputs
from workbench.jobs.sweep_plan import Cell


@dataclass
class Task:
    """A cell ready to run: the cell job's parameters (model, params, views, seed, threads, ...) and its
    staged copy. ``attempts`` counts starts."""

    cell: Cell
    params: dict[str, Any]
    stage: Stage
    attempts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Handlers(Protocol):
    """What an executor tells the sweep driver, always in the driver's thread."""

    def started(self, task: Task, where: str) -> None: ...
    def event(self, task: Task, event: ProgressEvent) -> None: ...
    def done(self, task: Task, outputs: dict[str, Any], info: dict[str, Any]) -> None: ...
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
    """Cells in spawned child processes on this workstation, ``workers`` at a time."""

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

    def describe(self) -> str:
        what = (
            f"{self.workers} GPU(s)"
            if self.gpus
            else f"{self.workers} process(es) x {self.threads} thread(s)"
        )
        return f"local executor, {what}"

    def run(self, tasks: list[Task], handlers: Handlers, cancel: CancelToken) -> None:
        if self.work_dir is None:
            raise ValueError("LocalExecutor needs a work folder")
        pending = deque(tasks)
        running: dict[int, tuple[Task, ChildRun, int | None]] = {}
        free_gpus = list(range(self.workers)) if self.gpus else []
        try:
            while pending or running:
                if cancel.cancelled:
                    raise Cancelled("cancelled by the user")
                while pending and len(running) < self.workers:
                    task = pending.popleft()
                    gpu = free_gpus.pop(0) if self.gpus else None
                    out = self.work_dir / "cells" / f"{task.cell.index:05d}"
                    params = {**task.params, "stage": str(task.stage.path), "out": str(out), "gpu": gpu}
                    task.attempts += 1
                    run = ChildRun("sweep_cell", params, name=f"workbench-cell-{task.cell.index}").start()
                    running[task.cell.index] = (task, run, gpu)
                    handlers.started(task, f"local pid {run.pid}")
                for index, (task, run, gpu) in list(running.items()):
                    for msg in run.poll(max_s=0.05, wait_s=0.05 / max(1, len(running))):
                        if msg.kind == "event":
                            handlers.event(task, msg.event)
                            continue
                        del running[index]
                        if gpu is not None:
                            free_gpus.append(gpu)
                        if msg.kind == "done":
                            handlers.done(task, read_outputs(msg.result["outputs"]), msg.result)
                        elif msg.kind == "lost" and task.attempts <= self.retries:
                            handlers.retried(task, msg.error)
                            pending.appendleft(task)
                        elif msg.kind == "cancelled":
                            raise Cancelled("cancelled by the user")
                        else:
                            handlers.failed(task, msg.error)
        finally:
            for _task, run, _gpu in running.values():
                run.cancel()
            for _task, run, _gpu in running.values():
                run.stop()
