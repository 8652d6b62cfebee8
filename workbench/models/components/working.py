"""Working images with the ROI blanked, and feature-grid masks: what the models add to :mod:`workbench.core.working`.

Pixels outside the ROI (and the letterbox padding) are set to the fill colour before any network
sees them, so they cannot change what is learned or scored; maps are zero there.
"""

from __future__ import annotations

import cv2
import numpy as np

from workbench.core.working import mask_to_working, working_batch


def prepare_working(
    images: list[np.ndarray],
    roi: np.ndarray | None,
    size: tuple[int, int],
    mode: str,
    fill: tuple[int, int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """(B, h, w, 3) uint8 working images blanked outside the ROI and (B, h, w) bool valid masks.

    ``roi`` is the model's ROI at any size (None: every pixel); the valid mask is the same for every
    image, the ROI brought to the working size (padding excluded).
    """
    work = working_batch(images, size, mode)
    valid = valid_mask(roi, size, mode)
    work[:, ~valid] = np.asarray(fill, np.uint8)
    return work, np.broadcast_to(valid, work.shape[:3]).copy()


def valid_mask(roi: np.ndarray | None, size: tuple[int, int], mode: str) -> np.ndarray:
    """(h, w) bool: where a working image holds ROI pixels (not outside the ROI, not padding)."""
    if roi is None:
        roi = np.ones((int(size[0]), int(size[1])), np.uint8)
        if mode != "pad":
            return roi > 0
    return mask_to_working(roi, size, mode)


def roi_to_grid(roi: np.ndarray | None, grid: tuple[int, int]) -> np.ndarray:
    """(H, W) bool ROI -> (h, w) bool feature-grid mask: a cell counts when the ROI touches it."""
    if roi is None:
        return np.ones(grid, dtype=bool)
    area = cv2.resize(roi.astype(np.float32), (grid[1], grid[0]), interpolation=cv2.INTER_AREA)
    return area > 0


def grid_mask(valid: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(B, h, w) bool valid pixels -> (B, gh, gw) float32: 1 where a feature cell lies mostly inside."""
    out = np.stack(
        [cv2.resize(v.astype(np.float32), (grid[1], grid[0]), interpolation=cv2.INTER_AREA) for v in valid]
    )
    return (out >= 0.5).astype(np.float32)


def batches(n: int, batch_size: int):
    """Index ranges [start, stop) covering 0..n in steps of batch_size."""
    for start in range(0, n, max(1, batch_size)):
        yield start, min(n, start + max(1, batch_size))
