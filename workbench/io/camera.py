"""Live cameras: OpenCV device index, a simulated camera playing a video at its frame rate, and
GenICam cameras through the optional ``harvesters`` package and a user-supplied .cti producer.

Every camera has ``open()``, ``read() -> (H, W, 3) uint8 RGB or (H, W) grey``, ``close()``,
``fps`` and ``frames(count, cancel)``; all are context managers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import cv2
import numpy as np

from workbench.core.image import bgr_to_rgb, to_uint8
from workbench.core.progress import NEVER_CANCEL, CancelToken
from workbench.io.video import VideoReader


class CameraError(RuntimeError):
    """A camera that cannot be opened or stopped delivering frames (named in the message)."""


class Camera:
    """Common frame loop of all cameras."""

    name = "camera"
    fps = 0.0

    def open(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def read(self) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def frames(self, count: int | None = None, cancel: CancelToken = NEVER_CANCEL) -> Iterator[np.ndarray]:
        """Yield frames until ``count`` frames were read, the source ends, or ``cancel`` is set."""
        n = 0
        while count is None or n < count:
            cancel.raise_if_cancelled()
            try:
                frame = self.read()
            except EOFError:
                return
            yield frame
            n += 1


class OpenCVCamera(Camera):
    """A camera OpenCV opens by device index (USB, built-in, V4L2/DirectShow/MSMF)."""

    def __init__(self, index: int = 0, width: int | None = None, height: int | None = None) -> None:
        self.index, self.width, self.height = int(index), width, height
        self.name = f"camera {index}"
        self._cap = None

    def open(self) -> None:
        cap = cv2.VideoCapture(self.index)
        if not cap.isOpened():
            cap.release()
            raise CameraError(
                f"camera {self.index} cannot be opened (not connected, or in use by another program)"
            )
        if self.width and self.height:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        self.fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self._cap = cap

    def read(self) -> np.ndarray:
        if self._cap is None:
            raise CameraError(f"{self.name} is not open")
        ok, frame = self._cap.read()
        if not ok or frame is None:
            raise CameraError(f"{self.name} stopped delivering frames")
        return bgr_to_rgb(frame)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class SimulatedCamera(Camera):
    """A video file played as a live camera at its own frame rate (for tests and demos).

    ``realtime=False`` delivers frames as fast as they decode; ``loop`` restarts at the end.
    """

    def __init__(
        self, video: str | os.PathLike, realtime: bool = True, loop: bool = False, speed: float = 1.0
    ):
        self.video, self.realtime, self.loop, self.speed = os.fspath(video), realtime, loop, speed
        self.name = f"simulated camera ({os.path.basename(self.video)})"
        self._reader: VideoReader | None = None
        self._it = None
        self._t0 = 0.0
        self._n = 0

    def open(self) -> None:
        self._reader = VideoReader(self.video)
        self.fps = self._reader.fps or 25.0
        self._it = self._reader.frames()
        self._t0, self._n = time.perf_counter(), 0

    def read(self) -> np.ndarray:
        if self._reader is None:
            raise CameraError(f"{self.name} is not open")
        try:
            _, frame = next(self._it)
        except StopIteration:
            if not self.loop:
                raise EOFError(f"{self.name} reached the end of the video") from None
            self._it = self._reader.frames()
            _, frame = next(self._it)
        if self.realtime:
            due = self._t0 + self._n / (self.fps * self.speed)
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        self._n += 1
        return frame

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


class GenICamCamera(Camera):
    """A GenICam (GigE Vision / USB3 Vision) camera through ``harvesters`` and a vendor .cti file.

    ``harvesters`` is optional; without it ``open()`` says how to install it.
    """

    def __init__(self, cti_path: str | os.PathLike, device: int = 0, timeout_s: float = 2.0) -> None:
        self.cti_path, self.device, self.timeout_s = os.fspath(cti_path), int(device), timeout_s
        self.name = f"GenICam camera {device}"
        self._h = self._ia = None

    def open(self) -> None:
        try:
            from harvesters.core import Harvester  # noqa: PLC0415 - optional plugin dependency
        except ImportError:
            raise CameraError(
                "GenICam cameras need the optional package 'harvesters' (pip install harvesters) "
                "and your camera vendor's GenTL producer (.cti file)"
            ) from None
        if not os.path.isfile(self.cti_path):
            raise CameraError(
                f"GenTL producer '{self.cti_path}' does not exist (expected the vendor's .cti file)"
            )
        h = Harvester()
        h.add_file(self.cti_path)
        h.update()
        if self.device >= len(h.device_info_list):
            found = len(h.device_info_list)
            h.reset()
            raise CameraError(
                f"GenICam device {self.device} not found; {found} device(s) visible through {self.cti_path}"
            )
        self._h, self._ia = h, h.create(self.device)
        self._ia.start()
        try:
            self.fps = float(self._ia.remote_device.node_map.AcquisitionFrameRate.value)
        except Exception:  # noqa: BLE001 - not every camera exposes the node
            self.fps = 0.0

    def read(self) -> np.ndarray:
        if self._ia is None:
            raise CameraError(f"{self.name} is not open")
        with self._ia.fetch(timeout=self.timeout_s) as buffer:
            comp = buffer.payload.components[0]
            data = comp.data.reshape(comp.height, comp.width, -1)
            image = to_uint8(data.copy())
            fmt = str(getattr(comp, "data_format", ""))
        if image.shape[2] == 1:
            return image[:, :, 0]
        return image[:, :, ::-1].copy() if fmt.startswith("BGR") else image

    def close(self) -> None:
        if self._ia is not None:
            self._ia.stop()
            self._ia.destroy()
            self._ia = None
        if self._h is not None:
            self._h.reset()
            self._h = None


def open_camera(spec: str) -> Camera:
    """A camera from a user's spec: '0' (OpenCV index), 'sim:VIDEO' or 'genicam:CTI[#DEVICE]'."""
    if spec.isdigit():
        return OpenCVCamera(int(spec))
    if spec.startswith("sim:"):
        return SimulatedCamera(spec[4:])
    if spec.startswith("genicam:"):
        cti, _, dev = spec[8:].partition("#")
        return GenICamCamera(cti, int(dev or 0))
    raise CameraError(
        f"camera '{spec}' not understood: expected a device index (0), sim:VIDEO or genicam:CTI[#N]"
    )
