"""Images to a fixed working size (stretched or letterboxed) with the ROI blanked, and maps back.

Trained networks need one input size. ``resize_mode='stretch'`` resizes (the papers' default);
``'pad'`` keeps the aspect ratio and pads (seed 004: defects at the border survive, nothing is
cropped). Pixels outside the ROI and the padding are set to the fill colour before the network sees
them, so they cannot change what is learned or scored; maps are zero there.
"""

from __future__ import annotations

import cv2
import numpy as np

from workbench.core.preprocess import Letterbox, letterbox

RESIZE_MODES = ("stretch", "pad")


def check_resize_mode(mode: str) -> str:
    if mode not in RESIZE_MODES:
        raise ValueError(f"resize_mode: expected one of {RESIZE_MODES}; found {mode!r}")
    return mode


def roi_for_image(roi: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The fitted (H0, W0) ROI for an image of (H, W): itself, or resized (nearest) when sizes differ."""
    if roi.shape == tuple(shape):
        return roi.astype(bool)
    return cv2.resize(roi.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 0


def _to_working(
    img: np.ndarray, size: tuple[int, int], mode: str, nearest: bool
) -> tuple[np.ndarray, Letterbox | None]:
    h, w = size
    if mode == "pad":
        return letterbox(img, w, h, 0, nearest=nearest)
    if img.shape[:2] == (h, w):
        return img, None
    shrink = img.shape[0] > h or img.shape[1] > w
    interp = cv2.INTER_NEAREST if nearest else (cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return cv2.resize(img, (w, h), interpolation=interp), None


def prepare_working(
    images: list[np.ndarray], roi: np.ndarray, size: tuple[int, int], mode: str, fill: tuple[int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """(B, h, w, 3) uint8 working images and (B, h, w) bool valid masks (inside the ROI, not padding)."""
    out = np.empty((len(images), size[0], size[1], 3), np.uint8)
    valid = np.empty((len(images), size[0], size[1]), bool)
    for i, img in enumerate(images):
        roi_i = roi_for_image(roi, img.shape[:2])
        work, _ = _to_working(img, size, mode, nearest=False)
        v, _ = _to_working(roi_i.astype(np.uint8), size, mode, nearest=True)
        v = v > 0
        work = work.copy()
        work[~v] = np.asarray(fill, np.uint8)
        out[i], valid[i] = work, v
    return out, valid


def maps_to_inputs(
    maps: np.ndarray, images: list[np.ndarray], roi: np.ndarray, mode: str
) -> np.ndarray | list[np.ndarray]:
    """(N, h, w) working-size maps -> (N, H, W) float32 at each image's size, 0 outside the ROI.

    Returns one stacked array when all images share a size, else a list.
    """
    size = maps.shape[1:]
    out = []
    for m, img in zip(maps, images):
        shape = img.shape[:2]
        roi_i = roi_for_image(roi, shape)
        m = m.astype(np.float32, copy=True)
        if mode == "pad":
            _, box = letterbox(np.zeros(shape, np.uint8), size[1], size[0])
            m = box.to_source(m)
        elif m.shape != shape:
            m = cv2.resize(m, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
        m[~roi_i] = 0.0
        out.append(m.astype(np.float32, copy=False))
    if len({m.shape for m in out}) == 1:
        return np.stack(out)
    return out


def grid_mask(valid: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(B, h, w) bool valid pixels -> (B, gh, gw) float32: 1 where a feature cell lies mostly inside."""
    out = np.stack(
        [cv2.resize(v.astype(np.float32), (grid[1], grid[0]), interpolation=cv2.INTER_AREA) for v in valid]
    )
    return (out >= 0.5).astype(np.float32)
