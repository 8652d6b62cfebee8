"""The demo station renderer: its video, templates, views and ground truth agree with each other."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from workbench.core.progress import Cancelled, CancelToken
from workbench.synth.demo import contact_sheet, render_demo
from workbench.synth.demo.layout import ZONE_COUNTS

SMALL = {"width": 424, "height": 240}


def _read_video(path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    truth = render_demo(out, passes=3, defect_rate=0.67, seed=5, **SMALL)
    views = json.loads((out / "views.json").read_text())
    return out, truth, views, _read_video(out / "demo.mp4")


def test_video_reads_back_with_the_frame_count_of_the_truth(station):
    out, truth, _, frames = station
    assert len(frames) == truth["frame_count"]
    assert frames[0].shape == (SMALL["height"], SMALL["width"], 3)
    assert json.loads((out / "truth.json").read_text()) == truth
    ends = [(p["first_frame"], p["last_frame"]) for p in truth["passes"]]
    assert all(a < b < c for (a, b), (c, _) in zip(ends, ends[1:]))  # empty conveyor between passes
    assert ends[-1][1] < truth["frame_count"] - 1


def test_conveyor_is_empty_outside_first_and_last_frame(station):
    _, truth, _, frames = station

    def change(i, j):
        return np.abs(frames[i].astype(np.float32) - frames[j].astype(np.float32)).mean()

    passes = truth["passes"]
    for p, nxt in zip(passes, passes[1:] + [None]):
        # empty frames before and after a pass are lit like their neighbours, so only noise differs
        before = p["first_frame"] - 1
        after_ref = nxt["first_frame"] - 1 if nxt else truth["frame_count"] - 1
        assert change(before, before - 1) < 3.0
        assert change(p["last_frame"] + 1, after_ref) < 3.0
        assert change(p["first_frame"] + 3, before) > 3.0
        assert change(p["last_frame"] - 3, p["last_frame"] + 1) > 3.0


def test_templates_rois_and_zones_have_the_sizes_views_json_states(station):
    out, _, views, _ = station
    assert [v["name"] for v in views["views"]] == ["front", "center", "back"]
    crop_sizes = set()
    for v in views["views"]:
        tx, ty, tw, th = v["template_rect"]
        assert 0 <= tx and 0 <= ty and tx + tw <= SMALL["width"] and ty + th <= SMALL["height"]
        template = cv2.imread(str(out / v["template"]))
        assert template.shape == (th, tw, 3)
        cx, cy, cw, ch = v["crop"]
        assert 0 <= cx and 0 <= cy and cx + cw <= tw and cy + ch <= th
        crop_sizes.add((cw, ch))
        roi = cv2.imread(str(out / v["roi_mask"]), cv2.IMREAD_GRAYSCALE)
        assert roi.shape == (ch, cw) and set(np.unique(roi)) == {0, 255}
        assert 0.05 < (roi > 0).mean() < 0.5  # the beads, not the whole panel
        zones = cv2.imread(str(out / v["zones"]), cv2.IMREAD_UNCHANGED)
        assert zones.shape == (ch, cw)
        n = ZONE_COUNTS[v["name"]]
        assert len(v["zone_names"]) == n
        assert set(np.unique(zones[roi > 0])) == set(range(1, n + 1))
    assert len(crop_sizes) == 3
    assert [ZONE_COUNTS[k] for k in ("front", "center", "back")] == [4, 8, 5]


def test_template_match_peaks_at_the_truth_best_frame_and_crop(station):
    out, truth, views, frames = station
    grey = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]
    for v in views["views"]:
        template = cv2.imread(str(out / v["template"]), cv2.IMREAD_GRAYSCALE)
        for p in truth["passes"]:
            scores = {}
            for f in range(p["first_frame"], p["last_frame"] + 1):
                result = cv2.matchTemplate(grey[f], template, cv2.TM_CCOEFF_NORMED)
                _, score, _, loc = cv2.minMaxLoc(result)
                scores[f] = (score, loc)
            found = max(scores, key=lambda f: scores[f][0])
            pv = p["views"][v["name"]]
            assert abs(found - pv["best_frame"]) <= 1, (v["name"], p["index"], found, pv["best_frame"])
            loc = scores[pv["best_frame"]][1]
            crop_xy = (loc[0] + v["crop"][0], loc[1] + v["crop"][1])
            assert abs(crop_xy[0] - pv["crop_xy"][0]) <= 3 and abs(crop_xy[1] - pv["crop_xy"][1]) <= 3
            assert scores[pv["best_frame"]][0] > 0.8


def test_defect_masks_are_non_empty_inside_the_frame_and_on_the_sample(station):
    out, truth, views, _ = station
    crops = {v["name"]: v["crop"] for v in views["views"]}
    defective = [p for p in truth["passes"] if p["defective"]]
    assert len(defective) == 2  # round(0.67 * 3)
    for p in truth["passes"]:
        assert p["defective"] == bool(p["defects"])
        for d in p["defects"]:
            assert d["type"] in {"missing", "narrowing", "bifurcation", "misalignment", "hole"}
            pv = p["views"][d["view"]]
            assert pv["defective"] and d["best_frame"] == pv["best_frame"]
            assert str(pv["best_frame"]) in d["mask"] or f"{pv['best_frame']:06d}" in d["mask"]
            mask = cv2.imread(str(out / d["mask"]), cv2.IMREAD_GRAYSCALE)
            assert mask.shape == (SMALL["height"], SMALL["width"])
            assert set(np.unique(mask)) == {0, 255}
            assert np.count_nonzero(mask) == d["area_px"] > 0
            assert 0.0005 < d["area_fraction"] < 0.06
            assert cv2.boundingRect(mask) == tuple(d["bbox"])
            # the whole defect lies in the view's sample crop
            x, y = pv["crop_xy"]
            w, h = crops[d["view"]][2:]
            inside = mask[max(y, 0) : y + h, max(x, 0) : x + w]
            assert np.count_nonzero(inside) >= 0.97 * d["area_px"]
            assert 1 <= d["zone"] <= ZONE_COUNTS[d["view"]]
            track = np.load(out / d["frame_masks"], allow_pickle=False)
            frames = track["frames"]
            assert d["best_frame"] in frames and np.all(np.diff(frames) == 1)
            k = int(np.flatnonzero(frames == d["best_frame"])[0])
            bx, by, bw, bh = track["bboxes"][k]
            assert np.array_equal(track["masks"][k, :bh, :bw], mask[by : by + bh, bx : bx + bw])


def test_defects_change_the_video_where_their_masks_say(station):
    out, truth, views, frames = station
    by_name = {v["name"]: v for v in views["views"]}
    for p in truth["passes"]:
        for d in p["defects"]:
            v, pv = by_name[d["view"]], p["views"][d["view"]]
            tx, ty = pv["template_xy"]
            tw, th = v["template_rect"][2:]
            frame = cv2.cvtColor(frames[d["best_frame"]], cv2.COLOR_BGR2GRAY).astype(np.float32)
            region = frame[ty : ty + th, tx : tx + tw]
            template = cv2.imread(str(out / v["template"]), cv2.IMREAD_GRAYSCALE).astype(np.float32)
            mask = cv2.imread(str(out / d["mask"]), cv2.IMREAD_GRAYSCALE)[ty : ty + th, tx : tx + tw]
            assert region.shape == template.shape == mask.shape
            # the pass's lighting differs from the template's: fit gain and offset away from the defect
            normal = mask == 0
            gain, offset = np.polyfit(template[normal], region[normal], 1)
            residual = np.abs(region - (gain * template + offset))
            near = cv2.dilate(mask, np.ones((9, 9), np.uint8)) > 0
            ring = cv2.dilate(mask, np.ones((25, 25), np.uint8)) > 0
            ring &= ~near
            assert residual[mask > 0].mean() > 2.0 * residual[ring].mean(), (p["index"], d["type"])


def test_same_seed_gives_identical_frames_and_truth(tmp_path):
    a = render_demo(tmp_path / "a", passes=1, defect_rate=1.0, seed=11, **SMALL)
    b = render_demo(tmp_path / "b", passes=1, defect_rate=1.0, seed=11, **SMALL)
    c = render_demo(tmp_path / "c", passes=1, defect_rate=1.0, seed=12, **SMALL)
    assert a == {**b} and a != c
    fa, fb = _read_video(tmp_path / "a" / "demo.mp4"), _read_video(tmp_path / "b" / "demo.mp4")
    assert len(fa) == len(fb) and all(np.array_equal(x, y) for x, y in zip(fa, fb))


def test_cancel_stops_the_render_and_leaves_no_truth(tmp_path):
    token = CancelToken()
    seen = []

    def progress(fraction, message):
        seen.append(fraction)
        if fraction and fraction > 0.1:
            token.cancel()

    with pytest.raises(Cancelled):
        render_demo(tmp_path, passes=3, seed=1, progress=progress, cancel=token, **SMALL)
    assert not (tmp_path / "truth.json").exists()
    assert max(seen) < 0.5


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"passes": 0}, "passes must be"),
        ({"defect_rate": 2}, "defect_rate must be a fraction"),
        ({"width": 100, "height": 240}, "frame width must be"),
        ({"width": 200, "height": 100}, "height must be at least"),
    ],
)
def test_bad_parameters_are_refused_with_a_clear_message(tmp_path, kwargs, words):
    with pytest.raises(ValueError, match=words):
        render_demo(tmp_path, **kwargs)
    assert not (tmp_path / "demo.mp4").exists()


def test_contact_sheet_shows_one_row_per_pass_and_one_column_per_view(station, tmp_path):
    out, truth, views, _ = station
    path = contact_sheet(out, tmp_path / "sheet.png", max_passes=2)
    sheet = cv2.imread(str(path))
    assert sheet is not None and sheet.shape[1] > sum(v["crop"][2] for v in views["views"]) * 0.6
    # red outlines of the defects are drawn
    assert np.count_nonzero((sheet[:, :, 2] > 200) & (sheet[:, :, 1] < 80)) > 20
