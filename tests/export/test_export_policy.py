"""A bundle's thresholds belong to the runs it exports: each view gets the policy made for its own run, a view
that no project policy fits gets a threshold fitted on its run's validation normals (said in the manifest
and on the console), and a named policy made for another run is refused."""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from exported_station import exported_station, train_tiny  # noqa: E402

from workbench.cli.main import main  # noqa: E402
from workbench.jobs.evaluate_policy import fit_run_policy  # noqa: E402
from workbench.jobs.export import DEFAULT_MAX_FPR, choose_policies, choose_runs, load_model  # noqa: E402
from workbench.line.bundle import Bundle  # noqa: E402
from workbench.metrics import ThresholdPolicy  # noqa: E402
from workbench.metrics.curves import threshold_at_fpr  # noqa: E402
from workbench.project import Project  # noqa: E402


def _copy_station(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    shutil.copy2(src, dst / src.name)
    shutil.copytree(src.parent / f"{src.name}.d", dst / f"{src.name}.d")
    return dst / src.name


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    """A copy of the exported station with one CLI policy, made for the front view's run only."""
    shared = exported_station(tmp_path_factory.getbasetemp())
    path = _copy_station(shared["project"], tmp_path_factory.mktemp("policy") / "station")
    with Project.open(path) as p:
        runs = {r.view: r.id for r in p.runs}
        front = fit_run_policy(p, runs["front"], "far", 0.01)
        p.set_policy("front-far", front.to_dict())
        p.save()
    return {"project": path, "runs": runs, "front": front, "shared_bundle": shared["bundle"]}


def _own_threshold(project_path: Path, view: str) -> float:
    """The threshold at 1 % false alarms on the view's good validation samples, scored by the view's run."""
    with Project.open(project_path) as p:
        run = choose_runs(p)[view]
        images = [p.sample_image(s.id) for s in p.samples(view=view, split="val", label="good")]
        scores, _ = load_model(p, run).predict(images)
    return threshold_at_fpr(scores, DEFAULT_MAX_FPR)


def test_each_view_gets_the_thresholds_of_its_own_run(station, tmp_path, capsys, caplog):
    out = tmp_path / "bundle"
    with caplog.at_level(logging.WARNING, logger="workbench.jobs.export"):
        assert main(["export", str(station["project"]), "--out", str(out), "--accept-small-validation"]) == 0
    console = capsys.readouterr()
    manifest = json.loads((out / "manifest.json").read_text())
    bundle = Bundle.load(out)
    runs = station["runs"]
    assert {v["name"]: v["run"]["id"] for v in manifest["views"]} == runs
    front = bundle.view("front").policy
    assert front.threshold_for("front") == station["front"].threshold_for("front")
    assert front.params["run"] == runs["front"]
    for view in ("center", "back"):
        entry = next(v for v in manifest["views"] if v["name"] == view)
        policy = bundle.view(view).policy
        # Not front's threshold carried over: the one of this view's run on its own validation normals.
        assert policy.threshold_for(view) == pytest.approx(_own_threshold(station["project"], view), rel=1e-6)
        assert policy.threshold_for(view) != front.threshold_for("front")
        assert policy.params["run"] == runs[view] and policy.params["fitted_at"] == "export"
        assert "fitted at export" in entry["policy_note"] and runs[view] in entry["policy_note"]
        assert f"{view}: fitted at export" in console.out
        assert f"view {view}: no policy of the project fits {runs[view]}" in caplog.text
    assert "front: policy 'front-far' of the project" in console.out
    parity = json.loads((out / "parity.json").read_text())
    assert parity["passed"]
    assert {k: e["policy_level"] for k, e in parity["views"].items()} == dict.fromkeys(runs, "image")


def test_a_named_policy_made_for_another_run_is_refused(station, tmp_path, capsys):
    out = tmp_path / "bundle"
    code = main(["export", str(station["project"]), "--out", str(out), "--policy", "front-far"])
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bar
    assert code == 1 and err.startswith("workbench export: error: ")
    assert f"policy 'front-far' was made for {station['runs']['front']} (view 'front')" in err
    assert f"none fits {station['runs']['center']}, the run exported for view 'center'" in err
    assert not out.exists()


def _choose(path: Path, names=None, run_ids=None) -> dict:
    with Project.open(path) as p:
        runs = choose_runs(p, run_ids)
        models = {v: load_model(p, r) for v, r in runs.items()}
        return choose_policies(p, runs, models, names)


def test_policies_are_matched_to_runs_when_a_view_has_a_newer_run(station, tmp_path):
    path = _copy_station(station["project"], tmp_path / "station")
    runs = station["runs"]
    per_view = {"front": 0.25, "center": 0.5, "back": 0.75}
    lines = ThresholdPolicy(threshold=0.75, per_view=per_view, params={"runs": runs, "set_in": "gui"})
    with Project.open(path) as p:
        p.set_policy("lines", lines.to_dict())
        p.save()
    with pytest.raises(ValueError, match=r"view 'front' \(run1\): several policies fit \(front-far, lines\)"):
        _choose(path)
    chosen = _choose(path, ["lines"])
    for view, value in per_view.items():
        policy, note = chosen[view]
        assert policy.per_view == {view: value} and policy.threshold == value
        assert note == "policy 'lines' of the project"

    (newer,) = train_tiny(path, views=["front"])
    with pytest.raises(ValueError, match=f"none fits {newer}, the run exported for view 'front'"):
        _choose(path, ["lines"])
    chosen = _choose(path)  # front's newest run has no policy of its own: one is fitted for it
    policy, note = chosen["front"]
    assert policy.params["run"] == newer and note.startswith("fitted at export") and newer in note
    assert policy.threshold == pytest.approx(_own_threshold(path, "front"), rel=1e-6)
    assert [chosen[v][0].threshold for v in ("center", "back")] == [0.5, 0.75]
    chosen = _choose(path, ["lines"], run_ids=[runs["front"]])  # the run it was made for
    assert chosen["front"][0].threshold == 0.25
    with Project.open(path) as p:
        p.set_policy("front-new", fit_run_policy(p, newer, "far", 0.01).to_dict())
        p.save()
    with pytest.raises(
        ValueError, match=f"policy 'front-new' was made for {newer} .view 'front'., which is not"
    ):
        _choose(path, ["lines", "front-new"], run_ids=[runs["front"]])


def test_a_version_1_bundle_with_one_policy_still_loads(station, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(station["shared_bundle"], copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["format_version"] = 1
    manifest["policy"] = manifest["views"][0]["policy"]
    for v in manifest["views"]:
        del v["policy"], v["policy_note"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    (copy / "manifest.sha256").unlink()  # version 1 bundles had no manifest checksum
    bundle = Bundle.load(copy)
    first = ThresholdPolicy.from_dict(manifest["policy"])
    assert all(v.policy == first for v in bundle.views)
