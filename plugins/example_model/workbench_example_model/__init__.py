"""Per-pixel z-score anomaly model: the smallest useful plugin for the workbench model registry."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.models.base import AnomalyModel, check_images, check_roi


class PixelStats(AnomalyModel):
    """Pixel statistics: each pixel's distance to the normal per-pixel mean, in normal standard deviations.

    Parameters: ``blur`` (Gaussian sigma applied to images first, pixels), ``min_std`` (floor of the
    standard deviation, grey levels).
    """

    name = "pixelstats"
    state_keys = ("mean_", "std_", "roi_")

    def __init__(self, blur: float = 1.0, min_std: float = 2.0) -> None:
        self.blur = blur
        self.min_std = min_std

    def _prep(self, img: np.ndarray) -> np.ndarray:
        x = img.astype(np.float32)
        if self.blur > 0:
            x = cv2.GaussianBlur(x, (0, 0), self.blur)
        return x

    def fit(
        self,
        images: Any,
        roi: Any = None,
        progress: ProgressFn = no_progress,
        cancel: CancelToken = NEVER_CANCEL,
    ) -> PixelStats:
        images = check_images(images)
        shape = images[0].shape
        if any(img.shape != shape for img in images):
            raise ValueError(f"pixelstats: expected images of one size {shape}; found several sizes")
        mask = check_roi(roi, shape[:2])
        mask = np.ones(shape[:2], bool) if mask is None else mask
        s1 = np.zeros(shape, np.float64)
        s2 = np.zeros(shape, np.float64)
        for i, img in enumerate(images):
            cancel.raise_if_cancelled()
            # Outside pixels are blanked before the blur so they cannot leak into the ROI.
            img = img.copy()
            img[~mask] = 128
            x = self._prep(img)
            s1 += x
            s2 += x * x
            progress((i + 1) / len(images), f"statistics {i + 1}/{len(images)}")
        n = len(images)
        mean = s1 / n
        std = np.sqrt(np.maximum(s2 / n - mean * mean, 0.0))
        self.mean_ = np.where(mask[..., None], mean, 0).astype(np.float32)
        self.std_ = np.where(mask[..., None], np.maximum(std, self.min_std), 1).astype(np.float32)
        self.roi_ = mask.astype(np.uint8)
        return self

    def predict(
        self, images: Any, progress: ProgressFn = no_progress, cancel: CancelToken = NEVER_CANCEL
    ) -> tuple[np.ndarray, np.ndarray]:
        images = check_images(images)
        self._check_fitted()
        mask = self.roi_.astype(bool)
        maps = np.zeros((len(images), *mask.shape), np.float32)
        for i, img in enumerate(images):
            cancel.raise_if_cancelled()
            if img.shape != self.mean_.shape:
                raise ValueError(
                    f"pixelstats: image {i} has shape {img.shape}; the model was fitted on {self.mean_.shape}"
                )
            img = img.copy()
            img[~mask] = 128
            z = np.abs(self._prep(img) - self.mean_) / self.std_
            maps[i] = np.where(mask, z.max(axis=2), 0)
            progress((i + 1) / len(images), f"scored {i + 1}/{len(images)}")
        return maps.reshape(len(images), -1).max(axis=1).astype(np.float32), maps
