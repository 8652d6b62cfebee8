"""One writer at a time across processes: CLI writers queue on the lock beside the project, a busy project
gives a clear error after a short wait, and a window-like session never saves over a newer state."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from project_helpers import textured

from workbench.jobs.demo import build_demo_station
from workbench.project import Project
from workbench.project.blobs import sidecar_for
from workbench.project.lock import ProjectBusyError, ProjectChangedError

TINY = {
    "backbone": "resnet18",
    "pretrained": False,
    "image_size": [48, 64],
    "embed_dim": 32,
    "coreset_ratio": 0.5,
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lockdemo")
    return Path(build_demo_station(out, passes=5, defect_rate=0.0, seed=1).project_path)


def _copy(station: Path, dest: Path) -> Path:
    shutil.copy(station, dest / station.name)
    shutil.copytree(sidecar_for(station), sidecar_for(dest / station.name))
    return dest / station.name


def _cli(*args: str, wait: float = 120.0) -> subprocess.Popen:
    env = {**os.environ, "WORKBENCH_LOCK_WAIT": str(wait)}
    return subprocess.Popen(
        [sys.executable, "-m", "workbench", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _blob_files(path: Path) -> set[str]:
    return {f.name for f in sidecar_for(path).iterdir() if f.name.endswith(".h5")}


def test_two_cli_writers_at_once_lose_nothing(demo, tmp_path):
    path = _copy(demo, tmp_path)
    with Project.open(path) as p:
        before = {s.id for s in p.samples()}
    synth = _cli("synth", str(path), "--count", "6", "--seed", "2", "--quiet")
    label = _cli("label", str(path), "--pass", "0", "--label", "defective")
    out = {name: proc.communicate(timeout=600) for name, proc in (("synth", synth), ("label", label))}
    assert synth.returncode == 0, out["synth"][1]
    assert label.returncode == 0, out["label"][1]
    added = json.loads(out["synth"][0].strip().splitlines()[-1])["added"]
    with Project.open(path) as p:
        samples = p.samples()
        assert len(samples) == len(before) + added and added > 0  # synth's samples are there
        first_pass = [s for s in samples if s.pass_index == 0 and s.id in before]
        assert first_pass and all(s.label == "defective" for s in first_pass)  # and label's change
        referenced = p._state.referenced_blobs()
    assert {f"{n}.h5" for n in referenced} <= _blob_files(path)


def test_a_second_writer_waits_briefly_then_gets_a_clear_error(demo, tmp_path):
    path = _copy(demo, tmp_path)
    holder = Project.open(path, lock=True)
    try:
        proc = _cli("label", str(path), "--pass", "1", "--label", "defective", wait=0.5)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 1
        assert err.count("\n") == 1, err
        assert f"cannot change {path.name}: another workbench process (pid {os.getpid()}" in err
        assert "waited 0.5 s); try again when it has finished" in err
        with pytest.raises(ProjectBusyError, match="is changing it"):
            Project.open(path, lock=True, wait=0.1)
        other = Project.open(path)  # reading is never blocked
        other.set_meta("x", 1)
        with pytest.raises(ProjectBusyError):
            other.save()  # nor is the holder overwritten
        other.close()
    finally:
        holder.close()
    with Project.open(path) as p:
        assert all(s.label != "defective" for s in p.samples() if s.pass_index == 1)
    proc = _cli("label", str(path), "--pass", "1", "--label", "defective", wait=0.5)
    assert proc.wait(timeout=120) == 0  # once released, the next writer goes through


def test_a_window_session_never_saves_over_a_cli_train(demo, tmp_path):
    path = _copy(demo, tmp_path)
    window = Project.open(path)  # like the GUI: open for hours, no lock held
    window.set_policy("mine", {"threshold": 1.0})
    assert not window.changed_on_disk()
    params = [f"--param={k}={json.dumps(v)}" for k, v in TINY.items()]
    train = _cli("train", str(path), "--model", "patchcore", "--view", "front", "--device", "cpu", *params)
    stdout, stderr = train.communicate(timeout=900)
    assert train.returncode == 0, stderr
    runs = json.loads(stdout.strip().splitlines()[-1])["runs"]
    blobs_after_train = _blob_files(path)
    assert window.changed_on_disk()
    with pytest.raises(ProjectChangedError, match="was saved by another process after this session read it"):
        window.save()
    assert window.dirty and window.policies == {"mine": {"threshold": 1.0}}  # the edit is still there
    window.close()
    assert _blob_files(path) == blobs_after_train  # nothing deleted
    with Project.open(path) as p:
        assert [r.id for r in p.runs] == runs and "mine" not in p.policies
        assert p.run_state(runs[0])  # the new run's weights are readable
        p.set_policy("mine", {"threshold": 1.0})  # reopened, the window's edit saves on top
        p.save()
    with Project.open(path) as p:
        assert [r.id for r in p.runs] == runs and "mine" in p.policies


def test_eval_while_another_writer_holds_the_project_still_reports(demo, tmp_path, capsys, monkeypatch):
    path = _copy(demo, tmp_path)
    params = [f"--param={k}={json.dumps(v)}" for k, v in TINY.items()]
    train = _cli("train", str(path), "--model", "patchcore", "--view", "front", "--device", "cpu", *params)
    assert train.wait(timeout=900) == 0, train.stderr.read()
    with Project.open(path) as p:
        for res in p.results():
            p.remove_result(res.id)  # eval predicts again and would keep the predictions
        p.save()
    monkeypatch.setenv("WORKBENCH_LOCK_WAIT", "0.2")
    holder = Project.open(path, lock=True)
    try:
        from workbench.cli.main import main

        code = main(["eval", str(path), "--json", "--quiet"])
    finally:
        holder.close()
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "warning: the predictions were not kept: cannot save" in err
    assert json.loads(out)["runs"][0]["run"] == "run1"
    with Project.open(path) as p:
        assert p.results() == []  # nothing written while the other writer held the project


def test_a_replaced_file_is_noticed_too(tmp_path, rng):
    path = tmp_path / "s.awb"
    a = Project.create(path)
    a.add_samples([textured(rng, 8, 8)], [{}])
    a.save()
    Project.create(path, overwrite=True).close()  # another project now lives at this path
    assert a.changed_on_disk()
    with pytest.raises(ProjectChangedError):
        a.save()
    a.close()


def test_saves_in_one_session_keep_working_and_the_lock_is_released(tmp_path, rng):
    path = tmp_path / "s.awb"
    with Project.create(path) as p:
        for _i in range(3):
            p.add_samples([textured(rng, 8, 8)], [{}])
            p.save()
            assert not p.changed_on_disk()
    with Project.open(path, lock=True, wait=0) as p:
        p.set_gt_mask(1, np.ones((8, 8), np.uint8))
        p.save()
        p.save_as(tmp_path / "t.awb")  # the session moves to t.awb and its lock with it
        with pytest.raises(ProjectBusyError):
            Project.open(tmp_path / "t.awb", lock=True, wait=0)
        Project.open(path, lock=True, wait=0).close()  # s.awb is free again
    Project.open(tmp_path / "t.awb", lock=True, wait=0).close()
