"""A live camera picture for the Import pane: frames read in a background thread from
``workbench.io.camera`` (a device, a GenICam plugin, or a video played as a simulated camera), the
newest one handed to the GUI, older ones dropped so the picture never lags behind."""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import QObject, Signal


class CameraFeed(QObject):
    """``start(spec)`` ('0', 'sim:VIDEO', 'genicam:CTI'); ``frameReady(count, frame)`` with a running
    count; ``stopped(message)`` when the camera ends, fails or :meth:`stop` is called."""

    frameReady = Signal(int, object)
    stopped = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._delivered = threading.Event()  # the GUI took the last frame: the next may be sent
        self.info = None  # frame sources elsewhere have a VideoInfo; a camera has no file to score
        self.count = 0
        self.frameReady.connect(lambda *_a: self._delivered.set())

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, spec: str) -> None:
        self.stop()
        self._stop.clear()
        self._delivered.set()
        self.count = 0
        self._thread = threading.Thread(target=self._loop, args=(spec,), name="camera-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join(timeout=5)

    def _loop(self, spec: str) -> None:
        from workbench.io.camera import open_camera

        message = "camera stopped"
        try:
            with open_camera(spec) as camera:
                while not self._stop.is_set():
                    frame: np.ndarray = camera.read()
                    self.count += 1
                    if self._delivered.is_set():  # drop frames while the GUI is still drawing one
                        self._delivered.clear()
                        self.frameReady.emit(self.count, frame)
        except EOFError as exc:
            message = str(exc)
        except Exception as exc:  # noqa: BLE001 - a camera that fails becomes a message in the pane
            message = f"camera '{spec}' failed: {exc}"
        self.stopped.emit(message)
