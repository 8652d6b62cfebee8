"""Best-frame tracking: the sharpest frame wins even at the pass edges, with few full matches."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from workbench.core.best_frame import BestFrameTracker
from workbench.core.matching import FramePyramid, ViewMatcher


def scene(seed=0):
    rng = np.random.default_rng(seed)
    base = cv2.resize(
        rng.integers(0, 255, (40, 60)).astype(np.uint8), (240, 160), interpolation=cv2.INTER_CUBIC
    )
    return base


def frames_with_best_at(best: int, n: int = 12):
    base = scene()
    out = []
    for k in range(n):
        shifted = np.roll(base, 3 * k, axis=1)
        sigma = 0.8 * abs(k - best)
        out.append(cv2.GaussianBlur(shifted, (0, 0), sigma) if sigma else shifted)
    return out


@pytest.mark.parametrize("best", [0, 5, 11])
def test_best_frame_is_found_at_the_start_middle_and_end_of_a_pass(best):
    frames = frames_with_best_at(best)
    template = frames[best][50:110, 60:140]
    tracker = BestFrameTracker(ViewMatcher("v", template, 0.5), (-10, -5, 100, 70), top_k=2)
    for k, f in enumerate(frames):
        tracker.push(k, FramePyramid(f), f)
    ranked, best_score = tracker.finish()
    assert ranked[0].frame == best and ranked[0].score == pytest.approx(best_score) and ranked[0].score > 0.99
    assert (ranked[0].match_x, ranked[0].match_y) == (60, 50)
    assert (ranked[0].x, ranked[0].y) == (50, 45) and ranked[0].crop.shape == (70, 100)
    assert len(ranked) == 2 and abs(ranked[1].frame - best) == 1
    assert tracker.fine_matches < len(frames)


def test_window_outside_the_frame_is_padded_and_flagged():
    f = scene(1)
    tracker = BestFrameTracker(ViewMatcher("v", f[0:40, 0:50], 0.5), (-8, -8, 70, 60))
    tracker.push(0, FramePyramid(f), f)
    (c,), _ = tracker.finish()
    assert c.clipped and c.crop.shape == (60, 70) and c.crop[:8].max() == 0
    assert np.array_equal(c.crop[8:48, 8:58], f[0:40, 0:50])
