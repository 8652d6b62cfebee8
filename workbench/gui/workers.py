"""Run slow calls (project reads, saves) off the GUI thread and get their results back on it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)


class _Relay(QObject):
    """Lives in the GUI thread; a worker emits on it, so Qt queues the callback into the GUI thread."""

    finished = Signal(object, object)  # (result, error)

    def __init__(
        self,
        on_done: Callable[[Any], None] | None,
        on_error: Callable[[BaseException], None] | None,
        on_release: Callable[[_Relay], None],
    ):
        super().__init__()
        self._on_done = on_done
        self._on_error = on_error
        self._on_release = on_release
        self.finished.connect(self._deliver)

    @Slot(object, object)
    def _deliver(self, result: Any, error: BaseException | None) -> None:
        try:
            if error is not None:
                if self._on_error is not None:
                    self._on_error(error)
                else:
                    log.error("background task failed: %s", error, exc_info=error)
            elif self._on_done is not None:
                self._on_done(result)
        finally:
            self._on_release(self)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay):
        super().__init__()
        self._fn = fn
        self.relay = relay
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self._fn()
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the GUI as a message
            self.relay.finished.emit(None, exc)
        else:
            self.relay.finished.emit(result, None)


class Workers(QObject):
    """A small pool of background threads; ``submit`` returns at once and calls back in the GUI thread."""

    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None, max_threads: int = 2):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._live: set[_Relay] = set()  # keeps relays alive until their result is delivered

    @property
    def busy(self) -> bool:
        return bool(self._live)

    def submit(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        relay = _Relay(on_done, on_error, self._release)
        was_busy = self.busy
        self._live.add(relay)
        if not was_busy:
            self.busyChanged.emit(True)
        self._pool.start(_Task(fn, relay))

    def _release(self, relay: _Relay) -> None:
        self._live.discard(relay)
        if not self._live:
            self.busyChanged.emit(False)

    def wait(self, msecs: int = 30000) -> bool:
        """Block until the threads are done (for shutdown and tests only); queued callbacks still need events."""
        return self._pool.waitForDone(msecs)
