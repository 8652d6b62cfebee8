"""Training in a worker process with live progress, loss and cancel, and a model service process for
the model catalogue, memory estimates and nearest-patch look-ups: the window itself never loads torch.

Both talk through multiprocessing queues that a QTimer drains in the GUI thread in small slices, so
no event waits on a child. See :mod:`workbench.gui.train_worker` for the children's side.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import queue
import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from workbench.gui import train_worker
from workbench.gui.station_model import StationModel

POLL_MS = 30
SLICE_S = 0.02  # the longest a poll keeps the GUI thread
KILL_AFTER_MS = 600  # a child that has not stopped by then is terminated (cancel stops within a second)


def _context() -> Any:
    return mp.get_context("spawn")  # fork would copy Qt's threads and locks into the child


class ChildJob(QObject):
    """A job in a child process that streams events ('progress', f, msg), ('loss', v, iteration), ('done', x),
    ('cancelled',), ('error', msg) through a queue; cancel sets an Event, then kills if needed.

    Signals: ``progressed(fraction or None, message)``, ``lossed(iteration, loss)``, ``finished(x)``,
    ``failed(message)``, ``cancelled()``.
    """

    progressed = Signal(object, str)
    lossed = Signal(int, float)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, model: StationModel, parent: QObject | None = None):
        super().__init__(parent)
        self.model = model
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        self._proc: Any = None
        self._events: Any = None
        self._cancel: Any = None
        self._folder: str | None = None
        self._cancel_requested = False
        self._losses = 0
        self.running = False

    def _begin(self) -> None:
        if self.running:
            raise RuntimeError("a job of this kind is already running")
        self.running, self._cancel_requested, self._losses = True, False, 0

    def _launch(self, target: Callable, args: tuple, what: str) -> None:
        """Start ``target(*args, events, cancel_event)`` in a spawned child and poll its events."""
        if self._cancel_requested:
            self._end(self.cancelled.emit)
            return
        ctx = _context()
        self._events, self._cancel = ctx.Queue(), ctx.Event()
        self._proc = ctx.Process(
            target=target, args=(*args, self._events, self._cancel), daemon=True, name=what
        )
        self._proc.start()
        self.progressed.emit(None, "Starting the worker process …")
        self._timer.start()

    def cancel(self) -> None:
        """Stop the job; nothing reaches the project. A child that does not stop in time is killed."""
        if not self.running or self._cancel_requested:
            return
        self._cancel_requested = True
        if self._cancel is not None:
            self._cancel.set()
            QTimer.singleShot(KILL_AFTER_MS, self._kill)

    def _kill(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            self._proc.terminate()
        if self.running and self._cancel_requested:
            self._end(self.cancelled.emit)

    def _poll(self) -> None:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < SLICE_S:
            try:
                event = self._events.get_nowait()
            except (queue.Empty, OSError, ValueError):
                break
            self._handle(event)
            if not self.running or self._proc is None:
                return
        if self._proc is not None and not self._proc.is_alive() and self._events.empty() and self.running:
            if self._cancel_requested:
                self._end(self.cancelled.emit)
            else:
                self._end_failed(
                    f"the training process stopped unexpectedly (exit code {self._proc.exitcode})"
                )

    def _handle(self, event: tuple) -> None:
        kind = event[0]
        if kind == "progress" and not self._cancel_requested:
            self.progressed.emit(event[1], event[2])
        elif kind == "loss":
            self._losses += 1  # the training's own iteration when it says it, else the n-th report
            it = event[2] if len(event) > 2 and event[2] is not None else self._losses
            self.lossed.emit(int(it), float(event[1]))
        elif kind == "cancelled" or (kind == "done" and self._cancel_requested):
            self._end(self.cancelled.emit)
        elif kind == "error":
            self._end_failed(event[1])
        elif kind == "done":
            self._stop_child()
            self._done(event[1])

    def _done(self, payload: Any) -> None:
        self._end(lambda: self.finished.emit(payload))

    def _stop_child(self) -> None:
        self._timer.stop()
        if self._proc is not None:
            self._proc.join(0.05)
            if self._proc.is_alive():
                self._proc.terminate()
        self._proc = None

    def _end(self, emit: Callable[[], None]) -> None:
        self._stop_child()
        if self._events is not None:
            self._events.cancel_join_thread()
        self._events = self._cancel = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
        if self.running:
            self.running = False
            emit()

    def _end_failed(self, message: str) -> None:
        self._end(lambda: self.failed.emit(message))

    def shutdown(self) -> None:
        self._cancel_requested = True
        if self._cancel is not None:
            self._cancel.set()
        if self._proc is not None and self._proc.is_alive():
            self._proc.terminate()
        self._end(lambda: None)


class TrainProcess(ChildJob):
    """One training job: stage on the I/O thread, train in a child, add the runs to the open project;
    ``finished`` carries {'runs', 'results'} once the project holds them."""

    def start(self, job: dict[str, Any]) -> None:
        """``job``: {'model', 'params', 'views', 'seed', 'device'} as for ``workbench.jobs.train``."""
        self._begin()
        folder = self._folder = tempfile.mkdtemp(prefix="workbench-train-")
        self.progressed.emit(None, "Reading the training samples …")
        self.model.call(
            lambda p: train_worker.stage_inputs(p, job, folder),
            lambda _job: self._launch(train_worker.train_child, (folder,), "workbench-train"),
            lambda e: self._end_failed(str(e)),
        )

    def _done(self, payload: Any) -> None:
        self.progressed.emit(1.0, "Adding the runs to the station …")
        folder = self._folder
        self.model.edit(
            lambda p: train_worker.apply_outputs(p, folder),
            "Train",
            on_done=lambda ids: self._end(lambda: self.finished.emit(ids)),
            on_error=lambda e: self._end_failed(str(e)),
        )


class ReportProcess(ChildJob):
    """Writes the HTML report of the saved station file in a child; ``finished`` carries index.html's path."""

    def start(self, project_path: str, out_dir: str, policy: str | None, robustness: bool) -> None:
        self._begin()
        self._launch(
            train_worker.report_child, (project_path, out_dir, policy, robustness), "workbench-report"
        )


