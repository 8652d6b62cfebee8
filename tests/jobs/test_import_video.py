"""Import-video job and CLI: best frame per pass and view, crops, warnings, nothing half-written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.cli.main import main
from workbench.core.image import bgr_to_rgb
from workbench.core.progress import Cancelled, CancelToken
from workbench.io.images import write_image
from workbench.jobs.import_video import import_video
from workbench.jobs.splits import split_samples
from workbench.project import Project

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "io"))
from synthetic_video import make_video  # noqa: E402


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    return {
        seed: (root / f"v{seed}.avi", make_video(root / f"v{seed}.avi", passes=4, seed=seed))
        for seed in (1, 2, 3)
    }


def templates_of(truth) -> dict[str, np.ndarray]:
    return {name: bgr_to_rgb(t) for name, t in truth["templates"].items()}


def test_best_frame_and_crop_follow_the_truth_on_several_seeds(videos, tmp_path):
    hits = total = 0
    for seed, (path, truth) in videos.items():
        p = Project.create(tmp_path / f"s{seed}.awb")
        res = import_video(p, path, templates_of(truth), window=(80, 70))
        assert len(res.passes) == len(truth["passes"]) and not res.unmatched and not res.suspects
        for (first, last), (a, b) in zip(res.passes, truth["passes"]):
            # the frames the part's views are in sight, extrapolated from their crossings of home
            assert a - 2 <= first < last <= b + 2 and last - first >= (b - a) * 3 // 4
        samples = p.samples()
        assert len(samples) == 4 * 3
        for s in samples:
            total += 1
            best = truth["best"][s.pass_index]
            px, py = truth["pos"][s.frame]
            vx, vy, vw, vh = truth["views"][s.view]
            ex, ey = px + vx - (80 - vw) // 2, py + vy - (70 - vh) // 2
            hits += abs(s.frame - best) <= 1 and abs(s.x - ex) <= 3 and abs(s.y - ey) <= 3
            assert (s.width, s.height) == (80, 70) and s.match_score > 0.9
        assert len(res.presence) == truth["frames"]
    assert hits / total >= 0.95


def test_unmatched_views_are_listed_and_warned(videos, tmp_path, caplog):
    path, truth = videos[1]
    alien = np.random.default_rng(9).integers(0, 255, (40, 48, 3)).astype(np.uint8)
    p = Project.create(tmp_path / "p.awb")
    res = import_video(p, path, {"front": templates_of(truth)["front"], "alien": alien}, match_threshold=0.8)
    assert [(u[0], u[1]) for u in res.unmatched] == [(k, "alien") for k in range(4)]
    assert any("pass 2" in w and "'alien' not found" in w for w in res.warnings)
    assert "'alien' not found" in caplog.text
    assert {s.view for s in p.samples()} == {"front"}


def test_top_k_keeps_ranked_frames_and_split_keeps_extras_out_of_evaluation(videos, tmp_path):
    path, truth = videos[2]
    p = Project.create(tmp_path / "p.awb")
    import_video(p, path, {"center": templates_of(truth)["center"]}, top_k=3)
    samples = p.samples()
    assert sorted(s.meta["rank"] for s in samples) == sorted([0, 1, 2] * 4)
    for k in range(4):
        ranked = sorted((s for s in samples if s.pass_index == k), key=lambda s: s.meta["rank"])
        # the best-aligned frame first, then the next nearest to it
        off = [abs(s.frame - truth["best"][k]) for s in ranked]
        assert off[0] <= 1 and off == sorted(off) and max(off) <= 3
    p.update_samples([s.id for s in samples], label="good")
    from workbench.core.splits import SplitRule

    split_samples(p, SplitRule(0.5, 0.25, 0.25, seed=0))
    for s in p.samples():
        if s.meta["rank"] > 0:
            assert s.split in ("train", "unassigned")
    per_pass = {}
    for s in p.samples():
        if s.split != "unassigned":
            per_pass.setdefault(s.pass_index, set()).add(s.split)
    assert all(len(v) == 1 for v in per_pass.values())


def test_template_larger_than_frame_leaves_the_project_unchanged(videos, tmp_path):
    path, _ = videos[1]
    p = Project.create(tmp_path / "p.awb")
    big = np.random.default_rng(0).integers(0, 255, (300, 400, 3)).astype(np.uint8)
    with pytest.raises(ValueError, match=r"view 'huge' is 400x300 px, larger than the frames of 'v1.avi'"):
        import_video(p, path, {"huge": big})
    assert p.sources == [] and p.samples() == [] and p.views == {}


def test_cancel_leaves_the_project_unchanged(videos, tmp_path):
    path, truth = videos[1]
    p = Project.create(tmp_path / "p.awb")
    token = CancelToken()

    def progress(fraction, message):
        if fraction and fraction > 0.3:
            token.cancel()

    with pytest.raises(Cancelled):
        import_video(p, path, templates_of(truth), progress=progress, cancel=token)
    assert p.sources == [] and p.samples() == [] and p.views == {}


def test_unreadable_video_is_an_error_naming_it(tmp_path):
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 5000)
    p = Project.create(tmp_path / "p.awb")
    with pytest.raises(ValueError, match="broken.mp4"):
        import_video(
            p, tmp_path / "broken.mp4", {"v": np.random.default_rng(0).integers(0, 255, (8, 8), np.uint8)}
        )
    assert p.sources == []


def test_cli_import_video_then_samples_json(videos, tmp_path, capsys):
    path, truth = videos[3]
    proj = tmp_path / "station.awb"
    assert main(["new", str(proj)]) == 0
    args = [
        "import-video",
        str(proj),
        str(path),
        "--match-threshold",
        "0.7",
        "--window",
        "64x56",
        "--every",
        "1",
    ]
    for name, t in templates_of(truth).items():
        write_image(tmp_path / f"{name}.png", t)
        args += ["--template", f"{name}={tmp_path / f'{name}.png'}"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(["samples", str(proj), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 12
    for key in ("id", "source", "pass", "view", "frame", "x", "y", "split", "label"):
        assert key in rows[0]
    assert {(r["pass"], r["view"]) for r in rows} == {(k, v) for k in range(4) for v in truth["views"]}
    assert all(abs(r["frame"] - truth["best"][r["pass"]]) <= 1 for r in rows)
    with pytest.raises(SystemExit):
        main(["import-video", str(proj), str(path), "--template", "bad"])
    assert "expected NAME=PNG" in capsys.readouterr().err


def test_cli_time_range_restricts_the_passes(videos, tmp_path, capsys):
    path, truth = videos[1]
    proj = tmp_path / "station.awb"
    Project.create(proj).save()
    # the template is cut with `workbench template` in pass 0, outside the time range: the PNG keeps where
    # it was cut, so the view's home is known without seeing that frame again
    px, py = truth["pos"][truth["best"][0]]
    vx, vy, vw, vh = truth["views"]["front"]
    box = f"{px + vx},{py + vy},{vw},{vh}"
    tpl = tmp_path / "front.png"
    assert (
        main(["template", str(path), "--frame", str(truth["best"][0]), "--box", box, "--out", str(tpl)]) == 0
    )
    first, last = truth["passes"][1]
    start, end = (first - 2) / 25.0, (last + 3) / 25.0
    args = ["import-video", str(proj), str(path), "--template", f"front={tpl}", "--start", str(start)]
    assert main([*args, "--end", str(end), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out.splitlines()[-1])
    (view,) = doc["rule"]["views"]
    assert view["home_from"] == "origin" and view["home"] == [px + vx, py + vy]
    with Project.open(proj) as p:
        assert [(s.pass_index, s.frame) for s in p.samples()] == [(0, truth["best"][1])]
        assert p.views["front"].template_origin == (truth["best"][0], px + vx, py + vy)


@pytest.mark.parametrize("reference", ["first", "median", 0])
def test_pass_preview_finds_the_same_passes_with_any_reference(tmp_path, reference):
    from workbench.io.extract import find_passes
    from workbench.io.passes import PassRule

    path = tmp_path / "sparse.avi"  # mostly empty conveyor, as the median reference assumes
    truth = make_video(path, passes=2, seed=4, gap=30)
    preview = find_passes(path, PassRule(reference=reference))
    frames, presence = preview.frames, preview.presence
    assert preview.passes == truth["passes"] and len(frames) == len(presence) == truth["frames"]
    assert presence[truth["best"][0]] > 12 > presence[0]


def _demo_views(out: Path):
    import cv2

    from workbench.io.images import read_image, read_mask
    from workbench.project.types import CropWindow, ViewInfo

    doc = json.loads((out / "views.json").read_text())
    views = []
    for v in doc["views"]:
        tpl = read_image(out / v["template"]).image
        zones = cv2.imread(str(out / v["zones"]), cv2.IMREAD_GRAYSCALE)
        views.append(
            ViewInfo(
                v["name"],
                tpl,
                CropWindow(*v["crop"]),
                0.6,
                roi=read_mask(out / v["roi_mask"]),
                roi_margin=4,
                zones=zones,
                zone_names=v["zone_names"],
            )
        )
    return views


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_demo_station_best_frames_and_crops_match_the_truth(tmp_path, seed):
    demo = pytest.importorskip("workbench.synth.demo")
    truth = demo.render_demo(tmp_path / "demo", passes=4, defect_rate=0.3, seed=seed, width=424, height=240)
    p = Project.create(tmp_path / "p.awb")
    for v in _demo_views(tmp_path / "demo"):
        p.set_view(v)
    res = import_video(p, tmp_path / "demo" / "demo.mp4")
    assert len(res.passes) == len(truth["passes"]) and not res.unmatched
    for (first, last), t in zip(res.passes, truth["passes"]):
        assert t["first_frame"] <= first <= last <= t["last_frame"]
    ok = total = 0
    for s in p.samples():
        t = truth["passes"][s.pass_index]
        tv = t["views"][s.view]
        df = s.frame - tv["best_frame"]
        # at a neighbouring frame the part has moved by the pass's speed (right to left)
        ex, ey = tv["crop_xy"][0] - round(t["speed_px_per_frame"] * df), tv["crop_xy"][1]
        total += 1
        ok += abs(df) <= 1 and abs(s.x - ex) <= 3 and abs(s.y - ey) <= 3
        assert (s.height, s.width) == p.views[s.view].roi.shape
    assert total == 3 * len(truth["passes"]) and ok / total >= 0.95


def test_view_cut_from_a_frame_rectangle_matches_back_at_its_origin(videos, tmp_path):
    from workbench.io.video import VideoReader
    from workbench.jobs.import_video import view_from_rectangle

    path, truth = videos[3]
    best = truth["best"][0]
    px, py = truth["pos"][best]
    with VideoReader(path) as r:
        frame = r.read(best)
    view = view_from_rectangle("front", frame, (px + 20, py + 40, 48, 40), best, margin=6)
    assert view.template_origin == (best, px + 20, py + 40) and (view.crop.w, view.crop.h) == (60, 52)
    p = Project.create(tmp_path / "p.awb")
    p.set_view(view)
    import_video(p, path)
    first = next(s for s in p.samples() if s.pass_index == 0)
    assert abs(first.frame - best) <= 1 and (first.x, first.y) == (px + 14, py + 34)
    with pytest.raises(ValueError, match="not inside"):
        view_from_rectangle("x", frame, (300, 0, 50, 50))
