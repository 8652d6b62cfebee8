"""Preprocessing (letterbox, crop, standardize) and seeded augmentations."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core import augment, preprocess, working


def test_letterbox_keeps_aspect_and_maps_back():
    img = np.zeros((100, 200), np.uint8)
    img[40:60, 90:110] = 255
    out, lb = working.letterbox(img, 128, 128)
    assert out.shape == (128, 128) and lb.scale == pytest.approx(0.64)
    assert out[: lb.top].max() == 0 and lb.top == 32
    back = lb.to_source(out, nearest=True)
    assert back.shape == img.shape
    assert np.mean(back == img) > 0.99


def test_centre_crop_resize_and_three_channels():
    img = np.arange(60, dtype=np.uint8).reshape(6, 10)
    assert preprocess.center_crop(img, 4, 2).tolist() == img[2:4, 3:7].tolist()
    with pytest.raises(ValueError, match="cannot centre-crop 12x2"):
        preprocess.center_crop(img, 12, 2)
    assert working.to_rgb8(img).shape == (6, 10, 3)
    assert working.resize(np.zeros((6, 10, 1), np.uint8), 5, 3).shape == (3, 5, 1)
    assert preprocess.to_chw(np.zeros((6, 10, 3), np.uint8)).shape == (3, 6, 10)


def test_standardize_gives_zero_mean_unit_std():
    x = np.random.default_rng(0).integers(50, 90, (32, 32, 3)).astype(np.uint8)
    s = preprocess.standardize(x)
    assert s.dtype == np.float32 and abs(s.mean()) < 1e-5 and s.std() == pytest.approx(1.0, abs=1e-4)
    assert np.all(preprocess.standardize(np.full((4, 4), 9, np.uint8)) == 0)


def test_augmenter_is_seeded_and_probability_zero_is_identity():
    img = np.random.default_rng(1).integers(0, 255, (48, 64, 3)).astype(np.uint8)
    mask = np.zeros((48, 64), np.uint8)
    mask[10:20, 10:30] = 255
    kw = dict(p_defocus=0.5, p_brightness_contrast=0.5, p_iso_noise=0.5, p_rotate=0.5, p_gaussian_noise=0.5)
    a = [augment.Augmenter(seed=3, **kw).augment(img, mask) for _ in range(2)]
    assert np.array_equal(a[0][0], a[1][0]) and np.array_equal(a[0][1], a[1][1])
    out, m = augment.Augmenter(seed=3).augment(img, mask)
    assert np.array_equal(out, img) and np.array_equal(m, mask)
    with pytest.raises(ValueError, match="p_rotate"):
        augment.Augmenter(p_rotate=1.5)


def test_each_augmentation_changes_the_image_as_described():
    rng = np.random.default_rng(0)
    img = np.zeros((41, 41), np.uint8)
    img[20, 20] = 255
    blurred = augment.defocus(img, 5)
    assert np.count_nonzero(blurred) > 60 and blurred.max() < 255
    grey = np.full((8, 8), 100, np.uint8)
    assert augment.brightness_contrast(grey, 0.2, 0.0)[0, 0] == 151
    assert augment.gaussian_noise(grey, rng, 5.0).std() > 2
    assert augment.iso_noise(np.full((8, 8, 3), 128, np.uint8), rng).std() > 0
    mask = np.zeros((41, 41), np.uint8)
    mask[20, 30] = 255
    rot = augment.rotate(mask, 90, nearest=True)
    assert rot[10, 20] == 255  # counter-clockwise: right of centre moves up
