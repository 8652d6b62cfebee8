"""Nothing is overwritten without asking: `new`, `pack`, `demo` and `template --out` refuse an existing
output unless --overwrite, and --overwrite never replaces a file of another kind."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from project_helpers import textured

from workbench.cli.main import main
from workbench.project import Project


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _trained(path: Path, rng) -> Path:
    with Project.create(path) as p:
        p.add_samples([textured(rng, 8, 8)], [{"view": "v"}])
        p.add_run("m", "v", {}, {"w": np.ones(3)})
        p.save()
    return path


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def test_new_refuses_a_project_and_never_replaces_another_file(tmp_path, rng, capsys):
    station = _trained(tmp_path / "s.awb", rng)
    before = _sha(station)
    assert main(["new", str(station)]) == 1
    assert "already exists" in _one_line_error(capsys) and _sha(station) == before
    notes = tmp_path / "notes.awb"
    notes.write_text("my notes")
    assert main(["new", str(notes), "--overwrite"]) == 1
    assert "notes.awb exists and is not a workbench project; will not replace it" in _one_line_error(capsys)
    assert notes.read_text() == "my notes"
    assert main(["new", str(station), "--overwrite"]) == 0
    with Project.open(station) as p:
        assert p.runs == [] and p.samples() == []
    assert not (tmp_path / "s.awb.d").exists()  # the replaced project's data went with it


def test_pack_refuses_an_existing_output_unless_asked(tmp_path, rng, capsys):
    a = _trained(tmp_path / "a.awb", rng)
    b = _trained(tmp_path / "b.awb", np.random.default_rng(99))
    before = _sha(b)
    assert main(["pack", str(a), "--out", str(b)]) == 1
    assert "b.awb already exists" in _one_line_error(capsys) and _sha(b) == before
    with Project.open(b) as p:
        assert len(p.run_state("run1")["w"]) == 3
    foreign = tmp_path / "photo.png"
    foreign.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    assert main(["pack", str(a), "--out", str(foreign), "--overwrite"]) == 1
    assert "photo.png exists and is not a workbench project" in _one_line_error(capsys)
    assert foreign.read_bytes().startswith(b"\x89PNG")
    assert main(["pack", str(a), "--out", str(b), "--overwrite"]) == 0
    with Project.open(b) as p, Project.open(a) as q:
        assert p.packed and np.array_equal(p.sample_image(1), q.sample_image(1))


def test_template_out_refuses_an_existing_file_and_overwrite_only_replaces_an_image(tmp_path, rng, capsys):
    video = tmp_path / "v.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 25, (64, 48))
    for _ in range(3):
        writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.release()
    project = _trained(tmp_path / "s.awb", rng)
    before = _sha(project)
    args = ["template", str(video), "--frame", "1", "--box", "0,0,16,16", "--out"]
    assert main([*args, str(project)]) == 1
    assert "s.awb already exists; choose another --out or add --overwrite" in _one_line_error(capsys)
    assert main([*args, str(project), "--overwrite"]) == 1
    assert "s.awb exists and is not an image" in _one_line_error(capsys) and _sha(project) == before
    png = tmp_path / "t.png"
    assert main([*args, str(png)]) == 0
    assert main([*args, str(png)]) == 1
    capsys.readouterr()
    assert main([*args, str(png), "--overwrite"]) == 0


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "d"
    assert main(["demo", "--out", str(out), "--passes", "2", "--width", "424", "--height", "240"]) == 0
    return out


def test_demo_refuses_a_trained_station_unless_asked(demo_dir, capsys):
    capsys.readouterr()
    station = demo_dir / "station.awb"
    with Project.open(station) as p:
        p.add_run("m", "front", {}, {"w": np.ones(2)})
        p.save()
    before = _sha(station)
    assert main(["demo", "--out", str(demo_dir), "--passes", "2"]) == 1
    assert "already holds a station project; choose another --out or add --overwrite" in _one_line_error(
        capsys
    )
    assert _sha(station) == before
    assert (
        main(
            [
                "demo",
                "--out",
                str(demo_dir),
                "--passes",
                "2",
                "--width",
                "424",
                "--height",
                "240",
                "--overwrite",
            ]
        )
        == 0
    )
    with Project.open(station) as p:
        assert p.runs == []


def test_demo_overwrite_never_replaces_a_folder_of_other_files(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.docx").write_text("keep me")
    for extra in ([], ["--overwrite"]):
        assert main(["demo", "--out", str(mine), "--passes", "2", *extra]) == 1
        _one_line_error(capsys)
    assert [p.name for p in mine.iterdir()] == ["report.docx"]
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "station.awb").write_text("not a project")
    assert main(["demo", "--out", str(fake), "--passes", "2", "--overwrite"]) == 1
    assert "station.awb exists and is not a workbench project" in _one_line_error(capsys)
    assert (fake / "station.awb").read_text() == "not a project"
