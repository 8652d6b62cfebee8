"""ROI masks: drawing helpers, exact dilation margin, apply_roi, zones."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core import masks


def test_drawing_helpers_fill_the_expected_pixels():
    m = masks.empty_mask(40, 50)
    masks.draw_rectangle(m, 5, 6, 10, 4)
    assert m.sum() // 255 == 40 and m[6, 5] == 255 and m[10, 5] == 0
    p = masks.draw_polygon(masks.empty_mask(40, 50), [(10, 10), (30, 10), (30, 30), (10, 30)])
    assert p[20, 20] == 255 and p[5, 5] == 0 and abs(int(p.sum()) // 255 - 441) <= 42
    b = masks.draw_brush(masks.empty_mask(40, 50), [(10, 20), (40, 20)], radius=3)
    assert b[20, 25] == 255 and b[24, 25] == 0 and b[23, 25] == 255
    masks.draw_brush(b, [(25, 20)], radius=1, value=0)
    assert b[20, 25] == 0


@pytest.mark.parametrize("margin", [0, 1, 5, 12])
def test_dilation_grows_by_exactly_the_margin(margin):
    m = masks.empty_mask(60, 60)
    m[30, 30] = 255
    d = masks.dilate(m, margin)
    yy, xx = np.nonzero(d)
    dist = np.hypot(yy - 30, xx - 30)
    assert dist.max() <= margin + 1e-9
    assert d[30, 30 + margin] == 255 and d[30 + margin, 30] == 255
    if margin:
        assert d[30, 30 + margin + 1] == 0


def test_apply_roi_blanks_outside_and_keeps_inside():
    img = np.full((10, 12, 3), 200, np.uint8)
    roi = masks.draw_rectangle(masks.empty_mask(10, 12), 2, 2, 4, 4)
    out = masks.apply_roi(img, roi)
    assert out[3, 3].tolist() == [200] * 3 and out[0, 0].tolist() == [0] * 3
    assert img[0, 0, 0] == 200  # the input is not modified
    with pytest.raises(ValueError, match="ROI is 12x10 px but the image is 5x5"):
        masks.apply_roi(np.zeros((5, 5), np.uint8), roi)


def test_roi_for_dilates_or_gives_everything():
    assert masks.roi_for(None, 3, 4, 5).min() == 255
    roi = masks.empty_mask(20, 20)
    roi[10, 10] = 255
    assert masks.roi_for(roi, 2, 20, 20).sum() // 255 == 13


def test_zones_split_the_roi_by_name():
    zones = np.zeros((4, 6), np.uint8)
    zones[:, :3], zones[:, 3:] = 1, 2
    roi = masks.empty_mask(4, 6)
    roi[:, 1:5] = 255
    inside = masks.zones_inside_roi(zones, roi)
    zm = masks.zone_masks(inside, ["left", "right"])
    assert zm["left"].sum() // 255 == 8 and zm["right"].sum() // 255 == 8
    with pytest.raises(ValueError, match="label 2 but only 1"):
        masks.zone_masks(zones, ["one"])
