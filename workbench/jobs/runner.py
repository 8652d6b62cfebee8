"""One job runner for the CLI, the GUI and sweeps: a job runs inline or in a child process, and its
progress arrives as :class:`~workbench.core.progress.ProgressEvent` objects (fraction, message, the
numbers such as the loss, elapsed time and ETA), never as text to parse.

A job is a plain function ``job(params, progress, cancel) -> result`` (JSON-able params and result).
Jobs that run in another process are named by reference, ``"package.module:function"``, and only
references inside the ``workbench`` package are accepted, so a queue or a cluster message can never
make a child import arbitrary code.

Messages from a child (:class:`Message`): ``event`` (a ProgressEvent), ``done`` (the result),
``cancelled``, ``error`` (one line and a short traceback) and ``lost`` (the process ended without a
word, e.g. killed).
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench.core.progress import (
    NEVER_CANCEL,
    Cancelled,
    CancelToken,
    Progress,
    ProgressEvent,
    ProgressFn,
)

JobFn = Callable[[dict[str, Any], ProgressFn, CancelToken], Any]

# The jobs the GUI and the sweeps start by name.
JOBS = {
    "train": "workbench.jobs.train:train_job",
    "train_staged": "workbench.jobs.staging:train_staged_job",
    "sweep_cell": "workbench.jobs.sweep_cell:cell_job",
    "sweep": "workbench.jobs.sweep:sweep_job",
    "sweep_cells": "workbench.jobs.sweep_exec:cells_job",
}


def resolve(job: str | JobFn) -> JobFn:
    """The job function for a name in :data:`JOBS`, a ``"workbench.module:function"`` reference, or itself."""
    if callable(job):
        return job
    ref = JOBS.get(job, job)
    module, sep, name = ref.partition(":")
    if not sep or not name or not (module == "workbench" or module.startswith("workbench.")):
        raise ValueError(
            f"unknown job {job!r}; expected one of {', '.join(JOBS)} or 'workbench.module:function'"
        )
    fn = getattr(importlib.import_module(module), name, None)
    if not callable(fn):
        raise ValueError(f"job {job!r}: {module} has no function {name!r}")
    return fn


def run_inline(
    job: str | JobFn,
    params: dict[str, Any],
    on_event: Callable[[ProgressEvent], None] | None = None,
    cancel: CancelToken = NEVER_CANCEL,
) -> Any:
    """Run ``job`` in this thread; every progress report reaches ``on_event`` as a ProgressEvent."""
    progress = Progress(on_event or (lambda _e: None))
    return resolve(job)(params, progress, cancel)


@dataclass(frozen=True)
class Message:
    """What a child job says: kind is 'event', 'done', 'cancelled', 'error' or 'lost'."""

    kind: str
    event: ProgressEvent | None = None
    result: Any = None
    error: str = ""
    detail: str = ""


class EventToken(CancelToken):
    """A cancel token backed by a multiprocessing Event, so a parent can stop its child."""

    def __init__(self, event: Any):
        super().__init__(event)


def _exit_with_parent() -> None:
    """End this child when its parent dies (a killed window or sweep must not leave workers computing)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _run_one(job: str, params: dict[str, Any], events: Any, token: CancelToken) -> None:
    try:
        fn = resolve(job)
        result = fn(params, Progress(lambda e: events.put(("event", e.to_dict()))), token)
        token.raise_if_cancelled()
        events.put(("done", result))
    except Cancelled:
        events.put(("cancelled",))
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the parent as a message
        events.put(("error", str(exc) or type(exc).__name__, traceback.format_exc(limit=8)))


def child_main(job: str, params: dict[str, Any], events: Any, cancel_event: Any) -> None:
    """Entry of a child process: run ``job`` and put plain tuples on ``events`` (see :func:`_decode`)."""
    _exit_with_parent()
    _run_one(job, params, events, EventToken(cancel_event))


def worker_main(requests: Any, events: Any, cancel_event: Any, preload: tuple[str, ...] = ()) -> None:
    """Entry of a long-lived worker: run (job, params) requests one after another until None.
    ``preload``: jobs imported at once (torch and the models), while the parent still prepares work."""
    _exit_with_parent()
    token = EventToken(cancel_event)
    for job in preload:
        resolve(job)
    while True:
        request = requests.get()
        if request is None:
            return
        _run_one(request[0], request[1], events, token)


def _decode(item: tuple) -> Message:
    kind = item[0]
    if kind == "event":
        return Message("event", event=ProgressEvent.from_dict(item[1]))
    if kind == "done":
        return Message("done", result=item[1])
    if kind == "error":
        return Message("error", error=item[1], detail=item[2] if len(item) > 2 else "")
    return Message(kind)


def spawn_context() -> Any:
    """'spawn' everywhere: fork would copy a GUI's threads and locks, and torch's thread pools."""
    return mp.get_context("spawn")


