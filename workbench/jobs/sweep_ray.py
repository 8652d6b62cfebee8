"""Sweep cells on an existing Ray cluster (``workbench sweep --ray ADDRESS``; the optional ``cluster``
extra). The workstation puts each staged copy into Ray's object store once; a worker writes it to its
own temporary folder, trains the cell there and returns the runs as the bytes of one npz. The
workstation alone writes the project.

A worker lost mid-cell (its process or its whole machine) is retried by Ray itself (``max_retries``),
on another node when needed; an error raised by the cell (a bad parameter) is not retried. Every
cell sets the same torch thread count as on the local executor, so the results are the same numbers.
Progress goes from the workers to a small actor on the workstation's node, read every 0.2 s.
"""

from __future__ import annotations

import time
from typing import Any

from workbench.core.progress import Cancelled, CancelToken, Progress, ProgressEvent
from workbench.jobs.sweep_exec import Task

EVENT_EVERY_S = 0.5  # a worker sends at most two progress events a second per cell


def _import_ray():
    try:
        import ray
    except ImportError:
        raise RuntimeError(
            "--ray needs Ray on this workstation and on every worker: pip install 'anomaly-workbench[cluster]'"
        ) from None
    return ray


class _Events:
    """Collects workers' progress messages; the workstation drains them."""

    def __init__(self) -> None:
        self.items: list[tuple] = []

    def put(self, item: tuple) -> None:
        self.items.append(item)

    def drain(self) -> list[tuple]:
        out, self.items = self.items, []
        return out


def _cell_task(params: dict[str, Any], stage_bytes: bytes, events: Any) -> bytes:
    """Runs on a Ray worker: one sweep cell; progress as ('event', index, dict) to ``events``."""
    import os
    import socket

    from workbench.jobs.sweep_cell import cell_bytes

    index = params["index"]
    where = f"{socket.gethostname()} pid {os.getpid()}"
    events.put.remote(("started", index, where))
    last = [0.0]

    def sink(e: ProgressEvent) -> None:
        now = time.monotonic()
        if now - last[0] >= EVENT_EVERY_S or e.fraction == 1.0:
            last[0] = now
            events.put.remote(("event", index, e.to_dict()))

    return cell_bytes(params, stage_bytes, Progress(sink), CancelToken())


class RayExecutor:
    """The same tasks as :class:`~workbench.jobs.sweep_exec.LocalExecutor`, on a Ray cluster."""

    name = "ray"

    def __init__(self, address: str, threads: int = 1, gpus: bool = False, retries: int = 3):
        self.address, self.threads, self.gpus, self.retries = address, int(threads), gpus, int(retries)
        self._ray = _import_ray()
        self._connected = False

    def _connect(self) -> None:
        if self._connected:
            return
        ray = self._ray
        try:
            ray.init(
                address=self.address, namespace="workbench", log_to_driver=False, logging_level="WARNING"
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise RuntimeError(f"--ray {self.address}: cannot join the Ray cluster ({exc})") from None
        self._connected = True

    def describe(self) -> str:
        self._connect()
        nodes = [n for n in self._ray.nodes() if n.get("Alive")]
        cpus = sum(int(n.get("Resources", {}).get("CPU", 0)) for n in nodes)
        return f"Ray cluster at {self.address} ({len(nodes)} nodes, {cpus} CPUs, {self.threads} thread(s) per cell)"

    def close(self) -> None:
        if self._connected:
            self._ray.shutdown()
            self._connected = False

    def run(self, tasks: list[Task], handlers: Any, cancel: CancelToken) -> None:
        self._connect()
        ray = self._ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        cpus = max((n.get("Resources", {}).get("CPU", 0) for n in ray.nodes() if n.get("Alive")), default=0)
        if cpus < self.threads:
            raise RuntimeError(
                f"--ray {self.address}: no node of the cluster has {self.threads} CPU(s) for a cell "
                f"(the largest has {cpus:g}); start workers with `ray start --address {self.address}`"
            )
        # On the workstation's own node (it needs no CPU there): a lost worker node must not take the
        # progress of every other cell with it.
        here = ray.get_runtime_context().get_node_id()
        events = (
            ray.remote(num_cpus=0)(_Events)
            .options(scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False))
            .remote()
        )
        remote = ray.remote(
            num_cpus=self.threads,
            num_gpus=1 if self.gpus else 0,
            max_retries=self.retries,
            retry_exceptions=False,
        )(_cell_task)
        staged: dict[str, Any] = {}
        refs: dict[Any, Task] = {}
        by_index = {t.cell.index: t for t in tasks}
        for task in tasks:
            path = str(task.stage.path)
            if path not in staged:
                staged[path] = ray.put(task.stage.path.read_bytes())
            refs[remote.remote({**task.params, "index": task.cell.index}, staged[path], events)] = task
        try:
            while refs:
                if cancel.cancelled:
                    raise Cancelled("cancelled by the user")
                ready, _ = ray.wait(list(refs), num_returns=1, timeout=0.2)
                self._forward(self._drain(events), by_index, handlers)
                for ref in ready:
                    task = refs.pop(ref)
                    try:
                        data = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:  # the cell itself raised
                        handlers.failed(task, str(exc.cause) if getattr(exc, "cause", None) else str(exc))
                        continue
                    except ray.exceptions.RayError as exc:  # workers lost more often than the retries
                        handlers.failed(
                            task, f"lost its worker {task.attempts} time(s): {type(exc).__name__}"
                        )
                        continue
                    self._forward(self._drain(events), by_index, handlers)
                    handlers.done(task, data, {})
        finally:
            for ref in refs:
                ray.cancel(ref, force=True)
            try:
                ray.kill(events)
            except ray.exceptions.RayError:
                pass

    def _drain(self, events: Any) -> list[tuple]:
        """The workers' progress so far; progress is best effort: a lost collector loses words, not cells."""
        try:
            return self._ray.get(events.drain.remote(), timeout=10)
        except self._ray.exceptions.RayError:
            return []

    def _forward(self, items: list[tuple], by_index: dict[int, Task], handlers: Any) -> None:
        for kind, index, payload in items:
            task = by_index.get(index)
            if task is None:
                continue
            if kind == "started":
                if task.attempts:  # Ray started it again: the worker it ran on was lost
                    handlers.retried(task, f"worker lost (attempt {task.attempts})")
                task.attempts += 1
                handlers.started(task, f"ray {payload}")
            else:
                handlers.event(task, ProgressEvent.from_dict(payload))
