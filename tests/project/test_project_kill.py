"""A save killed at any moment leaves a project that opens at the old or the new state."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.project import Project

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import kill_child  # noqa: E402

KILLS = 30


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_during_saves_leaves_the_old_or_the_new_state(tmp_path):
    path = tmp_path / "station.awb"
    kill_child.make_state_a(str(path))
    chance = random.Random(12345)
    seen = {"A": 0, "B": 0}
    saves = 0
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for _ in range(KILLS):
        child = subprocess.Popen(
            [sys.executable, str(HERE / "kill_child.py"), str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            first = child.stdout.readline()
            assert first.strip() == "ready", first + child.stderr.read()
            # a random moment within the next few saves: inside blob writes, main-file writes, renames, GC
            child_wait = chance.uniform(0.0, 0.12)
            try:
                child.wait(timeout=child_wait)
            except subprocess.TimeoutExpired:
                pass
            assert child.poll() is None, child.stderr.read()
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        saves += child.stdout.read().count("saved")
        child.stdout.close()
        child.stderr.close()
        with Project.open(path) as p:
            seen[kill_child.which_state(p)] += 1
    assert saves > 0, "the child never finished a save: the kills proved nothing"
    sidecar = tmp_path / "station.awb.d"
    # whatever the kills left behind, one more save leaves exactly the blobs the project refers to
    with Project.open(path) as p:
        p.set_meta("checked", True)
        p.save()
        expected = 1 if p.meta["state"] == "A" else 4
    assert len([f for f in sidecar.iterdir() if f.name.endswith(".h5")]) == expected
    leftovers = [f.name for f in [*tmp_path.iterdir(), *sidecar.iterdir()] if ".tmp-" in f.name]
    assert leftovers == []  # temporary files of killed writers are cleaned up
    print(f"kill test: {seen} final states, {saves} completed saves")
