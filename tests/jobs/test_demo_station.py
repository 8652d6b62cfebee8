"""The demo station job: render, import by template matching, label from the truth, split by pass."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.core.progress import Cancelled, CancelToken
from workbench.jobs.demo import STATION_FILE, build_demo_station
from workbench.project import Project


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = build_demo_station(out, passes=6, defect_rate=0.5, seed=11)
    return out, result


def test_station_has_one_sample_per_pass_and_view(station):
    out, result = station
    truth = json.loads((out / "truth.json").read_text())
    with Project.open(result.project_path) as p:
        assert set(p.views) == set(truth["views"])
        samples = p.samples()
        assert len(samples) == len(truth["passes"]) * len(truth["views"])
        assert result.passes_found == len(truth["passes"])
        for view in p.views.values():
            assert view.roi is not None and view.roi.shape == (view.crop.h, view.crop.w)
            assert view.zones is not None and len(view.zone_names) == int(view.zones.max())
            assert view.roi_margin > 0


def test_chosen_frames_and_crops_match_the_truth(station):
    out, result = station
    truth = json.loads((out / "truth.json").read_text())
    with Project.open(result.project_path) as p:
        for s in p.samples():
            tp = next(q for q in truth["passes"] if q["first_frame"] <= s.frame <= q["last_frame"])
            vt = tp["views"][s.view]
            assert abs(vt["best_frame"] - s.frame) <= 1, (s.view, s.frame, vt["best_frame"])
            if vt["best_frame"] == s.frame:
                assert abs(vt["crop_xy"][0] - s.x) <= 3 and abs(vt["crop_xy"][1] - s.y) <= 3
    assert result.frame_within_1 >= 0.95


def test_labels_and_masks_follow_the_truth(station):
    out, result = station
    truth = json.loads((out / "truth.json").read_text())
    defective_views = {(q["first_frame"], d["view"]) for q in truth["passes"] for d in q["defects"]}
    assert defective_views, "the demo with defect rate 0.5 should have defects"
    with Project.open(result.project_path) as p:
        for s in p.samples():
            tp = next(q for q in truth["passes"] if q["first_frame"] <= s.frame <= q["last_frame"])
            expected = (tp["first_frame"], s.view) in defective_views
            assert s.label == ("defective" if expected else "good")
            mask = p.gt_mask(s.id)
            if expected:
                assert mask is not None and mask.shape == (s.height, s.width) and mask.max() == 255
            # Defective parts never train the models.
            if s.label == "defective":
                assert s.split in ("val", "test")


def test_splits_keep_each_pass_together(station):
    _, result = station
    with Project.open(result.project_path) as p:
        split_of_pass: dict[int, set[str]] = {}
        for s in p.samples():
            split_of_pass.setdefault(s.pass_index, set()).add(s.split)
        assert all(len(v) == 1 for v in split_of_pass.values())
        assert {"train", "test"} <= set().union(*split_of_pass.values())


def test_cancel_leaves_no_station(tmp_path):
    token = CancelToken()
    calls = []

    def progress(fraction, message=""):
        calls.append(fraction)
        if fraction is not None and fraction > 0.3:
            token.cancel()

    with pytest.raises(Cancelled):
        build_demo_station(tmp_path, passes=3, seed=1, progress=progress, cancel=token)
    assert not (tmp_path / STATION_FILE).exists()
    assert not (tmp_path / "truth.json").exists()


def test_absurd_parameters_are_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="passes"):
        build_demo_station(tmp_path / "x", passes=0)
    with pytest.raises(ValueError, match="defect"):
        build_demo_station(tmp_path / "y", defect_rate=2.0)
    assert not (tmp_path / "x" / STATION_FILE).exists()


def test_demo_cli_writes_video_templates_truth_and_project(tmp_path):
    from workbench.cli.main import main

    out = tmp_path / "cli"
    assert main(["demo", "--out", str(out), "--passes", "2", "--seed", "5"]) == 0
    for name in ("demo.mp4", "truth.json", STATION_FILE, "templates/front.png"):
        assert (out / name).exists(), name
    with Project.open(out / STATION_FILE) as p:
        assert len(p.samples()) == 6
        img = p.sample_image(p.samples()[0].id)
        assert img.dtype == np.uint8 and img.ndim == 3
