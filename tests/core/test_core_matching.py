"""Template matching: coarse-to-fine finds what full-resolution NCC finds; bad templates are named."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from workbench.core.matching import FramePyramid, ViewMatcher, cut_template, default_window, match_template


def textured(rng, h, w):
    img = rng.integers(0, 255, (h // 4, w // 4)).astype(np.uint8)
    return cv2.GaussianBlur(cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC), (3, 3), 0)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_coarse_to_fine_finds_the_full_resolution_peak(seed):
    rng = np.random.default_rng(seed)
    frame = textured(rng, 240, 424)
    x, y = int(rng.integers(0, 424 - 60)), int(rng.integers(0, 240 - 50))
    template = cut_template(frame, x, y, 60, 50)
    noisy = np.clip(frame + rng.normal(0, 3, frame.shape), 0, 255).astype(np.uint8)
    full = match_template(noisy, template)
    fast = ViewMatcher("v", template, 0.6).match(FramePyramid(noisy))
    assert (fast.x, fast.y) == (full.x, full.y) == (x, y)
    assert fast.score == pytest.approx(full.score, abs=1e-5)


def test_small_templates_use_a_finer_coarse_scale():
    rng = np.random.default_rng(5)
    frame = textured(rng, 120, 160)
    m = ViewMatcher("tiny", cut_template(frame, 30, 40, 20, 16), 0.5)
    assert m.scale >= 12 / 16
    hit = m.match(FramePyramid(frame))
    assert (hit.x, hit.y) == (30, 40) and hit.score > 0.99


def test_template_larger_than_frame_is_an_error_naming_the_view():
    rng = np.random.default_rng(0)
    m = ViewMatcher("lower front", textured(rng, 100, 200), 0.6)
    with pytest.raises(ValueError, match="lower front.*larger than"):
        m.check_frame(160, 90)


def test_flat_template_is_rejected():
    with pytest.raises(ValueError, match="flat"):
        ViewMatcher("v", np.full((20, 20), 7, np.uint8))


def test_template_rectangle_outside_the_frame_is_rejected():
    with pytest.raises(ValueError, match="not inside"):
        cut_template(np.zeros((50, 50), np.uint8), 40, 40, 20, 20)


def test_default_window_is_centred_and_clipped_to_the_frame():
    assert default_window(40, 30, 200, 100, margin=10) == (-10, -10, 60, 50)
    x, y, w, h = default_window(190, 30, 200, 100, margin=10)
    assert w == 200 and x == -5 and h == 50
