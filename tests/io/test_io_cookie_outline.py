"""Parts whose content varies from part to part: trays with good and cracked cookies carried over a roller
conveyor (tests/export/cookie_scene.py), from the real photographs (../shared/data/cookies) and from drawn
ones (no data needed). A cracked cookie lies elsewhere on its tray than the template's cookie and pulled the
match 7-12 px off the tray (drawn: 24-34 px); the tray's outline, told apart from the still rollers by its
motion, now holds the match. The import and line mode find every tray at its best frame (+-1) with the
match within +-3 px of the tray, one result per tray, in order."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from workbench.io.extract import ViewSpec, extract_samples, open_tracker
from workbench.io.video import VideoReader

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
from cookie_scene import DATA, SPEED, render  # noqa: E402

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


def check_trays(path: Path, trays: list[dict]) -> None:
    """Import with defaults, then line mode with the import's rule: every tray at its best frame (+-1), the
    match within +-3 px of the tray, one ok result per tray, in order."""
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


@pytest.mark.realdata
def test_cracked_cookies_are_matched_on_their_tray(cookie_video):
    check_trays(*cookie_video)


def drawn_tray(path: Path, rng: np.random.Generator, dx: int, dy: int, cracked: bool) -> None:
    """A 576 x 768 photo: a dark tray, a cookie with chocolate chips at (dx, dy) from its centre, a crack."""
    img = cv2.add(
        np.full((768, 576, 3), (52, 55, 58), np.uint8), rng.integers(0, 12, (768, 576, 3), np.uint8)
    )
    cx, cy = 288 + dx, 384 + dy
    cv2.ellipse(img, (cx, cy), (200, 180), int(rng.integers(0, 180)), 0, 360, (120, 175, 215), -1)
    for _ in range(40):
        a, r = rng.uniform(0, 2 * np.pi), rng.uniform(0, 160)
        chip = (int(cx + r * np.cos(a)), int(cy + r * np.sin(a)))
        cv2.circle(img, chip, int(rng.integers(8, 20)), (30, 45, 70), -1)
    if cracked:
        cv2.line(img, (cx - 150, cy - 60), (cx + 160, cy + 40), (40, 40, 45), 18)
    cv2.imwrite(str(path), img)


def test_drawn_cracked_cookies_lying_low_are_matched_on_their_tray(tmp_path):
    rng = np.random.default_rng(5)
    order = []
    for i in range(12):  # every third cookie cracked and lying far down its tray, the others near the centre
        cracked = i % 3 == 2
        dx, dy = (rng.integers(-90, 91), rng.integers(90, 170)) if cracked else rng.integers(-25, 26, 2)
        drawn_tray(tmp_path / f"tray{i}.png", rng, int(dx), int(dy), cracked)
        order.append((tmp_path / f"tray{i}.png", cracked))
    trays = render(tmp_path / "trays.mp4", order, seed=0)
    check_trays(tmp_path / "trays.mp4", trays)
