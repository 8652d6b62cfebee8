"""Video files through OpenCV: metadata, sequential frames with sampling, random access by index.

Frames come out as (H, W, 3) uint8 in RGB order (``color="bgr"`` skips the swap for speed).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from workbench.core.image import bgr_to_rgb
from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".m4v", ".wmv")


class VideoError(ValueError):
    """A video file that cannot be read as asked (named in the message)."""


@dataclass(frozen=True)
class FrameRange:
    """Which frames to read: ``start`` <= index < ``stop`` taking every ``every``-th one."""

    start: int = 0
    stop: int | None = None
    every: int = 1

    def indices(self, frame_count: int) -> range:
        stop = frame_count if self.stop is None else min(self.stop, frame_count)
        return range(self.start, max(stop, self.start), self.every)


def frame_range(
    fps: float, *, start_s: float | None = None, end_s: float | None = None, every: int = 1
) -> FrameRange:
    """The :class:`FrameRange` for a time range in seconds and a step ("every Nth frame")."""
    if every < 1:
        raise ValueError(f"--every must be a whole number >= 1, found {every}")
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise ValueError(f"the end time ({end_s} s) must be after the start time ({start_s} s)")
    if (start_s or end_s) and not fps > 0:
        raise ValueError("a time range needs the video's frame rate, which this file does not state")
    start = int(math.floor((start_s or 0.0) * fps + 1e-9))
    stop = None if end_s is None else int(math.ceil(end_s * fps - 1e-9))
    return FrameRange(max(0, start), stop, every)


class VideoReader:
    """An open video file: ``frame_count``, ``fps``, ``width``, ``height``, ``read(i)``, ``frames()``.

    Opening checks that the file exists, that OpenCV can decode it and that it has a first frame,
    so a wrong, empty or zero-length file fails here with its name in the message. ``warnings``
    collects problems found while reading (e.g. a truncated file that ends early).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self.name = os.path.basename(self.path)
        self.warnings: list[str] = []
        if not os.path.isfile(self.path):
            raise VideoError(f"video '{self.path}' does not exist")
        if os.path.getsize(self.path) == 0:
            raise VideoError(f"video '{self.name}' is an empty file (0 bytes)")
        self._cap = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG)
        if not self._cap.isOpened():
            self._cap.release()
            raise VideoError(
                f"cannot open video '{self.name}': OpenCV cannot decode it (not a video or broken)"
            )
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise VideoError(f"video '{self.name}' has no readable frames (zero-length or truncated)")
        self.height, self.width = first.shape[:2]
        self._first = first
        self._next = 1  # index of the frame the capture will return next
        self.frame_count = max(count, 1)

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._cap.release()

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps if self.fps > 0 else float("nan")

    def _seek(self, index: int) -> None:
        if index == self._next:
            return
        if 0 < index - self._next <= 64:  # decoding forward is cheaper than a keyframe seek
            while self._next < index:
                if not self._cap.grab():
                    break
                self._next += 1
            return
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        self._next = index

    def read(self, index: int, color: str = "rgb") -> np.ndarray:
        """Frame ``index`` as (H, W, 3) uint8; a VideoError naming the frame if it cannot be decoded."""
        if not 0 <= index < self.frame_count:
            raise VideoError(
                f"frame {index} is outside video '{self.name}' (frames 0-{self.frame_count - 1})"
            )
        if index == 0:
            frame = self._first
        else:
            self._seek(index)
            ok, frame = self._cap.read()
            if not ok or frame is None:
                raise VideoError(f"frame {index} of video '{self.name}' cannot be decoded (file truncated?)")
            self._next = index + 1
        return bgr_to_rgb(frame) if color == "rgb" else frame.copy()

    def frames(
        self,
        sampling: FrameRange = FrameRange(),
        color: str = "rgb",
        progress: ProgressFn = no_progress,
        cancel: CancelToken = NEVER_CANCEL,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (frame index, frame) in order for the sampled frames, decoding sequentially.

        Skipped frames are only grabbed, not converted. If the file ends before its stated length
        a warning is added to ``warnings`` (truncated file) and iteration stops.
        """
        wanted = sampling.indices(self.frame_count)
        if len(wanted) == 0:
            return
        if wanted[0] != 0:
            self._seek(wanted[0])
        total = len(wanted)
        for n, index in enumerate(wanted):
            if n % 16 == 0:
                cancel.raise_if_cancelled()
                progress(n / total, f"frame {index} of {self.frame_count}")
            if index == 0:
                frame = self._first
                if self._next != 1:
                    self._cap.set(cv2.CAP_PROP_POS_FRAMES, 1)
                    self._next = 1
            else:
                ok = True
                while self._next < index and ok:
                    ok = self._cap.grab()
                    self._next += ok
                ok = ok and self._cap.grab()
                frame = None
                if ok:
                    ok, frame = self._cap.retrieve()
                if not ok or frame is None:
                    # Containers often state one or two frames too many; more than that is a damaged file.
                    if index < self.frame_count - 2:
                        self.warnings.append(
                            f"video '{self.name}' ended at frame {index} although it states "
                            f"{self.frame_count} frames; the file may be truncated"
                        )
                    self.frame_count = index
                    return
                self._next = index + 1
            yield index, (bgr_to_rgb(frame) if color == "rgb" else frame)
        progress(1.0, "frames read")


def probe(path: str | os.PathLike) -> dict:
    """{'frames', 'fps', 'width', 'height', 'duration_s'} of a video file (opens and closes it)."""
    with VideoReader(path) as r:
        return {
            "frames": r.frame_count,
            "fps": r.fps,
            "width": r.width,
            "height": r.height,
            "duration_s": r.duration_s,
        }


_END = object()


def prefetched(
    frames: Iterator[tuple[int, np.ndarray]],
    depth: int = 4,
    prepare: Callable[[np.ndarray], Any] | None = None,
) -> Iterator[tuple]:
    """The same frames, decoded ahead on a thread (OpenCV's decoder releases the GIL), so decoding and the
    work on each frame share two cores. With ``prepare``, (index, frame, prepare(frame)): work that needs no
    result of the frames before (a grey conversion, a downscale) runs on that thread too. Errors (a cancel
    included) come out where they would have; leaving the loop early stops the decoding thread."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    failure: list[BaseException] = []

    def put(item) -> bool:
        """Queue ``item`` unless the consumer stops first; whether it was queued."""
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in frames:
                if prepare is not None:
                    item = (*item, prepare(item[1]))
                if not put(item) or stop.is_set():
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            failure.append(exc)
        finally:
            put(_END)

    worker = threading.Thread(target=run, name="frame-decoder", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                break
            yield item
        if failure:
            raise failure[0]
    finally:
        stop.set()
        worker.join()
        close = getattr(frames, "close", None)
        if close is not None:
            close()
