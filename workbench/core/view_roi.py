"""The effective ROI of a view, and ROI and zones kept on the part when the crop window moves.

A view's ROI and zones are drawn in crop-window coordinates; the crop window is placed relative to
the template match, so they follow the alignment. What training, evaluation, export, import and the
GUI use is the **effective ROI**: the drawn ROI grown by the view's margin, at the crop window's size
or, for samples of another size (datasets of varied image sizes), brought to theirs. Every caller
goes through :func:`effective_roi`, so all of them see the same pixels. Views are read duck-typed
(``roi``, ``roi_margin``, ``crop`` with ``x, y, w, h``, ``name``): core knows nothing of projects.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.core.masks import dilate
from workbench.core.working import resize_mask


def effective_roi(view: Any, shape: tuple[int, int] | None = None) -> np.ndarray | None:
    """(H, W) uint8 0/255: the view's ROI grown by its margin, at ``shape`` (default: the crop window); None without ROI."""
    roi = getattr(view, "roi", None)
    if roi is None:
        return None
    crop = (int(view.crop.h), int(view.crop.w))
    if roi.shape[:2] != crop:
        raise ValueError(
            f"view {view.name!r}: its ROI is {roi.shape[1]}x{roi.shape[0]} px but its crop window is "
            f"{crop[1]}x{crop[0]} px; redraw the ROI (or move it with the crop window)"
        )
    grown = dilate(roi, int(view.roi_margin))
    if shape is not None and tuple(shape[:2]) != crop:
        grown = resize_mask(grown, shape[:2]).astype(np.uint8) * 255
    return grown


def effective_roi_or_all(view: Any, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Like :func:`effective_roi`, but all 255 (every pixel counts) for a view without ROI."""
    roi = effective_roi(view, shape)
    if roi is not None:
        return roi
    h, w = (int(view.crop.h), int(view.crop.w)) if shape is None else (int(shape[0]), int(shape[1]))
    return np.full((h, w), 255, np.uint8)


def shift_plane(plane: np.ndarray | None, old: Any, new: Any) -> np.ndarray | None:
    """``plane`` (old.h, old.w) re-cut for crop window ``new``: every pixel keeps its place relative to
    the match, pixels outside the new window are dropped and new ones are 0."""
    if plane is None:
        return None
    out = np.zeros((int(new.h), int(new.w)), plane.dtype)
    dx, dy = int(old.x) - int(new.x), int(old.y) - int(new.y)  # where old (0, 0) lands in the new window
    x0, y0 = max(dx, 0), max(dy, 0)
    x1, y1 = min(dx + int(old.w), int(new.w)), min(dy + int(old.h), int(new.h))
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = plane[y0 - dy : y1 - dy, x0 - dx : x1 - dx]
    return out


def planes_for_crop(
    roi: np.ndarray | None, zones: np.ndarray | None, old: Any, new: Any
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(roi, zones) drawn for crop window ``old`` moved to crop window ``new`` (same template)."""
    return shift_plane(roi, old, new), shift_plane(zones, old, new)
