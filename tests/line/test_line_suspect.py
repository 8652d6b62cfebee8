"""Doubtful passes are never silent: on a bracket-scene video where a protective sheet hides one part's middle
view, import-video lists that pass as suspect (text and --json), samples --json flags its samples, and line
mode reports one result per part, in order, that part with "status": "suspect" and the reason."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
from exported_station import train_tiny  # noqa: E402

from workbench.cli.main import main  # noqa: E402
from workbench.io.template_origin import png_with_origin  # noqa: E402
from workbench.synth.scenes import SceneParams, render_scene  # noqa: E402
from workbench.synth.scenes.render import cut_templates  # noqa: E402

COVERED = (3, "middle")


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    root = tmp_path_factory.mktemp("suspect")
    params = SceneParams(
        width=640, height=480, fps=25, parts=4, gap_s=0.3, codec="mjpg", covered=(COVERED,), seed=5
    )
    truth = render_scene(root, params)
    args = []
    for name, (tpl, (frame, x, y)) in cut_templates(root, truth).items():
        path = root / f"{name}.png"
        path.write_bytes(png_with_origin(tpl, frame, x, y, truth["video"]))
        args += ["--template", f"{name}={path}"]
    return root, truth, args


def run_cli(argv, capsys) -> str:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    assert code == 0, out.err[-2000:]
    return out.out


def test_import_lists_the_suspect_pass_and_samples_flag_it(scene, tmp_path, capsys):
    root, truth, templates = scene
    video = root / truth["video"]
    whole = [p for p in truth["parts"] if p["views"] or p.get("covered")]
    hidden = next(i for i, p in enumerate(whole) if p.get("covered"))
    project = tmp_path / "p.awb"
    run_cli(["new", project], capsys)
    text = run_cli(["import-video", project, video, *templates], capsys)
    assert "pass rule calibrated from the video" in text and "why:" in text
    assert f"pass {hidden} (frames " in text and "suspect: view 'middle' not found" in text
    run_cli(["new", tmp_path / "q.awb"], capsys)
    doc = json.loads(run_cli(["import-video", tmp_path / "q.awb", video, *templates, "--json"], capsys))
    assert [r["index"] for r in doc["suspect"]] == [hidden]
    assert doc["suspect"][0]["reasons"] == ["view 'middle' not found"]
    assert doc["rule"]["kind"] == "match-peaks" and doc["rule_text"][0].startswith("pass rule calibrated")
    rows = [json.loads(x) for x in run_cli(["samples", project, "--json"], capsys).splitlines()]
    flagged = {(r["pass"], r["view"]) for r in rows if r["suspect"]}
    assert flagged == {(hidden, "left"), (hidden, "right")}
    assert all(r["pass_reasons"] == ["view 'middle' not found"] for r in rows if r["suspect"])
    only = [json.loads(x) for x in run_cli(["samples", project, "--json", "--suspect"], capsys).splitlines()]
    assert {(r["pass"], r["view"]) for r in only if r["pass_status"] == "suspect"} == flagged


def test_line_mode_reports_one_result_per_part_and_the_suspect_one(scene, tmp_path, capsys):
    from workbench.jobs.export import export_station
    from workbench.line.inspect import run_line
    from workbench.line.sinks import Outputs

    root, truth, templates = scene
    video = root / truth["video"]
    project = tmp_path / "p.awb"
    run_cli(["new", project], capsys)
    run_cli(["import-video", project, video, *templates, "--label", "good"], capsys)
    run_cli(["split", project, "--seed", "0"], capsys)
    train_tiny(project)
    export_station(project, tmp_path / "bundle", strict=False, accept_small_validation=True)
    out = io.StringIO()
    summary = run_line(tmp_path / "bundle", str(video), Outputs(stdout=out, stderr=io.StringIO()), device="cpu",
                       realtime=False)  # fmt: skip
    results = [json.loads(x) for x in out.getvalue().splitlines()]
    whole = [p for p in truth["parts"] if p["views"] or p.get("covered")]
    assert summary.parts == len(results) == len(whole)
    for r, part in zip(results, whole):  # one result per part, in order, at its own frames
        for view, t in part["views"].items():
            assert abs(r["views"][view]["frame"] - t["best_frame"]) <= 1, (r, part)
        if part.get("covered"):
            assert r["status"] == "suspect" and r["reasons"] == ["view 'middle' not found"]
            assert r["views"]["middle"]["verdict"] == "MISSING"
        else:
            assert r["status"] in ("ok", "partial")
    assert summary.suspect == 1
