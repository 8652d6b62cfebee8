"""Windows of a view for seed 003's window-size study: a derived view whose crop window is a centred
sub-window of the base view's, with its ROI, zones, samples and GT masks cut the same way, so every
other part of the workbench (train, evaluate, compare, report) treats it as an ordinary view.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

WINDOW_OF = "window_of"


def window_size(window: Any, crop_h: int, crop_w: int) -> tuple[int, int]:
    """(h, w) of a window given as a share of the crop side or as [h, w] pixels."""
    if isinstance(window, list | tuple):
        h, w = int(window[0]), int(window[1])
    else:
        h, w = int(round(crop_h * float(window))), int(round(crop_w * float(window)))
    if not (8 <= h <= crop_h and 8 <= w <= crop_w):
        raise ValueError(
            f"window {w}x{h}: expected at least 8x8 and at most the view's crop {crop_w}x{crop_h}"
        )
    return h, w


def _cut(a: np.ndarray | None, dy: int, dx: int, h: int, w: int) -> np.ndarray | None:
    return None if a is None else np.ascontiguousarray(a[dy : dy + h, dx : dx + w])


def window_view(project: Any, base: str, window: Any) -> str:
    """The name of the view that is ``base`` with a centred sub-window of its crop, creating it (and its
    samples, images and GT masks cut the same way; ROI and zones move with the crop) when missing.
    The whole crop is ``base`` itself."""
    view = project.views[base]
    h, w = window_size(window, view.crop.h, view.crop.w)
    if (h, w) == (view.crop.h, view.crop.w):
        return base
    name = f"{base}@{w}x{h}"
    if name in project.views:
        got = project.views[name]
        if got.meta.get(WINDOW_OF) != base or (got.crop.h, got.crop.w) != (h, w):
            raise ValueError(
                f"view {name!r} exists and is not the {w}x{h} window of {base!r}; rename it first"
            )
        return name
    from workbench.project.samples_api import sample_fields

    dy, dx = (view.crop.h - h) // 2, (view.crop.w - w) // 2
    crop = dataclasses.replace(view.crop, x=view.crop.x + dx, y=view.crop.y + dy, w=w, h=h)
    project.set_view(
        dataclasses.replace(
            view,
            name=name,
            crop=crop,
            roi=_cut(view.roi, dy, dx, h, w),
            zones=_cut(view.zones, dy, dx, h, w),
            meta={**view.meta, WINDOW_OF: base, "window": [h, w]},
        )
    )
    for s in project.samples(view=base):
        img = project.sample_image(s.id)
        if img.shape[0] != view.crop.h or img.shape[1] != view.crop.w:
            continue  # a sample cut with another crop window: not comparable
        mask = project.gt_mask(s.id) if s.has_mask else None
        info = sample_fields(s, view=name, x=s.x + dx, y=s.y + dy, meta={**s.meta, "window_of_sample": s.id})
        project.add_samples([_cut(img, dy, dx, h, w)], [info], [_cut(mask, dy, dx, h, w)])
    return name


def base_views(project: Any) -> list[str]:
    """The project's views that are not windows derived by a sweep."""
    return sorted(n for n, v in project.views.items() if WINDOW_OF not in v.meta)
