"""`workbench sweep`: cells from models x grid x seeds, runs exactly as `train` makes them, resumable after
SIGKILL with every cell exactly once, few-shot subsets and window views."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from evaluate_station import build_station

from workbench.jobs.staging import pick_normals
from workbench.jobs.sweep import plan, resolve_spec, run_sweep, sweep_records, window_view
from workbench.jobs.sweep_exec import LocalExecutor
from workbench.jobs.sweep_plan import SweepSpec, apply_preset, expand, parse_grid, parse_seeds
from workbench.jobs.train import train_views
from workbench.project import Project

TINY = {"backbone": "resnet18", "pretrained": False, "layers": ["layer1", "layer2"], "device": "cpu"}
PC = {"embed_dim": 32, "projection_dim": 16}
PARAM_ARGS = [f"--param={k}={json.dumps(v)}" for k, v in {**TINY, **PC}.items()]


@pytest.fixture
def station(tmp_path):
    return build_station(
        tmp_path / "station.awb", models=(), n_train=6, val=(2, 2), test=(3, 3), synthetic_test=0
    )


def test_cells_cover_models_grid_and_seeds_and_grid_keys_apply_where_they_exist():
    assert parse_seeds("0-2,7") == [0, 1, 2, 7]
    with pytest.raises(ValueError, match="backwards"):
        parse_seeds("4-0")
    assert parse_grid(['layers=["layer1"],["layer1", "layer2"]', 'backbone="a,b"']) == {
        "layers": [["layer1"], ["layer1", "layer2"]],
        "backbone": ["a,b"],
    }
    assert parse_grid(["coreset_ratio=0.1,0.5", 'layers=["layer1"];["layer1","layer2"]']) == {
        "coreset_ratio": [0.1, 0.5],
        "layers": [["layer1"], ["layer1", "layer2"]],
    }
    defaults = {"patchcore": {"coreset_ratio": 0.1, "seed": 0}, "padim": {"n_features": 100, "seed": 0}}
    spec = SweepSpec(models=["patchcore", "padim"], seeds=[0, 1], grid={"coreset_ratio": [0.1, 0.5]})
    cells = expand(spec, defaults)
    assert [(c.model, c.params, c.seed) for c in cells] == [
        ("patchcore", {"coreset_ratio": 0.1}, 0),
        ("patchcore", {"coreset_ratio": 0.1}, 1),
        ("patchcore", {"coreset_ratio": 0.5}, 0),
        ("patchcore", {"coreset_ratio": 0.5}, 1),
        ("padim", {}, 0),
        ("padim", {}, 1),
    ]
    assert len({c.key for c in cells}) == 6 and cells[2].label == "patchcore seed 0 (coreset_ratio=0.5)"
    with pytest.raises(ValueError, match="no chosen model has a parameter 'n_features'"):
        expand(SweepSpec(models=["patchcore"], seeds=[0], grid={"n_features": [1]}), defaults)
    assert SweepSpec(models=["padim"], seeds=[0]).id == SweepSpec(models=["padim"], seeds=[0]).id
    few = apply_preset("fewshot", [], None)
    assert (
        few["models"] == ["patchcore"]
        and few["n_train"] == [1, 2, 5, 10, 20, 50]
        and few["seeds"] == [0, 1, 2, 3, 4]
    )
    assert apply_preset("seed001", ["padim"], None)["robustness"] is True


def test_a_sweep_cell_is_exactly_the_run_train_makes(station):
    spec = SweepSpec(models=["patchcore"], seeds=[4], params={**TINY, **PC})
    with Project.open(station) as p:
        out = run_sweep(p, spec, LocalExecutor(1, 1))
        assert out["done"] == out["cells"] == 1 and out["summary"][0]["image_auroc"]["n"] == 1
        (rid,) = out["runs"]
        direct = train_views(p, "patchcore", {**TINY, **PC}, None, 4, "cpu")["runs"][0]
        a, b = p.run(rid), p.run(direct)
        assert a.params == b.params and a.view == b.view and a.meta["train_ids"] == b.meta["train_ids"]
        assert a.meta["sweep"]["group"] == "patchcore"
        sa, sb = p.run_state(rid), p.run_state(direct)
        assert all(np.array_equal(sa[k], sb[k]) for k in sb)
        test_a = [r for r in p.results(rid) if r.meta.get("split") != "val"][0]
        test_b = p.results(direct)[0]
        np.testing.assert_array_equal(p.result_scores(test_a.id), p.result_scores(test_b.id))
        # the evaluation's validation predictions were made by the cell, next to the test result
        assert any(r.meta.get("split") == "val" for r in p.results(rid))
    with Project.open(station) as p:  # saved
        assert rid in {r.id for r in p.runs}


def _cells_done(path: Path) -> int:
    try:
        with Project.open(path) as p:
            return sum(len(r["cells"]) for r in sweep_records(p).values())
    except Exception:  # noqa: BLE001 - the file is being replaced at this instant
        return 0


def test_a_sweep_killed_with_sigkill_continues_and_holds_every_cell_exactly_once(station):
    cmd = [
        sys.executable, "-m", "workbench", "sweep", str(station), "--model", "patchcore", "--model", "padim",
        "--seeds", "0-1", "--workers", "1", "--quiet", "--no-eval", *PARAM_ARGS,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 900
    while _cells_done(station) < 1:
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)  # the next cell is running now: it is lost half-done
    proc.wait()
    done_before = _cells_done(station)
    assert 1 <= done_before < 4

    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    assert again.returncode == 0, again.stderr[-2000:]
    summary = json.loads(again.stdout.strip().splitlines()[-1])
    assert summary["done"] == summary["cells"] == 4 and summary["ran"] == 4 - done_before
    with Project.open(station) as p:
        (record,) = sweep_records(p).values()
        assert sorted(c["index"] for c in record["cells"].values()) == [0, 1, 2, 3]
        runs = [r for r in p.runs if "sweep" in r.meta]
        cells = [r.meta["sweep"]["cell"] for r in runs]
        assert sorted(cells) == [0, 1, 2, 3]  # one view: one run per cell, none twice, none lost
        assert sorted(rid for c in record["cells"].values() for rid in c["runs"]) == sorted(
            r.id for r in runs
        )
        assert all(p.results(r.id) for r in runs)


def test_few_shot_cells_take_nested_seeded_subsets_and_skip_sizes_the_view_lacks(station):
    ids = list(range(100, 106))
    assert pick_normals(ids, 2, 3) == sorted(set(pick_normals(ids, 2, 3)) & set(pick_normals(ids, 5, 3)))
    spec = SweepSpec(models=["patchcore"], seeds=[0, 1], n_train=[1, 5, 10], params={**TINY, **PC})
    with Project.open(station) as p:
        spec = resolve_spec(p, spec)
        cells, skipped = plan(p, spec)
        assert sorted({c.n_train for c in cells}) == [1, 5]
        assert len(skipped) == 2 and "only 6 training normals" in next(iter(skipped.values()))
        out = run_sweep(p, spec, LocalExecutor(2, 1), evaluate=False)
        assert not out["failed"]
        runs = [p.run(r) for r in out["runs"]]
        assert sorted(r.meta["n_train"] for r in runs) == [1, 1, 5, 5]
        normals = [s.id for s in p.samples(view="front", split="train", label="good")]
        for r in runs:  # the seeded subset of the project's own normals, by their own ids
            assert r.meta["train_ids"] == pick_normals(normals, r.meta["n_train"], r.params["seed"])


def test_a_window_is_a_derived_view_with_roi_zones_and_samples_cut_alike(station):
    with Project.open(station) as p:
        base = p.views["front"]
        name = window_view(p, "front", 0.5)
        assert window_view(p, "front", 0.5) == name and window_view(p, "front", 1.0) == "front"
        v = p.views[name]
        h, w = v.crop.h, v.crop.w
        dy, dx = (base.crop.h - h) // 2, (base.crop.w - w) // 2
        assert (h, w) == (base.crop.h // 2, base.crop.w // 2) and v.meta["window_of"] == "front"
        np.testing.assert_array_equal(v.roi, base.roi[dy : dy + h, dx : dx + w])
        old, new = p.samples(view="front"), p.samples(view=name)
        assert len(new) == len(old) and [s.split for s in new] == [s.split for s in old]
        np.testing.assert_array_equal(
            p.sample_image(new[0].id), p.sample_image(old[0].id)[dy : dy + h, dx : dx + w]
        )
        bad = [s for s in old if s.has_mask][0]
        twin = [s for s in new if s.meta["window_of_sample"] == bad.id][0]
        np.testing.assert_array_equal(p.gt_mask(twin.id), p.gt_mask(bad.id)[dy : dy + h, dx : dx + w])


def test_cancel_stops_the_sweep_keeps_finished_cells_and_the_same_call_continues(station):
    from workbench.core.progress import Cancelled, CancelToken

    spec = SweepSpec(models=["patchcore"], seeds=[0, 1, 2], params={**TINY, **PC})
    token = CancelToken()
    with Project.open(station) as p:
        with pytest.raises(Cancelled):
            run_sweep(
                p,
                spec,
                LocalExecutor(1, 1),
                cancel=token,
                evaluate=False,
                on_cell=lambda c, ids: token.cancel(),
            )
    with Project.open(station) as p:  # the first cell was saved before the cancel took effect
        (record,) = sweep_records(p).values()
        assert len(record["cells"]) == 1 and len(p.runs) == 1
        out = run_sweep(p, spec, LocalExecutor(1, 1), evaluate=False)
        assert out["ran"] == 2 and out["done"] == 3 and len(p.runs) == 3