class ModelService(QObject):
    """A long-lived helper process: ``ask(kind, kwargs, on_done, on_error)`` answers in the GUI thread.

    Kinds: 'catalogue' (every model's ``describe``), 'estimate' (memory planner plus available RAM)
    and 'explain' (PatchCore's nearest normal patch). The process starts on the first question.
    """

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._proc: Any = None
        self._requests: Any = None
        self._replies: Any = None
        self._waiting: dict[int, tuple[Callable, Callable]] = {}
        self._tokens = itertools.count(1)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    @property
    def busy(self) -> bool:
        return bool(self._waiting)

    def ask(
        self,
        kind: str,
        kwargs: dict[str, Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[str], None],
    ) -> None:
        """Queue a question (the queue's feeder thread pickles large arguments, not the GUI thread)."""
        if self._proc is None or not self._proc.is_alive():
            ctx = _context()
            self._requests, self._replies = ctx.Queue(), ctx.Queue()
            self._proc = ctx.Process(
                target=train_worker.service_child,
                args=(self._requests, self._replies),
                daemon=True,
                name="workbench-models",
            )
            self._proc.start()
            for token, (_ok, err) in list(self._waiting.items()):
                del self._waiting[token]
                err("the model service stopped; ask again")
        token = next(self._tokens)
        self._waiting[token] = (on_done, on_error)
        self._requests.put((token, kind, kwargs))
        self._timer.start()

    def _poll(self) -> None:
        t0 = time.perf_counter()
        while self._waiting and time.perf_counter() - t0 < SLICE_S:
            try:
                token, status, value = self._replies.get_nowait()
            except (queue.Empty, OSError, ValueError):
                break
            on_done, on_error = self._waiting.pop(token, (None, None))
            if on_done is not None:
                (on_done if status == "ok" else on_error)(value)
        if self._waiting and self._proc is not None and not self._proc.is_alive():
            waiting, self._waiting = self._waiting, {}
            for _ok, err in waiting.values():
                err(f"the model service stopped (exit code {self._proc.exitcode})")
        if not self._waiting:
            self._timer.stop()

    def shutdown(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            try:
                self._requests.put(None)
                self._proc.join(0.5)
            except (OSError, ValueError):
                pass
            if self._proc.is_alive():
                self._proc.terminate()
        self._proc = None
        self._waiting.clear()
        self._timer.stop()
