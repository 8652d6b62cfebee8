"""Exact GT masks of synthetic defects: the pixels whose appearance an edit changed meaningfully.

The mask is not a drawn box: it is ``|after - before|`` (largest over colour channels) after light
smoothing, above a fixed threshold, kept inside the region the edit touched, with specks dropped and
pinholes filled. A test checks that it agrees with the raw difference (IoU >= 0.8).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

DIFF_THRESHOLD = 12.0  # grey levels, like the demo renderer's truth: weaker changes are shadow fringes
DIFF_SMOOTH = 1.0  # px: light smoothing so interpolation ripples and matched noise do not count
MIN_AREA = 12  # px: smaller islands are noise, not defect


def difference(before: np.ndarray, after: np.ndarray, smooth: float = DIFF_SMOOTH) -> np.ndarray:
    """(H, W) float32: the largest absolute change over channels after Gaussian smoothing of the change."""
    d = after.astype(np.float32) - before.astype(np.float32)
    if smooth > 0:
        d = cv2.GaussianBlur(d, (0, 0), smooth)
    d = np.abs(d)
    return d.max(axis=2) if d.ndim == 3 else d


def change_mask(
    before: np.ndarray,
    after: np.ndarray,
    region: np.ndarray | None = None,
    threshold: float = DIFF_THRESHOLD,
    smooth: float = DIFF_SMOOTH,
    min_area: int = MIN_AREA,
) -> np.ndarray:
    """(H, W) uint8 0/255: pixels changed by more than ``threshold`` inside ``region`` (grown 2 px), cleaned."""
    changed = difference(before, after, smooth) > threshold
    if region is not None:
        grown = cv2.dilate(region.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        changed &= grown
    m = cv2.morphologyEx(changed.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)) > 0
    lab, n = ndimage.label(m, structure=np.ones((3, 3)))
    if n:
        sizes = np.bincount(lab.ravel(), minlength=n + 1)
        keep = sizes >= min_area
        keep[0] = False
        m = keep[lab]
    # a pinhole inside a defect is part of it (a flat spot the edit happened to leave at the same grey)
    holes, nh = ndimage.label(~m)
    if nh:
        sizes = np.bincount(holes.ravel(), minlength=nh + 1)
        small = sizes <= min_area
        small[0] = False
        border = np.unique(np.concatenate([holes[0], holes[-1], holes[:, 0], holes[:, -1]]))
        small[border] = False
        m |= small[holes]
    return np.where(m, np.uint8(255), np.uint8(0))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two masks (nonzero = set); 1.0 when both are empty."""
    a, b = a > 0, b > 0
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)
