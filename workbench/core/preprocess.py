"""Model input preparation: resize, letterbox padding, centre crop, three channels, standardization.

Seed 004 argues for letterbox padding instead of centre cropping on real lines (defects at the
border survive); seed 002 standardizes every image to zero mean and unit variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


def resize(image: np.ndarray, width: int, height: int, *, nearest: bool = False) -> np.ndarray:
    """The image resized to (height, width) (area when shrinking, linear when growing; nearest for masks)."""
    if nearest:
        interp = cv2.INTER_NEAREST
    elif width < image.shape[1] or height < image.shape[0]:
        interp = cv2.INTER_AREA
    else:
        interp = cv2.INTER_LINEAR
    out = cv2.resize(image, (int(width), int(height)), interpolation=interp)
    if image.ndim == 3 and out.ndim == 2:  # OpenCV drops a single channel axis
        out = out[:, :, None]
    return out


@dataclass(frozen=True)
class Letterbox:
    """How an image was letterboxed: scale factor and padding (left, top) in output pixels."""

    scale: float
    left: int
    top: int
    width: int
    height: int
    source_width: int
    source_height: int

    def to_source(self, out_image: np.ndarray, *, nearest: bool = False) -> np.ndarray:
        """Undo the letterbox on a model-sized array (a map or mask): crop the padding, resize back."""
        w = round(self.source_width * self.scale)
        h = round(self.source_height * self.scale)
        inner = out_image[self.top : self.top + h, self.left : self.left + w]
        return resize(inner, self.source_width, self.source_height, nearest=nearest)


def letterbox(
    image: np.ndarray, width: int, height: int, fill: int = 0, *, nearest: bool = False
) -> tuple[np.ndarray, Letterbox]:
    """(height, width[, C]) image scaled to fit with its aspect kept and centred on ``fill`` padding,
    plus the :class:`Letterbox` to map results back."""
    H, W = image.shape[:2]
    scale = min(width / W, height / H)
    w, h = max(1, round(W * scale)), max(1, round(H * scale))
    inner = resize(image, w, h, nearest=nearest)
    left, top = (width - w) // 2, (height - h) // 2
    out = np.full((height, width) + image.shape[2:], fill, dtype=image.dtype)
    out[top : top + h, left : left + w] = inner
    return out, Letterbox(scale, left, top, width, height, W, H)


def center_crop(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The central (height, width) window; a ValueError when the image is smaller."""
    H, W = image.shape[:2]
    if width > W or height > H:
        raise ValueError(f"cannot centre-crop {width}x{height} px from a {W}x{H} px image")
    x, y = (W - width) // 2, (H - height) // 2
    return image[y : y + height, x : x + width]


def gray_to_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) image: grey or one-channel input repeated to three channels, colour unchanged."""
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    return image


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
