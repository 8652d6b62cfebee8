"""Video writers for rendered scenes: MPEG-4 part 2 (mp4v) and MJPG through OpenCV, H.264 through OpenCV where
its FFmpeg build has an encoder, else through PyAV (``pip install av``) where installed."""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np

CODECS = {"mp4v": ".mp4", "h264": ".mp4", "mjpg": ".avi"}


class CodecUnavailable(RuntimeError):
    """No encoder for the asked codec on this machine (the message says what to install)."""


class _CvWriter:
    def __init__(self, path: Path, fourcc: str, fps: float, size: tuple[int, int], grey: bool) -> None:
        self.grey = grey
        self._w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), float(fps), size, not grey)
        if not self._w.isOpened():
            raise CodecUnavailable(f"OpenCV cannot write {fourcc} videos here")

    def write(self, frame: np.ndarray) -> None:
        self._w.write(frame)

    def close(self) -> None:
        self._w.release()


class _AvWriter:
    def __init__(self, path: Path, fps: float, size: tuple[int, int], grey: bool) -> None:
        import av  # optional: only for H.264 where OpenCV has no encoder

        self.grey = grey
        self._c = av.open(str(path), "w")
        self._s = self._c.add_stream("libx264", rate=int(round(fps)))
        self._s.width, self._s.height = size
        self._s.pix_fmt = "yuv420p"
        self._s.options = {"crf": "23", "preset": "veryfast"}
        self._av = av

    def write(self, frame: np.ndarray) -> None:
        fmt = "gray" if frame.ndim == 2 else "bgr24"
        for packet in self._s.encode(self._av.VideoFrame.from_ndarray(frame, format=fmt)):
            self._c.mux(packet)

    def close(self) -> None:
        for packet in self._s.encode():
            self._c.mux(packet)
        self._c.close()


def open_writer(path: Path, codec: str, fps: float, size: tuple[int, int], grey: bool = False):
    """A writer with ``write(frame)`` ((H, W) grey or (H, W, 3) BGR uint8) and ``close()``."""
    if codec not in CODECS:
        raise ValueError(f"codec: expected one of {', '.join(CODECS)}; found {codec!r}")
    if codec == "mp4v":
        return _CvWriter(path, "mp4v", fps, size, grey)
    if codec == "mjpg":
        return _CvWriter(path, "MJPG", fps, size, grey)
    if _cv_has_h264():
        return _CvWriter(path, "avc1", fps, size, grey)
    try:
        return _AvWriter(path, fps, size, grey)
    except ImportError as exc:
        raise CodecUnavailable(
            "no H.264 encoder: OpenCV here has none and PyAV is not installed (pip install av)"
        ) from exc


@functools.lru_cache(maxsize=1)
def _cv_has_h264() -> bool:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        w = cv2.VideoWriter(str(Path(tmp) / "probe.mp4"), cv2.VideoWriter_fourcc(*"avc1"), 25.0, (64, 48))
        ok = w.isOpened()
        w.release()
    return ok


def h264_available() -> bool:
    """Whether :func:`open_writer` can write H.264 on this machine."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        try:
            w = open_writer(Path(tmp) / "probe.mp4", "h264", 25, (64, 48))
        except CodecUnavailable:
            return False
        w.write(np.zeros((48, 64, 3), np.uint8))
        w.close()
        return True
