"""Jobs in worker processes with live progress, loss and cancel, and a model service process for the
model catalogue, the plans of fits and nearest-patch look-ups: the window itself never loads torch.

Jobs run through the job runner (:class:`workbench.jobs.runner.ChildRun`), whose structured progress
events (fraction, message, numbers such as the loss) a QTimer drains in the GUI thread in small
slices, so no event waits on a child. Training works on a staged copy of the station
(:mod:`workbench.jobs.staging`) and only the window adds the runs to the open project.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from workbench.gui import train_worker
from workbench.gui.station_model import StationModel
from workbench.jobs.runner import ChildRun, Message

POLL_MS = 30
SLICE_S = 0.02  # the longest a poll keeps the GUI thread
KILL_AFTER_MS = 600  # a child that has not stopped by then is killed (cancel stops within a second)


def _context() -> Any:
    return mp.get_context("spawn")  # fork would copy Qt's threads and locks into the child


class ChildJob(QObject):
    """A runner job in a child process; cancel asks it to stop, then kills it if needed.

    Signals: ``evented(ProgressEvent)`` for every event, ``progressed(fraction or None, message)``,
    ``lossed(iteration, loss)`` when an event carries a loss, ``finished(x)``, ``failed(message)``,
    ``cancelled()``.
    """

    evented = Signal(object)
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
        self._run: ChildRun | None = None
        self._folder: str | None = None
        self._cancel_requested = False
        self._losses = 0
        self.running = False

    @property
    def _proc(self) -> ChildRun | None:
        """The running child (None before it starts and after it ends)."""
        return self._run

    def _begin(self) -> None:
        if self.running:
            raise RuntimeError("a job of this kind is already running")
        self.running, self._cancel_requested, self._losses = True, False, 0

    def _launch(self, job: str, params: dict[str, Any], what: str, daemon: bool = True) -> None:
        """Start the runner job ``job`` in a spawned child and poll its messages."""
        if self._cancel_requested:
            self._end(self.cancelled.emit)
            return
        try:
            self._run = ChildRun(
                job, params, name=what, ctx=_context(), exit_wait_s=0.0, daemon=daemon
            ).start()
        except Exception as exc:  # noqa: BLE001 - e.g. no process can be started: say so
            self._end_failed(f"cannot start the worker process: {exc}")
            return
        self.progressed.emit(None, "Starting the worker process …")
        self._timer.start()

    def cancel(self) -> None:
        """Stop the job; nothing reaches the project. A child that does not stop in time is killed."""
        if not self.running or self._cancel_requested:
            return
        self._cancel_requested = True
        if self._run is not None:
            self._run.cancel()
            QTimer.singleShot(KILL_AFTER_MS, self._kill)

    def _kill(self) -> None:
        if self._run is not None and self._run.alive:
            self._run.kill()
        if self.running and self._cancel_requested:
            self._end(self.cancelled.emit)

    def _poll(self) -> None:
        if self._run is None:
            return
        for msg in self._run.poll(max_s=SLICE_S):
            self._handle(msg)
            if not self.running or self._run is None:
                return

    def _handle(self, msg: Message) -> None:
        if msg.kind == "event" and not self._cancel_requested:
            ev = msg.event
            self.evented.emit(ev)
            self.progressed.emit(ev.fraction, ev.message)
            loss = ev.values.get("loss")
            if isinstance(loss, int | float):
                self._losses += 1  # the training's own iteration when it says it, else the n-th report
                it = ev.values.get("iteration")
                self.lossed.emit(int(it) if isinstance(it, int) else self._losses, float(loss))
        elif msg.kind == "cancelled" or (msg.kind in ("done", "lost") and self._cancel_requested):
            self._end(self.cancelled.emit)
        elif msg.kind in ("error", "lost"):
            self._end_failed(msg.error)
        elif msg.kind == "done":
            self._stop_child()
            self._done(msg.result)

    def _done(self, payload: Any) -> None:
        self._end(lambda: self.finished.emit(payload))

    def _stop_child(self) -> None:
        self._timer.stop()
        if self._run is not None and self._run.alive:
            self._run.kill()
        self._run = None

    def _end(self, emit: Callable[[], None]) -> None:
        self._stop_child()
        if self._folder is not None:  # a staged station can be large: removed off the GUI thread
            threading.Thread(target=shutil.rmtree, args=(self._folder, True), daemon=True).start()
            self._folder = None
        if self.running:
            self.running = False
            emit()

    def _end_failed(self, message: str) -> None:
        self._end(lambda: self.failed.emit(message))

    def shutdown(self) -> None:
        self._cancel_requested = True
        if self._run is not None:
            self._run.cancel()
            self._run.kill()
        self._end(lambda: None)


class TrainProcess(ChildJob):
    """One training job: stage on the I/O thread, train in a child, add the runs to the open project;
    ``finished`` carries {'runs', 'results'} once the project holds them."""

    def start(self, job: dict[str, Any]) -> None:
        """``job``: {'model', 'params', 'views', 'seed', 'device'} as for ``workbench.jobs.train``."""
        from workbench.jobs import staging

        self._begin()
        folder = self._folder = tempfile.mkdtemp(prefix="workbench-train-")
        self.progressed.emit(None, "Reading the training samples …")
        self._stage: staging.Stage | None = None

        def stage(p):
            return staging.stage_project(p, folder, job.get("views"))

        def launch(st: staging.Stage) -> None:
            self._stage = st
            params = {"stage": str(st.path), "out": folder, "job": {**job, "views": job.get("views")}}
            self._launch("train_staged", params, "workbench-train")

        self.model.call(stage, launch, lambda e: self._end_failed(str(e)))

    def _done(self, payload: Any) -> None:
        from workbench.jobs import staging

        self.progressed.emit(1.0, "Adding the runs to the station …")
        outputs, id_map = payload["outputs"], self._stage.id_map

        def apply(p):
            return staging.apply_outputs(p, staging.read_outputs(outputs), id_map)

        self.model.edit(
            apply,
            "Train",
            on_done=lambda ids: self._end(lambda: self.finished.emit(ids)),
            on_error=lambda e: self._end_failed(str(e)),
        )


class ReportProcess(ChildJob):
    """Writes the HTML report of the saved station file in a child; ``finished`` carries index.html's path."""

    def start(self, project_path: str, out_dir: str, policy: str | None, robustness: bool) -> None:
        self._begin()
        params = {"project": project_path, "out_dir": out_dir, "policy": policy, "robustness": robustness}
        self._launch(train_worker.REPORT_JOB, params, "workbench-report")


