"""A defect where the user points: on the bead at the pointed place, refused off the bead, seeded, zoned."""

from __future__ import annotations

import numpy as np
import pytest
from test_defects_masks import bead_image

from workbench.synth.at_point import nearest_on_bead, synthesize_at, target_at, zone_under
from workbench.synth.bead import find_bead
from workbench.synth.geometry import arclength
from workbench.synth.placement import PlacementError


@pytest.fixture(scope="module")
def scene():
    img, roi = bead_image(4)
    return img, roi, find_bead(img, roi)


def test_a_bead_defect_is_centred_where_the_user_pointed(scene):
    img, _roi, bead = scene
    line = bead.lines[0]
    target = line.points[len(line.points) // 2] + [1.5, -2.0]  # a click a little off the centreline
    k, i, dist = nearest_on_bead(bead, tuple(target))
    assert k == 0 and dist < 3
    made = synthesize_at(img, bead, "narrowing", "medium", tuple(target), seed=0)
    s = arclength(line.points)
    assert made.params["line"] == 0 and abs((made.params["s0"] + made.params["s1"]) / 2 - s[i]) <= 3
    assert made.mask.any() and made.size == "medium"


def test_a_click_off_the_bead_or_where_nothing_fits_is_refused_in_words(scene):
    img, _roi, bead = scene
    with pytest.raises(PlacementError, match="click on the bead"):
        target_at("missing", bead, img.shape[:2], (5, 5))
    end = bead.lines[0].points[1]  # the bead's very end: no room for a long stretch there
    with pytest.raises(PlacementError, match="smaller size"):
        synthesize_at(img, bead, "misalignment", "large", tuple(end))
    with pytest.raises(PlacementError, match="outside"):
        target_at("stain", None, img.shape[:2], (500, 5))
    assert target_at("stain", None, img.shape[:2], (40, 30))[30, 40] == 1


def test_the_drawn_defect_repeats_under_its_seed_and_records_zone_and_size(scene):
    img, roi, bead = scene
    zones = np.where(roi > 0, 1, 0).astype(np.uint8)
    zones[:, 160:] *= 2
    point = tuple(bead.lines[0].points[60])
    a = synthesize_at(img, bead, "hole", "medium", point, seed=3, zones=zones, zone_names=["L", "R"])
    b = synthesize_at(img, bead, "hole", "medium", point, seed=3, zones=zones, zone_names=["L", "R"])
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask) and a.mask.any()
    assert a.params == b.params and a.zone == zone_under(a.mask, zones, ["L", "R"]) == (
        "L" if point[0] < 160 else "R"
    )
    again = synthesize_at(img, bead, "hole", "medium", point, seed=99, params=a.params)
    assert np.array_equal(again.image, a.image), "the parameters' own seed redraws the same grain"
    share = (a.mask > 0).mean()
    assert a.provenance(7)["area_share"] == pytest.approx(share, abs=1e-5) and a.target_size == "medium"
    # hand-set parameters are drawn as given: a shallower void changes less
    shallow = synthesize_at(img, bead, "hole", "medium", point, 3, {**a.params, "depth": 0.3})
    inside = a.mask > 0
    assert shallow.image[inside].mean() > a.image[inside].mean()
    assert zone_under(a.mask, None, []) is None
