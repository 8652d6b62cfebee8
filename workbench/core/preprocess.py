"""Image normalization helpers: centre crop, standardization, per-channel normalization, channel-first layout.

Resizing to a working size (stretch or letterbox) and image formats live in :mod:`workbench.core.working`;
seed 002 standardizes every image to zero mean and unit variance.
"""

from __future__ import annotations

import numpy as np


def center_crop(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The central (height, width) window; a ValueError when the image is smaller."""
    H, W = image.shape[:2]
    if width > W or height > H:
        raise ValueError(f"cannot centre-crop {width}x{height} px from a {W}x{H} px image")
    x, y = (W - width) // 2, (H - height) // 2
    return image[y : y + height, x : x + width]


def standardize(image: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """(H, W[, C]) float32 with zero mean and unit standard deviation over the whole image (seed 002)."""
    x = image.astype(np.float32)
    return (x - x.mean()) / max(float(x.std()), eps)


def normalize(image: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """(H, W, C) float32 of a uint8 image scaled to [0, 1] then normalized per channel (e.g. ImageNet)."""
    x = image.astype(np.float32) / 255.0
    return (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)


def to_chw(image: np.ndarray) -> np.ndarray:
    """(C, H, W) contiguous copy of an (H, W, C) or (H, W) array, the layout torch models take."""
    if image.ndim == 2:
        image = image[:, :, None]
    return np.ascontiguousarray(image.transpose(2, 0, 1))
