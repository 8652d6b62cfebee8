"""End to end from the CLI on real photographs: cookies (normal and cracked, ../shared/data/cookies) on trays
carried over a roller conveyor in an MP4 made here; the template is cut from the video's own frame, and
new -> template -> import-video -> label -> split -> train -> eval -> export -> run find every part, score
the cracked cookies above the good ones and reject most of them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from cookie_scene import DATA, photos, render  # noqa: E402

from workbench.cli.main import main  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


def run_cli(args: list, capsys) -> str:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    assert code == 0, captured.err[-3000:]
    return captured.out


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    if not DATA.is_dir():
        pytest.skip(f"the shared cookie photos are not available ({DATA})")
    folder = tmp_path_factory.mktemp("cookies")
    path = folder / "cookies.mp4"
    truth = render(path, photos(good=24, cracked=8, every=3), seed=0)
    return path, truth


def test_cookie_video_from_the_cli_to_line_verdicts(video, tmp_path, capsys):
    path, truth = video
    project, tray = tmp_path / "cookies.awb", tmp_path / "tray.png"
    run_cli(["new", project], capsys)
    first = truth[0]  # the first tray where it passes the middle of the picture
    x, y, w, h = first["box"]
    run_cli(
        ["template", path, "--frame", first["centred"], "--box", f"{x},{y},{w},{h}", "--out", tray], capsys
    )
    # Every tray carries another cookie, so the match is weaker than on the template's own frame.
    out = run_cli(
        [
            "import-video", project, path, "--template", f"tray={tray}", "--match-threshold", "0.4",
            "--presence-high", "6", "--presence-low", "3", "--label", "good",
        ],
        capsys,
    )  # fmt: skip
    assert f"{len(truth)} passes, {len(truth)} samples" in out
    cracked = [i for i, t in enumerate(truth) if t["cracked"]]
    run_cli(["label", project, *(a for i in cracked for a in ("--pass", i)), "--label", "defective"], capsys)
    run_cli(["split", project, "--seed", "0"], capsys)
    run_cli(
        [
            "train",
            project,
            "--model",
            "patchcore",
            "--param",
            "backbone=efficientnet_lite0",
            "--device",
            "cpu",
        ],
        capsys,
    )
    evaluation = json.loads(run_cli(["eval", project, "--json", "--quiet"], capsys))
    (record,) = evaluation["runs"]
    assert record["counts"]["test"]["defective"] >= 2 and record["metrics"]["all"]["image_auroc"] >= 0.9

    bundle = tmp_path / "bundle"
    out = run_cli(["export", project, "--out", bundle, "--accept-small-validation"], capsys)
    assert "parity ok" in out
    lines = run_cli(["run", bundle, "--source", path, "--device", "cpu"], capsys).splitlines()
    results = [json.loads(x) for x in lines if x.startswith("{")]
    assert len(results) == len(truth)
    for r, t in zip(results, truth):  # each part found in its own pass
        assert t["first"] <= r["frames"][0] <= r["frames"][1] <= t["last"]
    scores = np.array([r["views"]["tray"]["score"] for r in results])
    ng = np.array([r["verdict"] == "NG" for r in results])
    bad = np.array([t["cracked"] for t in truth])
    report = [(t["photo"], r["verdict"], round(float(s), 2)) for t, r, s in zip(truth, results, scores)]
    assert np.median(scores[bad]) > np.percentile(scores[~bad], 90), report
    assert ng[bad].mean() >= 0.75, report  # most cracked cookies are rejected
    assert ng[~bad].mean() <= 0.2, report  # and few good ones
