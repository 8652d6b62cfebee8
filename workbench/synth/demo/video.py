"""An mp4 writer that encodes on a background thread, so rendering and encoding use two cores."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import cv2
import numpy as np

_STOP = object()


class FrameWriter:
    """Writes (H, W, 3) uint8 BGR frames to an mp4v video; ``close()`` waits for the encoder to finish."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int], depth: int = 8) -> None:
        self.path = path
        self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), size)
        if not self._writer.isOpened():
            raise RuntimeError(f"cannot open a video writer for {path} (OpenCV without an mp4v encoder?)")
        self._size = size
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self.count = 0
        # OpenCV releases the GIL while encoding, so this thread runs beside the renderer
        self._thread = threading.Thread(target=self._run, name="demo-video-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._error is None:
                try:
                    self._writer.write(item)
                except BaseException as exc:  # surfaced to the caller on the next write or close
                    self._error = exc

    def write(self, frame: np.ndarray) -> None:
        if self._error is not None:
            raise RuntimeError(f"writing {self.path} failed") from self._error
        if frame.shape[1::-1] != self._size or frame.dtype != np.uint8:
            raise ValueError(
                f"expected a {self._size[0]}x{self._size[1]} uint8 frame, got {frame.shape} {frame.dtype}"
            )
        self._queue.put(frame)
        self.count += 1

    def close(self) -> None:
        """Flush and release the video; raises if encoding failed."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        self._writer.release()
        if self._error is not None:
            raise RuntimeError(f"writing {self.path} failed") from self._error

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
