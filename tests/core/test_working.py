"""The one image-format conversion and the one working-size step (stretch / pad, forward and back)."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.working import (
    maps_to_images,
    mask_to_working,
    resolve_size,
    to_rgb8,
    to_working,
    working_batch,
)


def test_every_accepted_format_becomes_rgb8_and_16_bits_come_back_exactly():
    grey = np.random.default_rng(0).integers(0, 256, (20, 30), dtype=np.uint8)
    rgb = to_rgb8(grey)
    assert rgb.shape == (20, 30, 3) and rgb.dtype == np.uint8 and np.array_equal(rgb[..., 2], grey)
    assert np.array_equal(to_rgb8(grey[..., None]), rgb)
    assert np.array_equal(to_rgb8(grey.astype(np.uint16) * 257), rgb)  # 8 -> 16 bit expansion undone
    rgba = np.concatenate([rgb, np.zeros((20, 30, 1), np.uint8)], axis=2)
    assert np.array_equal(to_rgb8(rgba), rgb)
    assert to_rgb8(rgb) is rgb
    with pytest.raises(ValueError, match="uint8 or uint16"):
        to_rgb8(grey.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(H, W\) grey"):
        to_rgb8(rgb[..., :2])


def test_stretch_and_pad_go_to_the_working_size_and_maps_come_back():
    img = np.zeros((60, 120, 3), np.uint8)
    img[:, 60:] = 255
    stretched = to_working(img, (32, 32), "stretch")
    padded = to_working(img, (32, 32), "pad")
    assert stretched.shape == padded.shape == (32, 32, 3)
    assert padded[:8].max() == 0 and padded[24:].max() == 0  # letterbox bars above and below
    assert stretched[:, :15].max() == 0 and stretched[:, 17:].min() == 255
    valid = mask_to_working(np.ones((60, 120), np.uint8), (32, 32), "pad")
    assert not valid[:8].any() and valid[8:24].all()  # padding is never valid
    m = np.zeros((32, 32), np.float32)
    m[:, 16:] = 1.0
    for mode in ("stretch", "pad"):
        (back,) = maps_to_images(m[None], [img.shape], mode)
        assert back.shape == (60, 120) and back[:, :50].max() < 0.1 and back[:, 70:].min() > 0.9


def test_maps_come_back_at_each_image_size_and_zero_outside_the_roi():
    roi = np.zeros((20, 20), np.uint8)
    roi[5:15, 5:15] = 1
    maps = np.ones((2, 16, 16), np.float32)
    out = maps_to_images(maps, [(20, 20, 3), (40, 30, 3)], "stretch", roi)
    assert isinstance(out, list) and out[0].shape == (20, 20) and out[1].shape == (40, 30)
    assert out[0][roi == 0].max() == 0 and out[0][roi > 0].min() == 1
    assert out[1][:10].max() == 0 and out[1][20, 15] == 1  # the ROI brought to the other size


def test_working_size_is_given_or_shared_and_batches_are_uint8():
    assert resolve_size([(10, 20, 3), (10, 20)], None) == (10, 20)
    assert resolve_size([(10, 20, 3), (11, 20, 3)], (8, 8)) == (8, 8)
    with pytest.raises(ValueError, match="image_size"):
        resolve_size([(10, 20, 3), (11, 20, 3)], None)
    batch = working_batch([np.zeros((10, 20, 3), np.uint8), np.zeros((30, 10, 3), np.uint8)], (16, 16))
    assert batch.shape == (2, 16, 16, 3) and batch.dtype == np.uint8
