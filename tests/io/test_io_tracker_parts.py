"""The pass tracker's parts without a video: passages and crossings, grouping into parts with the suspect
checks, the calibrated rule's round trip, the template origin kept in a PNG."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.io.crossings import Crossing, PassageTracker, Sample
from workbench.io.grouping import PassGrouper
from workbench.io.passes import PassRule
from workbench.io.template_origin import png_with_origin, read_origin
from workbench.io.track_rule import TrackRule, ViewTrack, rule_from_dict


def _passage(tracker: PassageTracker, frames, us, scores=None) -> list[Crossing]:
    out = []
    scores = scores if scores is not None else [0.9] * len(frames)
    for f, u, s in zip(frames, us, scores):
        out += tracker.push(Sample(f, s, u, 0.0))
    return out


def test_a_passage_through_home_gives_one_crossing_at_the_interpolated_time():
    t = PassageTracker("v", 0.5, (8.0, 12.0), jitter=2.0, reach=7.0)
    out = _passage(t, range(10, 20), [-45 + 10 * k for k in range(10)], [0.2, *[0.9] * 8, 0.2])
    out += t.finish()
    (c,) = out
    assert c.reached and c.time == pytest.approx(14.5) and c.speed == pytest.approx(10.0)
    assert (c.first, c.last) == (11, 18)


def test_a_match_running_back_is_another_instance_and_a_lone_match_is_no_passage():
    t = PassageTracker("v", 0.5, (8.0, 12.0), jitter=2.0, reach=7.0)
    # a passage that leaves home behind, then the next part's view enters the window upstream
    out = _passage(t, range(0, 9), [-5, 5, 15, 25, -40, -30, -20, -10, 0], [0.2, *[0.9] * 8])
    out += _passage(t, [20, 21, 22, 23, 24], [0.0, 0, 0, 0, 0], [0.9, 0.2, 0.2, 0.2, 0.2])  # a stray match
    out += t.finish()
    assert [(round(c.time, 1), c.reached) for c in out] == [(0.5, True), (8.0, True)]


def test_the_stream_cutting_a_passage_gives_a_partial_crossing():
    t = PassageTracker("v", 0.5, (8.0, 12.0), jitter=2.0, reach=3.0)
    out = _passage(t, range(0, 3), [15, 25, 35])  # past home when the stream starts
    out += _passage(t, range(30, 33), [-60, -50, -40])  # not there yet when it ends
    out += t.finish()
    assert [c.reached for c in out] == [False, False]


def test_weak_frames_inside_a_passage_are_bridged():
    t = PassageTracker("v", 0.5, (8.0, 12.0), jitter=2.0, reach=7.0)
    out = _passage(t, range(8), [-35 + 10 * k for k in range(8)], [0.9, 0.9, 0.4, 0.4, 0.9, 0.9, 0.9, 0.9])
    out += t.finish()
    (c,) = out
    assert c.reached and len(c.samples) == 8 and c.time == pytest.approx(3.5)


def _rule(**kw) -> TrackRule:
    views = tuple(
        ViewTrack(n, (100.0, 50.0), "centre", 0.25, 0.5, offset=o)
        for n, o in (("a", 0.0), ("b", 200.0), ("c", 400.0))
    )
    base = dict(views=views, axis=(1.0, 0.0), speed=(9.0, 10.0, 11.0), window=(30.0, 8.0), pitch=500.0)
    return TrackRule(**{**base, **kw})


def _crossing(view: str, time: float, speed: float = 10.0) -> Crossing:
    f = int(time)
    return Crossing(view, time, speed, [Sample(f - 2, 0.9, -20, 0), Sample(f + 2, 0.9, 20, 0)])


def _grouped(rule: TrackRule, crossings: list[Crossing], last: int) -> list:
    g = PassGrouper(rule, 0)
    out = []
    for c in sorted(crossings, key=lambda c: c.time):
        g.add(c)
        out += g.due(int(c.time))
    return out + g.finish(last)


def test_back_to_back_parts_with_changing_speed_group_by_part():
    cs = []
    t = 10.0
    for speed in (10.0, 7.0, 13.0, 10.0):  # each part at its own speed, no gap between parts
        cs += [
            _crossing("a", t, speed),
            _crossing("b", t + 200 / speed, speed),
            _crossing("c", t + 400 / speed, speed),
        ]
        t += 500 / speed
    passes = _grouped(_rule(), cs, int(t) + 100)
    assert [sorted(p.crossings) for p in passes] == [["a", "b", "c"]] * 4
    assert [p.status for p in passes] == ["ok"] * 4


def test_missing_duplicate_and_out_of_order_views_make_a_pass_suspect():
    cs = [_crossing("a", 10), _crossing("b", 30), _crossing("c", 50)]  # ok
    cs += [_crossing("a", 60), _crossing("c", 100)]  # b missing
    cs += [_crossing("a", 110), _crossing("b", 127), _crossing("b", 134), _crossing("c", 150)]  # b twice
    cs += [_crossing("a", 160), _crossing("c", 176), _crossing("b", 186)]  # b and c swapped
    passes = _grouped(_rule(), cs, 1000)
    assert [p.status for p in passes] == ["ok", "suspect", "suspect", "suspect"]
    assert passes[1].reasons == ["view 'b' not found"]
    assert "view 'b' matched twice" in passes[2].reasons[0]
    assert passes[3].reasons == ["views out of order: a, c, b (expected a, b, c)"]


def test_one_passage_lost_and_found_again_is_one_crossing_the_better_matched():
    from workbench.core.best_frame import Candidate

    def refined(view: str, time: float, score: float) -> Crossing:
        c = _crossing(view, time)
        crop = np.zeros((2, 2, 3), np.uint8)
        c.samples[0].payload = Candidate(score, int(time), 0, 0, 0, 0, crop=crop, clipped=False, u=0.0)
        return c

    cs = [_crossing("a", 10), refined("b", 29, 0.7), refined("b", 31, 0.9), _crossing("c", 50)]
    (p,) = _grouped(_rule(), cs, 1000)
    assert p.status == "ok" and p.crossings["b"].time == 31 and not p.duplicates


def test_a_part_cut_by_the_stream_is_partial_and_a_long_pass_is_suspect():
    rule = _rule(pass_frames=44.0, pass_spread=1.0)
    cs = [_crossing("b", 3), _crossing("c", 23)]  # its view a crossed before the stream began
    cs += [_crossing("a", 53), _crossing("b", 73), _crossing("c", 93)]
    cs += [Crossing(n, t, 10.0, [Sample(int(t) - 40, 0.9, -20, 0), Sample(int(t) + 40, 0.9, 20, 0)]) for n, t in
           (("a", 103), ("b", 123), ("c", 143))]  # fmt: skip
    passes = _grouped(rule, cs, 1000)
    assert [p.status for p in passes] == ["partial", "ok", "suspect"]
    assert "much longer than usual" in passes[2].reasons[0]


def test_the_calibrated_rule_round_trips_through_json_and_old_rules_still_load():
    rule = _rule(reasons=("why",), pass_frames=30.0).with_thresholds({"b": 0.7})
    back = rule_from_dict(json.loads(json.dumps(rule.to_dict())))
    assert back == rule and back.view("b").min_score == 0.7 and back.order == ["a", "b", "c"]
    assert any("must match >= 0.70" in line or "matching >= 0.70" in line for line in back.summary())
    old = rule_from_dict(PassRule(high=6, low=3).to_dict())
    assert isinstance(old, PassRule) and old.high == 6
    assert rule_from_dict({}) is None
    with pytest.raises(ValueError, match="lacks or mistypes"):
        TrackRule.from_dict({"kind": "match-peaks", "views": []})


def test_a_template_png_keeps_where_it_was_cut(tmp_path):
    img = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    path = tmp_path / "t.png"
    path.write_bytes(png_with_origin(img, 17, 40, 12, "line video.mp4"))
    assert read_origin(path) == (17, 40, 12)
    import cv2

    assert np.array_equal(cv2.imread(str(path))[:, :, ::-1], img)  # still a plain PNG for every reader
    cv2.imwrite(str(tmp_path / "plain.png"), img)
    assert read_origin(tmp_path / "plain.png") is None and read_origin(tmp_path / "none.png") is None


def _bracket(bead_dy: tuple[int, ...], shift: tuple[int, int] = (0, 0)) -> np.ndarray:
    """(200, 160) uint8: two holes and a long, thick bead across the lower part whose bends move by
    ``bead_dy`` (it wobbles from part to part), everything moved by ``shift`` (x, y)."""
    import cv2

    img = np.full((200, 160), 150, np.uint8)
    sx, sy = shift
    for cx, cy in ((50 + sx, 50 + sy), (105 + sx, 95 + sy)):
        cv2.circle(img, (cx, cy), 18, 25, -1, cv2.LINE_AA)
    bends = ((10, 180), (30, 150), (70, 146), (110, 144), (150, 140))
    pts = np.array([(x + sx, y + sy + d) for (x, y), d in zip(bends, bead_dy)], np.int32)
    cv2.polylines(img, [pts], False, 40, 12, cv2.LINE_AA)
    return img


def test_a_wobbling_bead_pulls_a_whole_template_match_but_not_the_tiles_vote():
    import cv2

    from workbench.io.stable_parts import tile_vote

    tpl = _bracket((0, 0, 0, 0, 0))
    r = 10
    for wobble in ((5, 5, 4, 6, 5), (-4, -6, -5, -4, -6)):
        frame = np.full((200 + 2 * r, 160 + 2 * r), 150, np.uint8)
        frame[r:-r, r:-r] = _bracket(wobble, (2, -3))
        res = cv2.matchTemplate(frame, tpl, cv2.TM_CCOEFF_NORMED)
        _, _, _, (bx, by) = cv2.minMaxLoc(res)
        assert abs(by - r + 3) >= 3  # the bead, the strongest feature, pulls the whole template's match
        x, y = tile_vote(frame, tpl)
        assert abs(x - r - 2) <= 1 and abs(y - r + 3) <= 1