class DemoProcess(ChildJob):
    """Builds the ready demo station in a child (torch trains there); ``finished`` carries station.awb's path."""

    def start(self, out_dir: str) -> None:
        self._begin()
        self._launch(train_worker.DEMO_JOB, {"out_dir": out_dir}, "workbench-demo")


class ExportProcess(ChildJob):
    """Writes a line bundle of the saved station in a child; ``finished`` carries {path, manifest, parity}."""

    def start(
        self,
        project_path: str,
        out: str,
        run_ids: list[str],
        policies: list[str],
        fusion: str,
        accept_small: bool = False,
    ) -> None:
        """``accept_small``: export even when a threshold rests on fewer normals than export asks for."""
        self._begin()
        params = {
            "project": project_path,
            "out": out,
            "run_ids": run_ids,
            "policies": policies,
            "fusion": fusion,
            "accept_small_validation": accept_small,
        }
        self._launch(train_worker.EXPORT_JOB, params, "workbench-export")


class LineProcess(ChildJob):
    """Runs a bundle on a video in a child as the line would; ``part(result, crops, maps)`` for each
    part, ``finished`` with the run's summary."""

    part = Signal(dict, dict, dict)

    def start(self, bundle: str, source: str, realtime: bool = False) -> None:
        self._begin()
        folder = self._folder = tempfile.mkdtemp(prefix="workbench-line-")
        params = {"bundle": bundle, "source": source, "realtime": realtime, "preview_dir": folder}
        self._launch(train_worker.LINE_JOB, params, "workbench-line")

    def _handle(self, msg: Message) -> None:
        path = msg.event.values.get("part_file") if msg.kind == "event" and msg.event else None
        if path and not self._cancel_requested:
            try:
                self.part.emit(*train_worker.read_part(path))
            except (OSError, ValueError) as exc:
                self.progressed.emit(None, f"a part could not be read: {exc}")
            return
        super()._handle(msg)


class ModelService(QObject):
    """A long-lived helper process: ``ask(kind, kwargs, on_done, on_error)`` answers in the GUI thread.

    Kinds: 'catalogue' (every model's ``describe``), 'plan' (each view's plan before a fit, as
    ``workbench train`` makes it) and 'explain' (PatchCore's nearest normal patch). The process starts
    on the first question.
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
