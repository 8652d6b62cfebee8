"""`workbench sweep --ray`: a real Ray head and two workers on loopback inside a private network namespace;
one worker node is killed mid-cell, the cell is retried, and the runs and metrics equal the local executor's.

Skips when Ray (the `cluster` extra), `unshare` or `ip` is missing, or no network namespace can be made.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from evaluate_station import build_station

from workbench.jobs.sweep import sweep_records
from workbench.project import Project

pytest.importorskip("ray")

HERE = Path(__file__).parent
TINY = {"backbone": "resnet18", "pretrained": False, "layers": ["layer1", "layer2"], "device": "cpu"}
PARAMS = [f"--param={k}={json.dumps(v)}" for k, v in {**TINY, "embed_dim": 32, "projection_dim": 16}.items()]
ARGS = ["--model", "patchcore", "--model", "padim", "--seeds", "0-1", "--threads", "1", "--json", *PARAMS]


def _netns_prefix() -> list[str] | None:
    """``unshare -n`` as root, ``unshare -rn`` (a user namespace) otherwise; None when neither works."""
    if not (shutil.which("unshare") and shutil.which("ip")):
        return None
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        probe = subprocess.run([*prefix, "ip", "link", "set", "lo", "up"], capture_output=True)
        if probe.returncode == 0:
            return prefix
    return None


NETNS = _netns_prefix()
pytestmark = pytest.mark.skipif(
    NETNS is None, reason="no private network namespace (unshare/ip missing or not allowed)"
)


def _runs_by_cell(path: Path) -> dict[tuple[int, str], dict]:
    out = {}
    with Project.open(path) as p:
        (record,) = sweep_records(p).values()
        for cell in record["cells"].values():
            for rid in cell["runs"]:
                run = p.run(rid)
                test = [r for r in p.results(rid) if r.meta.get("split") not in ("val", "train")][0]
                out[(cell["index"], run.view)] = {
                    "model": run.model,
                    "params": run.params,
                    "state": p.run_state(rid),
                    "scores": p.result_scores(test.id),
                    "maps": p.result_maps(test.id),
                    "attempts": cell["attempts"],
                }
    return out


def test_a_ray_sweep_survives_a_lost_worker_and_equals_the_local_executor(tmp_path):
    (tmp_path / "a").mkdir()
    local = build_station(
        tmp_path / "a" / "station.awb", models=(), n_train=6, val=(2, 2), test=(3, 3), synthetic_test=0
    )
    remote = tmp_path / "b"
    shutil.copytree(local.parent, remote)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    mine = subprocess.run(
        [sys.executable, "-m", "workbench", "sweep", str(local), "--workers", "2", *ARGS],
        env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert mine.returncode == 0, mine.stderr[-3000:]

    cluster = subprocess.run(
        [*NETNS, sys.executable, str(HERE / "ray_cluster.py"), str(remote / "station.awb"), *ARGS],
        env=env, capture_output=True, text=True, timeout=2400,
    )  # fmt: skip
    assert cluster.returncode == 0, cluster.stderr[-3000:]
    outcome = json.loads(cluster.stdout.strip().splitlines()[-1])
    assert not outcome["error"] and outcome["killed"], outcome["error"] + outcome["nodes_log"]
    assert outcome["rc"] == 0, outcome["stderr"] + outcome["nodes_log"]
    # Ray's own notes (a task retried) may come before the JSON document on stdout.
    text = outcome["stdout"]
    on_ray = json.loads(text if text.startswith("{") else text[text.index("\n{") + 1 :])
    on_here = json.loads(mine.stdout)
    assert on_ray["done"] == on_here["done"] == 4 and not on_ray["failed"]
    assert on_ray["executor"].startswith("Ray cluster") and "3 nodes, 2 CPUs" in on_ray["executor"]

    # The same metrics, to the last digit (run ids follow the order cells finish in, so they may differ).
    def metrics(out):
        return [{k: v for k, v in row.items() if k != "runs"} for row in out["summary"]]

    assert metrics(on_ray) == metrics(on_here) and len(on_here["summary"]) == 2

    a, b = _runs_by_cell(local), _runs_by_cell(remote / "station.awb")
    assert a.keys() == b.keys() and len(a) == 4
    for key in a:
        assert a[key]["model"] == b[key]["model"] and a[key]["params"] == b[key]["params"]
        assert all(np.array_equal(a[key]["state"][k], b[key]["state"][k]) for k in a[key]["state"])
        np.testing.assert_array_equal(a[key]["scores"], b[key]["scores"])
        for ma, mb in zip(a[key]["maps"], b[key]["maps"]):
            np.testing.assert_array_equal(ma, mb)
    assert max(r["attempts"] for r in b.values()) >= 2  # the cell of the killed worker ran again
