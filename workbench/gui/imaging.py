"""Numpy images to Qt pictures, thumbnails and see-through mask overlays (RGB in, RGB out)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon, QImage, QPixmap

from workbench.core.working import to_rgb8


def as_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 from a grey, RGB or RGBA image, 8 or 16 bits (the one conversion step)."""
    return np.ascontiguousarray(to_rgb8(image, "image"))


def to_qimage(image: np.ndarray) -> QImage:
    """A QImage owning a copy of a uint8 gray, RGB or RGBA array."""
    if image.ndim == 3 and image.shape[2] == 4:
        a = np.ascontiguousarray(image)
        fmt = QImage.Format.Format_RGBA8888
    else:
        a = as_rgb(image)
        fmt = QImage.Format.Format_RGB888
    h, w = a.shape[:2]
    return QImage(a.data, w, h, a.strides[0], fmt).copy()  # copy: the array may go away


def thumbnail(image: np.ndarray, size: int) -> QIcon:
    """An icon of ``image`` scaled to fit ``size`` pixels (device independent) with its aspect kept."""
    pix = QPixmap.fromImage(to_qimage(image))
    return QIcon(
        pix.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    )


def outline(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: the border pixels of the nonzero region of ``mask`` (4-neighbourhood)."""
    m = mask > 0
    inner = m.copy()
    inner[1:, :] &= m[:-1, :]
    inner[:-1, :] &= m[1:, :]
    inner[:, 1:] &= m[:, :-1]
    inner[:, :-1] &= m[:, 1:]
    return m & ~inner


def mask_overlay(mask: np.ndarray, color: tuple[int, int, int], fill_alpha: int = 90) -> np.ndarray:
    """(H, W, 4) uint8 RGBA: the mask filled see-through with a solid outline, transparent elsewhere."""
    rgba = np.zeros((*mask.shape[:2], 4), np.uint8)
    m = mask > 0
    rgba[m, :3] = color
    rgba[m, 3] = fill_alpha
    edge = outline(mask)
    rgba[edge, :3] = color
    rgba[edge, 3] = 255
    return rgba
