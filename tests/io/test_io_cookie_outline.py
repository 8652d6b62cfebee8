"""Real photographs whose content varies from part to part: trays with good and cracked cookies
(../shared/data/cookies) carried over a roller conveyor (tests/export/cookie_scene.py). A cracked cookie lies
elsewhere on its tray than the template's cookie and pulled the match 7-12 px off the tray; the tray's
outline, told apart from the still rollers by its motion, now holds the match. The import and line mode find
every tray at its best frame (+-1) with the match within +-3 px of the tray, one result per tray, in order."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import pytest

from workbench.io.extract import ViewSpec, extract_samples, open_tracker
from workbench.io.video import VideoReader

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
from cookie_scene import DATA, SPEED, render  # noqa: E402

pytestmark = pytest.mark.realdata

# the cracked cookies that lie farthest from their tray's centre, between good ones
CRACKED = ["anomaly-1.jpg", "anomaly-14.jpg", "anomaly-15.jpg"]


@pytest.fixture(scope="module")
def cookie_video(tmp_path_factory):
    if not DATA.is_dir():
        pytest.skip(f"the shared cookie photos are not available ({DATA})")
    good = sorted((DATA / "train" / "good").glob("*.jpg"))[:9]
    order = [(p, False) for p in good[:3]]
    for name, more in zip(CRACKED, (good[3:5], good[5:7], good[7:9]), strict=True):
        order += [(DATA / "test" / "crack" / name, True), *((p, False) for p in more)]
    folder = tmp_path_factory.mktemp("cookie_outline")
    path = folder / "cookies.mp4"
    trays = render(path, order, seed=0)
    return path, trays


def test_cracked_cookies_are_matched_on_their_tray(cookie_video):
    path, trays = cookie_video
    first = trays[0]
    x, y, w, h = first["box"]
    with VideoReader(path) as r:
        template = r.read(first["centred"])[y : y + h, x : x + w]
    views = [ViewSpec("tray", template, origin=(float(x), float(y), int(first["centred"])))]
    ex = extract_samples(path, views)
    report = "\n".join([*ex.rule.reasons, *ex.warnings])
    assert ex.rule.view("tray").outline, report  # the tray's outline holds the matches
    best = {s.pass_index: s for s in ex.samples if s.rank == 0}
    assert len(ex.records) == len(trays) and sorted(best) == list(range(len(trays))), report
    for i, tray in enumerate(trays):
        s = best[i]
        k = s.frame - tray["centred"]
        assert abs(k) <= 1, f"tray {i}: frame {s.frame}, best {tray['centred']}\n{report}"
        bx, by = tray["box"][0] + SPEED * k, tray["box"][1]
        assert abs(s.match_x - bx) <= 3 and abs(s.match_y - by) <= 3, (
            f"tray {i} ({'cracked' if tray['cracked'] else 'good'}): match at {s.match_x},{s.match_y}, "
            f"tray at {bx},{by}\n{report}"
        )
    assert not ex.suspects, report

    # line mode: RGB frames through the same tracker with the import's rule, one result per tray, in order
    with VideoReader(path) as r:
        tracker = open_tracker(ex.rule, [v.track_view() for v in views], (r.width, r.height))
        done = []
        for index, rgb in r.frames():
            done += tracker.push(index, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), rgb)
        done += tracker.finish()
    frames = [tracker.ranked(p.crossings["tray"])[0].frame for p in done]
    assert [p.status for p in done] == ["ok"] * len(trays)
    assert all(abs(f - t["centred"]) <= 1 for f, t in zip(frames, trays, strict=True)), frames
