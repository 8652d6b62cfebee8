"""Per-pixel z-score anomaly model: the smallest useful plugin for the workbench model registry.

It shows the whole model contract: parameters declared once (``params``), ``fit`` on normal images,
learned state as numpy arrays, and one inference forward (``forward_module``) that ``predict`` runs
and that ``workbench export`` writes to ONNX for the line.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from workbench.core.progress import CancelToken, ProgressFn
from workbench.core.working import mask_to_working, resolve_size, working_batch
from workbench.models import params as P
from workbench.models.base import AnomalyModel
from workbench.models.components.forward import GaussianBlur, MapTail, const

OUTSIDE = 128.0  # the grey outside pixels get before the blur, so they cannot leak into the ROI


class Smooth(nn.Module):
    """(B, h, w, 3) uint8 -> (B, 3, h, w) float32: outside pixels set to grey, each channel blurred."""

    def __init__(self, valid: np.ndarray, blur: float) -> None:
        super().__init__()
        self.register_buffer("keep", const(valid.astype(np.float32))[None, None])
        self.blur = GaussianBlur(blur, valid.shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 3, 1, 2).to(torch.float32)
        x = x * self.keep + OUTSIDE * (1.0 - self.keep)
        b, c, h, w = x.shape
        return self.blur(x.reshape(b * c, h, w)).reshape(b, c, h, w)


class PixelStatsForward(nn.Module):
    """(B, h, w, 3) uint8 -> (scores (B,), maps (B, h, w)): each pixel's largest channel z-score, 0 outside the ROI."""

    def __init__(self, valid: np.ndarray, blur: float, mean: np.ndarray, std: np.ndarray) -> None:
        super().__init__()
        self.smooth = Smooth(valid, blur)
        self.register_buffer("mean", const(mean).permute(2, 0, 1)[None])
        self.register_buffer("std", const(std).permute(2, 0, 1)[None])
        self.tail = MapTail(valid)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = (self.smooth(x) - self.mean).abs() / self.std
        return self.tail(z.amax(dim=1))


class PixelStats(AnomalyModel):
    """Pixel statistics: each pixel's distance to the normal per-pixel mean, in normal standard deviations.

    Parameters: ``blur`` (Gaussian sigma applied to images first, pixels), ``min_std`` (floor of the
    standard deviation, grey levels), ``batch_size`` (images per forward).
    """

    name = "pixelstats"
    params = {
        "blur": P.number(1.0, 0.0, 16.0),
        "min_std": P.number(2.0, 0.0, low_open=True),
        "batch_size": P.integer(8, 1),
    }
    state_keys = ("mean_", "std_", "roi_")

    def _fit(
        self, images: list[np.ndarray], roi: np.ndarray, progress: ProgressFn, cancel: CancelToken, val
    ) -> None:
        """Per-pixel mean and standard deviation of normal images of one size (``fit`` checked them)."""
        size = resolve_size([im.shape for im in images], None)
        roi_u8 = roi
        smooth = Smooth(mask_to_working(roi_u8, size), float(self.blur))
        s1 = np.zeros((*size, 3), np.float64)
        s2 = np.zeros((*size, 3), np.float64)
        for i, img in enumerate(images):
            cancel.raise_if_cancelled()
            with torch.inference_mode():
                x = smooth(torch.from_numpy(working_batch([img], size)))[0].permute(1, 2, 0).double().numpy()
            s1 += x
            s2 += x * x
            progress((i + 1) / len(images), f"statistics {i + 1}/{len(images)}")
        n = len(images)
        mean = s1 / n
        std = np.sqrt(np.maximum(s2 / n - mean * mean, 0.0))
        inside = roi_u8[..., None] > 0
        self.mean_ = np.where(inside, mean, 0).astype(np.float32)
        self.std_ = np.where(inside, np.maximum(std, self.min_std), 1).astype(np.float32)
        self.roi_ = roi_u8

    def working_size(self) -> tuple[int, int]:
        self._check_fitted()
        return int(self.mean_.shape[0]), int(self.mean_.shape[1])

    def forward_module(self) -> PixelStatsForward:
        self._check_fitted()
        valid = mask_to_working(self.roi_, self.working_size())
        return PixelStatsForward(valid, float(self.blur), self.mean_, self.std_).eval()
