"""Run a bundle's ONNX graphs with onnxruntime: CPU everywhere, CUDA / TensorRT / DirectML when installed
and usable, and always the provider actually used logged (never a silent fall-back).

``open_session(path, device="auto")`` returns an ``onnxruntime.InferenceSession`` and logs
``session.get_providers()``. When a GPU provider was asked for (or ``auto`` found one) but the
session runs on CPU, a loud warning says so; with ``require_gpu=True`` it is an error instead.
``ViewRuntime`` runs one view: crop (H, W, 3) uint8 RGB -> (score, (H, W) float32 map).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from workbench.core.working import maps_to_images, to_rgb8, to_working

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
GPU_PROVIDERS = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "directml": "DmlExecutionProvider",
}
DEVICES = ("auto", "cpu", *GPU_PROVIDERS)


class RuntimeProviderError(RuntimeError):
    """A GPU execution provider was required but is not active; the message says what was found."""


def _ort():
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ImportError(
            "running a bundle needs onnxruntime: pip install onnxruntime (CPU) or onnxruntime-gpu "
            "(CUDA/TensorRT) or onnxruntime-directml (Windows GPUs)"
        ) from exc
    return ort


def wanted_providers(device: str = "auto") -> list[str]:
    """Execution providers to ask for, best first, always ending with CPU; 'auto' takes every installed GPU one."""
    if device not in DEVICES:
        raise ValueError(f"device: expected one of {', '.join(DEVICES)}; found {device!r}")
    available = _ort().get_available_providers()
    if device == "cpu":
        return [CPU]
    if device == "auto":
        gpu = [p for p in GPU_PROVIDERS.values() if p in available]
        return [*gpu, CPU]
    return [GPU_PROVIDERS[device], CPU]


def session_options(threads: int | None = None):
    """Session options: ``threads`` intra-op threads (None: onnxruntime's choice), sequential execution."""
    ort = _ort()
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3  # onnxruntime's own chatter stays out of the line's stderr
    return opts


def open_session(
    path: str | os.PathLike, device: str = "auto", require_gpu: bool = False, threads: int | None = None
):
    """An onnxruntime session on the best usable provider; the providers in use are logged.

    A GPU provider that was asked for (``device`` cuda/tensorrt/directml, or found installed by
    'auto') but is not active after the session starts is reported with a WARNING naming it, or
    raises :class:`RuntimeProviderError` when ``require_gpu`` is set.
    """
    ort = _ort()
    wanted = wanted_providers(device)
    available = ort.get_available_providers()
    missing = [p for p in wanted if p not in available]
    if require_gpu and wanted == [CPU]:
        raise RuntimeProviderError(
            f"a GPU was required but device={device!r} selects none; installed providers: {', '.join(available)}"
        )
    if missing:
        message = (
            f"execution provider(s) {', '.join(missing)} asked for but not installed "
            f"(installed: {', '.join(available)}); install onnxruntime-gpu or onnxruntime-directml"
        )
        if require_gpu:
            raise RuntimeProviderError(message)
        log.warning("GPU NOT USED: %s", message)
    asked = [p for p in wanted if p in available]
    session = ort.InferenceSession(os.fspath(path), sess_options=session_options(threads), providers=asked)
    used = session.get_providers()
    log.info(
        "onnxruntime %s: %s runs on %s", ort.__version__, os.path.basename(os.fspath(path)), ", ".join(used)
    )
    gpu_wanted = [p for p in asked if p != CPU]
    if gpu_wanted and not any(p in used for p in gpu_wanted):
        message = f"asked for {', '.join(gpu_wanted)} but the session runs on {', '.join(used)} (driver or CUDA libraries missing?)"
        if require_gpu:
            raise RuntimeProviderError(message)
        log.warning("GPU NOT USED: %s", message)
    if require_gpu and not any(p != CPU for p in used):
        raise RuntimeProviderError(f"a GPU was required but the session runs on {', '.join(used)}")
    return session


@dataclass
class ViewRuntime:
    """One view's graph in a session: ``infer(crop)`` -> (score float, (H, W) float32 map)."""

    name: str
    session: object
    crop_size: tuple[int, int]
    working_size: tuple[int, int]
    resize: str = "stretch"
    input_name: str = "image"
    roi: np.ndarray | None = None  # (H, W) at the crop size: the map is 0 outside it

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    def infer(self, crop: np.ndarray) -> tuple[float, np.ndarray]:
        """Score and (H, W) anomaly map of one crop of this view (grey, RGB or RGBA; 8 or 16 bits).

        The crop goes to the working size, through the graph, and its map back to the crop's size
        with the functions ``predict`` uses (:mod:`workbench.core.working`), so the line gives the
        maps and scores evaluation measured.
        """
        crop = to_rgb8(crop, f"view {self.name!r}: crop")
        if crop.shape[:2] != tuple(self.crop_size):
            raise ValueError(
                f"view {self.name!r}: expected a crop of {self.crop_size[1]}x{self.crop_size[0]} px (the view's "
                f"crop window); found {crop.shape[1]}x{crop.shape[0]} px"
            )
        x = np.ascontiguousarray(to_working(crop, self.working_size, self.resize))[None]
        score, amap = self.session.run(None, {self.input_name: x})
        # Graphs of bundles before format 4 return the map at the crop size already: it then only gets the ROI.
        back = maps_to_images(amap[:1], [crop.shape], self.resize, self.roi)[0]
        return float(score.reshape(-1)[0]), back
