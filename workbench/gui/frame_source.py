"""Frames of a station's video on demand, decoded in a background thread so scrubbing never freezes the window.

This is the one place the GUI reads video: it uses :class:`workbench.io.video.VideoReader`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal


@dataclass(frozen=True)
class VideoInfo:
    path: str
    frame_count: int
    fps: float
    width: int
    height: int


class FrameFetcher(QObject):
    """Opens one video and serves ``request(index)``; only the newest request is decoded.

    The reader lives in one thread (OpenCV captures are not thread-safe), and a burst of requests
    while dragging the scrubber collapses to the last one, so the frame shown catches up at once.
    Signals arrive in the GUI thread: ``opened(VideoInfo)``, ``failed(message)``,
    ``frameReady(index, (H, W, 3) uint8 RGB)``, ``frameFailed(index, message)``.
    """

    opened = Signal(object)
    failed = Signal(str)
    frameReady = Signal(int, object)
    frameFailed = Signal(int, str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._cond = threading.Condition()
        self._path: str | None = None
        self._wanted: int | None = None
        self._stop = False
        self._generation = 0  # bumps on every open so a stale thread's frames are ignored
        self._thread: threading.Thread | None = None
        self.info: VideoInfo | None = None
        self._pending = False

    @property
    def busy(self) -> bool:
        """True while a video is being opened or a requested frame has not arrived yet."""
        with self._cond:
            return self._pending or self._wanted is not None

    def open(self, path: str) -> None:
        """Start reading ``path`` (closing the previous video); answers with ``opened`` or ``failed``."""
        self.close()
        with self._cond:
            self._generation += 1
            self._stop = False
            self._path = path
            self._wanted = None
            self._pending = True
            gen = self._generation
        self.info = None
        self._thread = threading.Thread(
            target=self._loop, args=(path, gen), name="frame-fetcher", daemon=True
        )
        self._thread.start()

    def request(self, index: int) -> None:
        with self._cond:
            if self._thread is None:
                return
            self._wanted = int(index)
            self._cond.notify()

    def close(self) -> None:
        thread = self._thread
        with self._cond:
            self._stop = True
            self._wanted = None
            self._pending = False
            self._cond.notify()
        self._thread = None
        if thread is not None:
            thread.join(timeout=5)

    # --- the reader thread ----------------------------------------------------------------------
    def _current(self, gen: int) -> bool:
        return not self._stop and gen == self._generation

    def _loop(self, path: str, gen: int) -> None:
        try:
            from workbench.io.video import VideoReader  # imports cv2 here, not in the GUI thread

            reader = VideoReader(path)
        except Exception as exc:  # noqa: BLE001 - a missing or broken video becomes a message in the pane
            with self._cond:
                if self._current(gen):
                    self._pending = False
                    self.failed.emit(str(exc))
            return
        try:
            info = VideoInfo(path, reader.frame_count, reader.fps, reader.width, reader.height)
            with self._cond:
                if not self._current(gen):
                    return
                self.info = info
                self._pending = False
                self.opened.emit(info)
            while True:
                with self._cond:
                    while self._wanted is None and self._current(gen):
                        self._cond.wait()
                    if not self._current(gen):
                        return
                    index = self._wanted
                    self._pending = True
                    self._wanted = None
                try:
                    frame: np.ndarray | None = reader.read(index)
                    error = ""
                except Exception as exc:  # noqa: BLE001 - one bad frame must not stop the viewer
                    frame, error = None, str(exc)
                with self._cond:
                    self._pending = False
                    if not self._current(gen):
                        return
                    if frame is not None:
                        self.frameReady.emit(index, frame)
                    else:
                        self.frameFailed.emit(index, error)
        finally:
            reader.close()
