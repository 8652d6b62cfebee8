"""The `workbench` command: every verb has --help, errors are one line with a non-zero exit code."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from workbench.cli.main import build_parser, main


def _verbs() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sorted(sub.choices)


def test_contract_verbs_exist():
    verbs = set(_verbs())
    assert {"new", "info", "demo", "gui"} <= verbs


@pytest.mark.parametrize("verb", _verbs())
def test_every_verb_has_help(verb, capsys):
    with pytest.raises(SystemExit) as exc:
        main([verb, "--help"])
    assert exc.value.code == 0
    assert "usage: workbench" in capsys.readouterr().out


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_errors_are_one_line_without_traceback(tmp_path):
    not_a_project = tmp_path / "notes.txt"
    not_a_project.write_text("hello")
    result = _run("info", str(not_a_project))
    assert result.returncode != 0
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert "notes.txt" in lines[0] and "Traceback" not in result.stderr


def test_debug_shows_the_traceback(tmp_path):
    result = _run("--debug", "info", str(tmp_path / "missing.awb"))
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_gui_without_display_says_so_and_writes_a_summary(tmp_path):
    assert main(["new", str(tmp_path / "s.awb")]) == 0
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = _run("gui", str(tmp_path / "s.awb"), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("no display found")
    summary = tmp_path / "s_summary.txt"
    assert summary.exists() and "samples" in summary.read_text()


def test_template_cuts_the_box_of_a_video_frame_and_refuses_one_outside(tmp_path, capsys):
    import cv2
    import numpy as np

    from workbench.io.images import read_image
    from workbench.io.video import VideoReader

    video = tmp_path / "v.mp4"
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 25, (96, 64))
    for _ in range(6):
        writer.write(cv2.GaussianBlur(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8), (0, 0), 2))
    writer.release()
    out = tmp_path / "t.png"
    assert main(["template", str(video), "--frame", "3", "--box", "10,20,30,40", "--out", str(out)]) == 0
    with VideoReader(video) as reader:
        want = reader.read(3)[20:60, 10:40]
    assert np.array_equal(read_image(out).image, want)
    args = ["template", str(video), "--frame", "3", "--box", "80,20,30,40", "--out", str(out), "--overwrite"]
    assert main(args) == 1
    assert "box 80,20,30,40 reaches outside frame 3 of v.mp4 (96x64 px)" in capsys.readouterr().err


def test_label_sets_the_samples_of_passes_and_names_a_missing_pass(tmp_path, capsys):
    import numpy as np

    from workbench.project import Project

    path = tmp_path / "s.awb"
    with Project.create(path) as p:
        src = p.add_source("video", "line.mp4")
        images = [np.full((8, 8, 3), 10 * i, np.uint8) for i in range(6)]
        infos = [
            {"source": src, "pass_index": i // 2, "view": "ab"[i % 2], "label": "good"} for i in range(6)
        ]
        p.add_samples(images, infos)
        p.save()
    assert main(["label", str(path), "--pass", "1", "--label", "defective"]) == 0
    assert main(["label", str(path), "--pass", "2", "--view", "b", "--label", "unknown"]) == 0
    with Project.open(path) as p:
        labels = {(s.pass_index, s.view): s.label for s in p.samples()}
    assert labels == {
        (0, "a"): "good", (0, "b"): "good", (1, "a"): "defective", (1, "b"): "defective",
        (2, "a"): "good", (2, "b"): "unknown",
    }  # fmt: skip
    capsys.readouterr()
    assert main(["label", str(path), "--pass", "7", "--label", "good"]) == 1
    assert "no samples of pass 7" in capsys.readouterr().err
