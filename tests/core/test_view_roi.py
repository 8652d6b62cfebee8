"""One effective ROI per view (ROI grown by its margin, at the crop or sample size), moved with the crop window."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from workbench.core.view_roi import effective_roi, effective_roi_or_all, planes_for_crop


@dataclass
class Crop:
    x: int
    y: int
    w: int
    h: int


@dataclass
class View:
    crop: Crop
    roi: np.ndarray | None = None
    roi_margin: int = 0
    name: str = "front"
    zones: np.ndarray | None = None
    zone_names: list[str] = field(default_factory=list)


def test_the_effective_roi_is_the_grown_roi_at_the_crop_or_the_sample_size():
    roi = np.zeros((20, 30), np.uint8)
    roi[8:12, 10:20] = 255
    view = View(Crop(0, 0, 30, 20), roi, roi_margin=2)
    eff = effective_roi(view)
    assert eff.shape == (20, 30) and eff[6, 15] == 255 and eff[5, 15] == 0  # grown by 2 px
    big = effective_roi(view, (40, 60))
    assert big.shape == (40, 60) and big[20, 30] == 255 and big[0, 0] == 0
    assert effective_roi(View(Crop(0, 0, 30, 20))) is None
    assert effective_roi_or_all(View(Crop(0, 0, 30, 20)), (5, 6)).min() == 255


def test_a_roi_that_does_not_fit_its_crop_window_is_an_error_naming_the_view():
    view = View(Crop(0, 0, 30, 20), np.zeros((10, 10), np.uint8), name="back")
    with pytest.raises(ValueError, match="view 'back': its ROI is 10x10 px but its crop window is 30x20 px"):
        effective_roi(view)


def test_roi_and_zones_stay_on_the_part_when_the_crop_window_moves():
    roi = np.zeros((20, 30), np.uint8)
    roi[5:10, 5:10] = 255
    zones = (roi > 0).astype(np.uint8)
    old, new = Crop(0, 0, 30, 20), Crop(-4, 2, 40, 16)  # 4 px more on the left, starts 2 px lower
    moved_roi, moved_zones = planes_for_crop(roi, zones, old, new)
    assert moved_roi.shape == (16, 40)
    assert moved_roi[3:8, 9:14].min() == 255 and moved_roi.sum() == roi.sum()
    assert np.array_equal(moved_zones > 0, moved_roi > 0)
    assert planes_for_crop(None, None, old, new) == (None, None)
