"""Qt-free helpers of the Views pane: views edited as new records, ROI and zones kept in place when the
crop window moves, the overlay that shows ROI, margin and zones, and the match score over a video."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from workbench.core.view_roi import planes_for_crop

ZONE_COLORS = ((255, 180, 0), (0, 200, 255), (200, 90, 255), (120, 220, 60), (255, 110, 170), (90, 140, 255))


def edited(view: Any, **changes: Any) -> Any:
    """A copy of the ViewInfo ``view`` with ``changes`` (arrays copied, so undo keeps the old ones)."""
    v = dataclasses.replace(view, **changes)
    for key in ("roi", "zones"):
        arr = getattr(v, key)
        if arr is not None and key not in changes:
            setattr(v, key, arr.copy())
    v.zone_names = list(v.zone_names)
    return v


def with_crop(view: Any, crop: Any) -> Any:
    """The view with crop window ``crop``, its ROI and zones moved along so they stay on the part."""
    roi, zones = planes_for_crop(view.roi, view.zones, view.crop, crop)
    return edited(view, crop=crop, roi=roi, zones=zones)


def view_overlay(
    roi: np.ndarray | None, margin: int, zones: np.ndarray | None, roi_color: tuple[int, int, int]
) -> np.ndarray | None:
    """(H, W, 4) RGBA: zones in their colours, the ROI see-through, and the ROI grown by ``margin`` as a
    solid outline (what training and inference use)."""
    from workbench.core.masks import dilate
    from workbench.gui.imaging import outline

    if roi is None and zones is None:
        return None
    shape = (roi if roi is not None else zones).shape
    rgba = np.zeros((*shape, 4), np.uint8)
    if zones is not None:  # a light tint and a solid border: the bead under a zone stays visible
        for k in range(1, int(zones.max(initial=0)) + 1):
            m = zones == k
            rgba[m, :3] = ZONE_COLORS[(k - 1) % len(ZONE_COLORS)]
            rgba[m, 3] = 55
            border = outline(m)
            rgba[border, :3] = ZONE_COLORS[(k - 1) % len(ZONE_COLORS)]
            rgba[border, 3] = 230
    if roi is not None:
        inside = roi > 0
        plain = inside & (rgba[..., 3] == 0)
        rgba[plain, :3] = roi_color
        rgba[plain, 3] = 70
        rgba[outline(roi), :3] = roi_color
        rgba[outline(roi), 3] = 200
        if margin > 0:
            grown = outline(dilate(roi, margin))
            rgba[grown] = (255, 255, 255, 255)
    return rgba


def match_scores(
    path: str, name: str, template: np.ndarray, every: int, progress: Any, cancel: Any
) -> tuple[np.ndarray, np.ndarray]:
    """(frames (N,), best NCC score (N,) float32) of a view's template on every ``every``-th frame."""
    from workbench.core.matching import FramePyramid, ViewMatcher
    from workbench.io.video import FrameRange, VideoReader

    matcher = ViewMatcher(name, template)
    frames, scores = [], []
    with VideoReader(path) as reader:
        matcher.check_frame(reader.width, reader.height)
        for index, frame in reader.frames(
            FrameRange(0, None, max(1, every)), progress=progress, cancel=cancel
        ):
            frames.append(index)
            scores.append(matcher.match(FramePyramid(frame)).score)
    return np.asarray(frames, np.int64), np.asarray(scores, np.float32)


def match_on(frame: np.ndarray, name: str, template: np.ndarray) -> tuple[float, int, int]:
    """(score, x, y) of a template's best match on one frame."""
    from workbench.core.matching import FramePyramid, ViewMatcher

    m = ViewMatcher(name, template).match(FramePyramid(frame))
    return m.score, m.x, m.y


def crop_of(frame: np.ndarray, x: int, y: int, w: int, h: int) -> np.ndarray:
    """The (h, w) window of ``frame`` at (x, y), padded with black where it leaves the frame."""
    from workbench.core.image import crop_padded

    return crop_padded(frame, x, y, w, h)
