"""Pass segmentation: hysteresis, minimum pass and gap length; online equals offline."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.io.passes import PassRule, PassSegmenter, segment_passes


def test_hysteresis_bridges_short_dips_and_drops_short_blips():
    rule = PassRule(high=10, low=5, min_pass=3, min_gap=3)
    s = np.zeros(60)
    s[5:20] = 20
    s[12] = 7  # between low and high: stays on
    s[14:16] = 0  # a 2-frame gap: bridged
    s[30:32] = 20  # a 2-frame blip: dropped
    s[40:50] = 20
    s[50:52] = 6  # still above low: still on
    assert segment_passes(s, rule) == [(5, 19), (40, 51)]


def test_sampled_frames_keep_frame_indices():
    rule = PassRule(high=10, low=5, min_pass=4, min_gap=4)
    frames = np.arange(0, 60, 2)
    s = ((frames >= 10) & (frames < 30)).astype(float) * 20
    assert segment_passes(s, rule, frames) == [(10, 28)]


def test_bad_rules_are_rejected():
    with pytest.raises(ValueError, match="low threshold"):
        PassRule(high=1, low=2)
    with pytest.raises(ValueError, match="statistic"):
        PassRule(statistic="median")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 30), min_size=1, max_size=120), st.integers(1, 6), st.integers(0, 6))
def test_online_segmenter_matches_offline_and_passes_are_ordered(values, min_pass, min_gap):
    rule = PassRule(high=15, low=8, min_pass=min_pass, min_gap=min_gap)
    seg = PassSegmenter(rule)
    online = []
    for i, v in enumerate(values):
        online += seg.push(i, v)
    online += seg.finish()
    assert online == segment_passes(np.array(values), rule)
    for (a, b), (c, _) in zip(online, online[1:]):
        assert a <= b < c and c - b - 1 >= max(min_gap, 1)
    assert all(b - a + 1 >= min_pass for a, b in online)
    assert all(values[a] >= 15 for a, _ in online)
