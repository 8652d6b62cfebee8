"""Image conversions every layer needs: grey, three channels, 8-bit from 16-bit, padded crops.

Convention: images in memory are numpy arrays, (H, W) uint8 for grey and (H, W, 3) uint8 in RGB
order for colour. OpenCV's BGR appears only at file and video boundaries (``workbench.io``).
"""

from __future__ import annotations

import cv2
import numpy as np


def describe(image: np.ndarray) -> str:
    """A short human description of an array's shape and dtype, for error messages."""
    return f"{image.dtype} array of shape {tuple(image.shape)}"


def check_image(image: np.ndarray, what: str = "image") -> np.ndarray:
    """The image unchanged if it is (H, W) or (H, W, 1|3|4); otherwise a ValueError naming it."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{what}: expected a numpy image, found {type(image).__name__}")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3, 4)):
        if image.shape[0] == 0 or image.shape[1] == 0:
            raise ValueError(f"{what}: expected a non-empty image, found {describe(image)}")
        return image
    raise ValueError(f"{what}: expected (H, W) or (H, W, 3), found {describe(image)}")


def to_uint8(image: np.ndarray, *, max_value: float | None = None) -> np.ndarray:
    """A uint8 image: 16-bit and float images are scaled by ``max_value`` (default: full range)."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        scale = 255.0 / (max_value if max_value else 65535.0)
    elif image.dtype == np.bool_:
        return image.astype(np.uint8) * 255
    elif np.issubdtype(image.dtype, np.floating):
        scale = 255.0 / (max_value if max_value else 1.0)
    else:
        scale = 255.0 / (max_value if max_value else float(np.iinfo(image.dtype).max))
    return np.clip(np.rint(image.astype(np.float32) * scale), 0, 255).astype(np.uint8)


def to_gray(image: np.ndarray) -> np.ndarray:
    """(H, W) grey of an RGB, RGBA, one-channel or grey image, same dtype."""
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[:, :, 0]
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2GRAY)
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def to_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB of a grey, one-channel, RGB or RGBA image, same dtype (grey is repeated)."""
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    if image.shape[2] == 4:
        return np.ascontiguousarray(image[:, :, :3])
    return image


def bgr_to_rgb(image: np.ndarray) -> np.ndarray:
    """Swap OpenCV's BGR(A) channel order to RGB(A); grey passes through."""
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    return image


def rgb_to_bgr(image: np.ndarray) -> np.ndarray:
    """Swap RGB(A) to OpenCV's BGR(A) order for writing; grey passes through."""
    return bgr_to_rgb(image)  # the swap is its own inverse


def crop_padded(image: np.ndarray, x: int, y: int, w: int, h: int, fill: int = 0) -> np.ndarray:
    """The (h, w[, C]) window with top-left (x, y); parts outside the image are filled with ``fill``.

    Samples of one view keep one size even when the part sits near the frame border.
    """
    H, W = image.shape[:2]
    out = np.full((h, w) + image.shape[2:], fill, dtype=image.dtype)
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 > x0 and y1 > y0:
        out[y0 - y : y1 - y, x0 - x : x1 - x] = image[y0:y1, x0:x1]
    return out


def window_inside(x: int, y: int, w: int, h: int, width: int, height: int) -> bool:
    """True when the window lies entirely inside a (height, width) image."""
    return x >= 0 and y >= 0 and x + w <= width and y + h <= height
