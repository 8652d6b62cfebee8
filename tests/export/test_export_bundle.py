"""Bundles: every view exported with the dynamo exporter, manifest with checksums, parity against torch."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from exported_station import exported_station  # noqa: E402

from workbench.jobs.export import export_station, load_model  # noqa: E402
from workbench.line.bundle import Bundle, BundleError, sha256  # noqa: E402
from workbench.project import Project  # noqa: E402


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    return exported_station(tmp_path_factory.getbasetemp())


def test_manifest_lists_every_view_file_and_checksum(station):
    manifest = json.loads((station["bundle"] / "manifest.json").read_text())
    with Project.open(station["project"]) as p:
        views = p.views
    assert manifest["format"] == "anomaly-workbench-bundle"
    assert [v["name"] for v in manifest["views"]] == list(views)
    for v in manifest["views"]:
        assert v["exporter"] == "dynamo" and v["fallback_reason"] == ""
        assert v["model"] == "patchcore" and v["params"]["backbone"] == "resnet18"
        assert v["crop"] == {"x": views[v["name"]].crop.x, "y": views[v["name"]].crop.y,
                             "w": views[v["name"]].crop.w, "h": views[v["name"]].crop.h}  # fmt: skip
        assert v["input"]["dtype"] == "uint8" and v["input"]["shape"] == [1, 64, 80, 3]
        for key in ("graph", "template", "roi", "zones"):
            assert v[key] in manifest["files"]
    files = sorted(
        p.relative_to(station["bundle"]).as_posix() for p in station["bundle"].rglob("*") if p.is_file()
    )
    assert sorted(manifest["files"]) == [f for f in files if f not in ("manifest.json", "manifest.sha256")]
    for rel, digest in manifest["files"].items():
        assert sha256(station["bundle"] / rel) == digest
    # the pass rule calibrated when the station's video was imported travels with the bundle
    rule = manifest["pass_rule"]
    assert manifest["software"]["workbench"] and rule["kind"] == "match-peaks"
    assert [v["name"] for v in rule["views"]] == list(views)
    for v in manifest["views"]:  # the exported station has no policy: each run's fitted at export
        assert v["policy"]["per_view"].keys() == {v["name"]}
        assert v["policy"]["params"]["run"] == v["run"]["id"] and "fitted at export" in v["policy_note"]


def test_parity_report_shows_maps_and_verdicts_agree_on_the_test_split(station):
    report = json.loads((station["bundle"] / "parity.json").read_text())
    assert report["passed"] and report["split"] == "test"
    for entry in report["views"].values():
        assert entry["samples"] >= 1
        assert entry["relative_diff"] < 1e-3
        assert entry["verdicts_identical"] == entry["samples"] and entry["verdict_mismatches"] == []
        assert entry["providers"] == ["CPUExecutionProvider"]


def test_runtime_gives_the_maps_of_torch_predict_on_every_sample(station):
    bundle = Bundle.load(station["bundle"])
    runtimes = bundle.open_runtimes(device="cpu")
    with Project.open(station["project"]) as p:
        for run in p.runs:
            model = load_model(p, run)
            samples = p.samples(view=run.view, split="test") + p.samples(view=run.view, split="val")
            images = [p.sample_image(s.id) for s in samples]
            scores, maps = model.predict(images)
            for img, s, m in zip(images, scores, maps):
                score, amap = runtimes[run.view].infer(img)
                assert amap.shape == m.shape
                assert np.abs(amap - m).max() < 1e-3 * (maps.max() - maps.min())
                assert abs(score - s) < 1e-4 * max(1.0, abs(s))


def test_a_changed_file_is_refused_with_its_name(station, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(station["bundle"], copy)
    target = next((copy / "templates").iterdir())
    data = bytearray(target.read_bytes())
    data[-20] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=f"templates/{target.name} was altered"):
        Bundle.load(copy)
    (copy / "manifest.json").unlink()
    with pytest.raises(BundleError, match="manifest.json is missing"):
        Bundle.load(copy)


def test_export_refuses_a_folder_that_is_not_a_bundle_and_leaves_it_alone(station, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(BundleError, match="not a bundle folder"):
        export_station(station["project"], out, accept_small_validation=True)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".mine")]


def test_run_ids_pick_the_exported_runs_and_unknown_ids_are_refused(station, tmp_path):
    with Project.open(station["project"]) as p:
        first = p.runs[0]
    with pytest.raises(ValueError, match="run 'run99' is not in project"):
        export_station(station["project"], tmp_path / "b", run_ids=["run99"])
    assert not (tmp_path / "b").exists()
    manifest = json.loads((station["bundle"] / "manifest.json").read_text())
    assert {v["run"]["id"] for v in manifest["views"]} >= {first.id}
