"""Images to the model's working size, with pixels outside the ROI blanked so they never count."""

from __future__ import annotations

import cv2
import numpy as np


def working_size(images: list[np.ndarray], image_size: tuple[int, int] | list[int] | None) -> tuple[int, int]:
    """(H, W) the model works at: ``image_size`` if given, else the (shared) size of the fit images."""
    if image_size is not None:
        if len(image_size) != 2 or min(int(v) for v in image_size) < 16:
            raise ValueError(
                f"image_size: expected (height, width) of at least 16 pixels; found {image_size}"
            )
        return int(image_size[0]), int(image_size[1])
    sizes = {img.shape[:2] for img in images}
    if len(sizes) > 1:
        raise ValueError(
            f"images have {len(sizes)} different sizes (e.g. {sorted(sizes)[:3]}); pass image_size=(H, W) "
            f"to resize them to one working size"
        )
    h, w = sizes.pop()
    return int(h), int(w)


def resize_roi(roi: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) bool ROI -> (h, w) bool at another size (nearest neighbour)."""
    if roi.shape == tuple(size):
        return roi.copy()
    out = cv2.resize(roi.astype(np.uint8), (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
    return out > 0


def roi_to_grid(roi: np.ndarray | None, grid: tuple[int, int]) -> np.ndarray:
    """(H, W) bool ROI -> (h, w) bool feature-grid mask: a cell counts when the ROI touches it."""
    if roi is None:
        return np.ones(grid, dtype=bool)
    area = cv2.resize(roi.astype(np.float32), (grid[1], grid[0]), interpolation=cv2.INTER_AREA)
    return area > 0


def prepare_batch(
    images: list[np.ndarray], size: tuple[int, int], roi: np.ndarray | None, fill: tuple[int, int, int]
) -> np.ndarray:
    """(B, H, W, 3) uint8 at ``size``; pixels outside ``roi`` (working size) set to ``fill``.

    Blanking outside pixels (rather than only dropping outside patches) keeps them out of the
    receptive field of the patches inside: changing them changes nothing the model learns or scores.
    """
    out = np.empty((len(images), size[0], size[1], 3), dtype=np.uint8)
    for i, img in enumerate(images):
        if img.shape[:2] != tuple(size):
            shrink = img.shape[0] > size[0] or img.shape[1] > size[1]
            img = cv2.resize(
                img, (size[1], size[0]), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
            )
        out[i] = img
    if roi is not None:
        out[:, ~roi] = np.asarray(fill, dtype=np.uint8)
    return out


def batches(n: int, batch_size: int):
    """Index ranges [start, stop) covering 0..n in steps of batch_size."""
    for start in range(0, n, max(1, batch_size)):
        yield start, min(n, start + max(1, batch_size))
