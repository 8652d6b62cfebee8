"""ROI masks and zones on numpy arrays: draw (polygon, rectangle, brush), dilate by a margin, apply.

Masks are (H, W) uint8 with 0 = outside and 255 = inside, in sample (crop window) coordinates, so
they follow the template alignment into every sample without any warping. Zones are (H, W) uint8
label images: 0 = no zone, k = the k-th zone name.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def empty_mask(height: int, width: int) -> np.ndarray:
    """An all-zero (height, width) uint8 mask."""
    return np.zeros((height, width), np.uint8)


def _check_mask(mask: np.ndarray, what: str = "mask") -> np.ndarray:
    if mask.ndim != 2:
        raise ValueError(f"{what}: expected an (H, W) mask, found shape {tuple(mask.shape)}")
    return mask


def binarize(mask: np.ndarray, threshold: int = 128) -> np.ndarray:
    """(H, W) uint8 0/255 of any mask (bool, 0/1, 0/255, grey; colour masks count any channel)."""
    if mask.ndim == 3:
        mask = mask.max(axis=2)
    if mask.dtype == np.bool_:
        return mask.astype(np.uint8) * 255
    if mask.size and mask.max() <= 1:
        return (mask > 0).astype(np.uint8) * 255
    return (mask >= threshold).astype(np.uint8) * 255


def draw_polygon(mask: np.ndarray, points: Sequence[tuple[float, float]], value: int = 255) -> np.ndarray:
    """The mask with a filled polygon of (x, y) vertices set to ``value`` (in place, returned)."""
    _check_mask(mask)
    pts = np.round(np.asarray(points, np.float64)).astype(np.int32).reshape(-1, 1, 2)
    if len(pts) < 3:
        raise ValueError(f"a polygon needs at least 3 points, found {len(pts)}")
    cv2.fillPoly(mask, [pts], int(value))
    return mask


def draw_rectangle(mask: np.ndarray, x: int, y: int, w: int, h: int, value: int = 255) -> np.ndarray:
    """The mask with the rectangle (x, y, w, h) set to ``value`` (clipped to the mask; in place)."""
    _check_mask(mask)
    H, W = mask.shape
    mask[max(0, y) : min(H, y + h), max(0, x) : min(W, x + w)] = value
    return mask


def draw_brush(
    mask: np.ndarray, points: Sequence[tuple[float, float]], radius: int, value: int = 255
) -> np.ndarray:
    """The mask with a round brush stroke of ``radius`` px along (x, y) points (in place, 0 erases)."""
    _check_mask(mask)
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    # Discs every pixel along the path give the same round stroke width as a single dab, unlike
    # OpenCV's thick lines whose width rounds differently.
    path = [pts[:1]]
    for a, b in zip(pts[:-1], pts[1:], strict=True):
        n = max(1, int(np.ceil(np.hypot(*(b - a)))))
        path.append(a + (b - a) * (np.arange(1, n + 1)[:, None] / n))
    for x, y in np.round(np.concatenate(path)).astype(int):
        cv2.circle(mask, (int(x), int(y)), int(radius), int(value), -1)
    return mask


def dilate(mask: np.ndarray, margin: int) -> np.ndarray:
    """(H, W) uint8 0/255: the mask grown by ``margin`` pixels (Euclidean disc), for misalignment.

    Seed 000 adds a margin to the ROI so that small alignment errors never cut off the bead.
    """
    _check_mask(mask)
    binary = binarize(mask)
    if margin <= 0:
        return binary
    # A distance transform gives an exact disc for any margin, unlike a big elliptical kernel.
    dist = cv2.distanceTransform(255 - binary, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return (dist <= margin).astype(np.uint8) * 255


def roi_for(roi: np.ndarray | None, margin: int, height: int, width: int) -> np.ndarray:
    """The (height, width) dilated ROI used by training and inference; all-255 when there is none."""
    if roi is None:
        return np.full((height, width), 255, np.uint8)
    if roi.shape[:2] != (height, width):
        raise ValueError(f"ROI is {roi.shape[1]}x{roi.shape[0]} px but the samples are {width}x{height} px")
    return dilate(roi, margin)


def apply_roi(image: np.ndarray, roi: np.ndarray | None, fill: int = 0) -> np.ndarray:
    """The image with pixels outside the ROI set to ``fill`` (same shape and dtype; a copy).

    ``roi`` is an (H, W) mask (already dilated) matching the image size; None keeps the image.
    """
    if roi is None:
        return image.copy()
    if roi.shape[:2] != image.shape[:2]:
        raise ValueError(
            f"ROI is {roi.shape[1]}x{roi.shape[0]} px but the image is {image.shape[1]}x{image.shape[0]} px"
        )
    out = image.copy()
    out[roi == 0] = fill
    return out


def zone_masks(zones: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
    """{zone name: (H, W) uint8 0/255 mask} of a zone label image."""
    _check_mask(zones, "zones")
    found = int(zones.max()) if zones.size else 0
    if found > len(names):
        raise ValueError(f"zone image uses label {found} but only {len(names)} zone names are given")
    return {name: (zones == k + 1).astype(np.uint8) * 255 for k, name in enumerate(names)}


def zones_inside_roi(zones: np.ndarray, roi: np.ndarray) -> np.ndarray:
    """The zone label image with every pixel outside the ROI set to 0 (zones live inside the ROI)."""
    if zones.shape != roi.shape:
        raise ValueError(f"zones are {zones.shape[::-1]} px but the ROI is {roi.shape[::-1]} px")
    return np.where(roi > 0, zones, 0).astype(np.uint8)