class ChildRun:
    """One job in a spawned child process. ``poll()`` returns its messages without blocking for long;
    ``cancel()`` asks it to stop (it raises Cancelled within a second); ``kill()`` ends it at once."""

    def __init__(
        self,
        job: str,
        params: dict[str, Any],
        name: str = "workbench-job",
        ctx: Any = None,
        exit_wait_s: float = 0.5,
        daemon: bool = True,
    ):
        resolve(job)  # a bad name fails here, in the caller's words, not later in the child
        # daemon=False for a job that starts processes itself (a sweep's executor); the child still ends
        # with its parent (see _exit_with_parent).
        self.job, self.params, self.name, self.daemon = job, params, name, daemon
        # how long a finished child may take to exit before it is terminated; 0: never wait (a GUI
        # thread must not block while torch shuts down; the daemon child ends on its own)
        self.exit_wait_s = exit_wait_s
        self._ctx = ctx or spawn_context()
        self._events: Any = None
        self._cancel: Any = None
        self._proc: Any = None
        self.finished = False

    def start(self) -> ChildRun:
        self._events, self._cancel = self._ctx.Queue(), self._ctx.Event()
        self._proc = self._ctx.Process(
            target=child_main,
            args=(self.job, self.params, self._events, self._cancel),
            daemon=self.daemon,
            name=self.name,
        )
        self._proc.start()
        return self

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    @property
    def exitcode(self) -> int | None:
        return None if self._proc is None else self._proc.exitcode

    def poll(self, max_s: float = 0.02, wait_s: float = 0.0) -> list[Message]:
        """Messages that arrived (waiting up to ``wait_s`` for the first); at most ``max_s`` spent reading."""
        out: list[Message] = []
        if self._events is None or self.finished:
            return out
        t0 = time.perf_counter()
        timeout = wait_s
        while True:
            try:
                item = self._events.get(timeout=timeout) if timeout > 0 else self._events.get_nowait()
            except (queue.Empty, OSError, ValueError, EOFError):
                break
            timeout = 0.0
            msg = _decode(item)
            out.append(msg)
            if msg.kind in ("done", "cancelled", "error"):
                self._job_ended()
                return out
            if time.perf_counter() - t0 >= max_s:
                return out
        if self._proc is not None and not self._proc.is_alive():
            # Gone without a final word (killed, out of memory): drain what is left, then say so.
            try:
                while True:
                    msg = _decode(self._events.get(timeout=0.05))
                    out.append(msg)
                    if msg.kind in ("done", "cancelled", "error"):
                        self._job_ended()
                        return out
            except (queue.Empty, OSError, ValueError, EOFError):
                pass
            self.finished = True
            out.append(
                Message(
                    "lost", error=f"the worker process stopped unexpectedly (exit code {self._proc.exitcode})"
                )
            )
            self._reap()
        return out

    def wait(
        self, on_message: Callable[[Message], None] | None = None, cancel: CancelToken = NEVER_CANCEL
    ) -> Message:
        """Block until the job ends (forwarding messages); cancelling ``cancel`` cancels the child."""
        while True:
            if cancel.cancelled:
                self.cancel()
            for msg in self.poll(max_s=0.2, wait_s=0.2):
                if on_message is not None:
                    on_message(msg)
                if msg.kind != "event":
                    return msg

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()

    def stop(self, grace_s: float = 2.0) -> None:
        """Cancel, give the child ``grace_s`` to end cleanly, then kill it."""
        self.cancel()
        if self._proc is not None:
            self._proc.join(grace_s)
        self.kill()

    def kill(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
        self._reap()

    def _job_ended(self) -> None:
        self.finished = True
        self._reap()

    def _reap(self) -> None:
        if self._proc is not None:
            self._proc.join(self.exit_wait_s)
            if self._proc.is_alive() and self.exit_wait_s > 0:
                self._proc.terminate()
                self._proc.join(self.exit_wait_s)
        if self._events is not None:
            self._events.cancel_join_thread()


class WorkerProcess(ChildRun):
    """A long-lived child that runs jobs one after another, so each job does not pay for starting a
    process and importing torch again. ``submit`` a job when ``idle``; ``poll`` gives that job's
    messages as for :class:`ChildRun` ('lost' when the process dies: start another worker)."""

    def __init__(self, name: str = "workbench-worker", ctx: Any = None, preload: tuple[str, ...] = ()):
        for job in preload:
            resolve(job)
        self.name, self._ctx, self.preload = name, ctx or spawn_context(), tuple(preload)
        self.exit_wait_s, self.daemon = 0.5, True
        self._events = self._cancel = self._proc = self._requests = None
        self.finished = True  # no job yet

    def start(self) -> WorkerProcess:
        self._requests, self._events, self._cancel = self._ctx.Queue(), self._ctx.Queue(), self._ctx.Event()
        self._proc = self._ctx.Process(
            target=worker_main,
            args=(self._requests, self._events, self._cancel, self.preload),
            daemon=True,
            name=self.name,
        )
        self._proc.start()
        return self

    @property
    def idle(self) -> bool:
        return self.finished and self.alive

    def submit(self, job: str, params: dict[str, Any]) -> None:
        resolve(job)
        if not self.idle:
            raise RuntimeError("the worker is busy or gone")
        self._cancel.clear()
        self.finished = False
        self._requests.put((job, params))

    def _job_ended(self) -> None:
        self.finished = True  # the process stays, ready for the next job

    def stop(self, grace_s: float = 2.0) -> None:
        """Cancel the running job, ask the worker to end, kill it when it does not."""
        self.cancel()
        if self._requests is not None and self._proc is not None and self._proc.is_alive():
            try:
                self._requests.put(None)
            except (OSError, ValueError):
                pass
            self._proc.join(grace_s)
        self.kill()
        if self._requests is not None:
            self._requests.cancel_join_thread()
