"""Threshold policies: fitted on validation only, stored apart from runs, applied without running a model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.cli.main import main
from workbench.jobs import evaluate_data
from workbench.jobs.evaluate import evaluate
from workbench.jobs.evaluate_data import EvaluationError, ensure_split
from workbench.jobs.evaluate_policy import fit_run_policy
from workbench.metrics import ThresholdPolicy, threshold_at_fpr
from workbench.project import Project

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate_station import station_copy  # noqa: E402


def test_far_policy_comes_from_validation_normals_and_counts_test_verdicts(
    tmp_path_factory, tmp_path, monkeypatch
):
    path = station_copy(tmp_path_factory, tmp_path)
    with Project.open(path) as p:
        val = ensure_split(p, "run1", "val")
        policy = fit_run_policy(p, "run1", "far", target=0.34)
        assert policy.threshold == threshold_at_fpr(val.scores[~val.labels], 0.34)
        assert policy.params["run"] == "run1" and policy.params["fitted_on"] == "val"
        p.set_policy("strict", policy.to_dict())
        p.save()

    def no_model(*args, **kwargs):
        raise AssertionError("applying a policy must not load or run a model")

    monkeypatch.setattr(evaluate_data, "load_model", no_model)
    with Project.open(path) as p:
        assert ThresholdPolicy.from_dict(p.policies["strict"]) == policy
        out = evaluate(p, ["run1", "run2"], policy="strict", keep_data=True)
    r1, r2 = out["runs"]
    test = r1["_data"]["test"]
    flagged = test.scores >= policy.threshold
    assert r1["policy"]["tp"] == int((flagged & test.labels).sum())
    assert r1["policy"]["fp"] == int((flagged & ~test.labels).sum())
    assert r1["policy"]["tn"] + r1["policy"]["fn"] == int((~flagged).sum())
    assert r1["policy"]["fpr"] == pytest.approx(flagged[~test.labels].mean())
    assert "fitted on run1" in r2["policy"]["na"].reason


def test_iou_policy_is_pixel_level_and_applies_to_maps(tmp_path_factory, tmp_path):
    path = station_copy(tmp_path_factory, tmp_path)
    with Project.open(path) as p:
        policy = fit_run_policy(p, "run4", "iou", min_area=3)
        assert policy.level == "pixel" and policy.min_area == 3
        assert set(policy.per_zone.get("front", {})) <= {"left", "right"}
        p.set_policy("px", policy.to_dict())
        rec = evaluate(p, ["run4"], policy="px")["runs"][0]["policy"]
    assert rec["level"] == "pixel"
    assert rec["tp"] + rec["fp"] + rec["tn"] + rec["fn"] == 10


def test_policy_without_validation_split_is_refused(tmp_path_factory, tmp_path):
    path = station_copy(tmp_path_factory, tmp_path)
    with Project.open(path) as p:
        p.update_samples([s.id for s in p.samples(split="val")], split="unassigned")
        with pytest.raises(EvaluationError, match="never on the test split"):
            fit_run_policy(p, "run1", "f1")
        with pytest.raises(EvaluationError, match="takes no target"):
            fit_run_policy(p, "run1", "f1", target=0.5)


def test_policy_and_eval_commands(tmp_path_factory, tmp_path, capsys):
    path = str(station_copy(tmp_path_factory, tmp_path))
    assert main(["policy", path, "--run", "run2", "--source", "precision", "--target", "0.9"]) == 0
    assert "run2-precision0.9" in capsys.readouterr().out
    assert main(["policy", path, "--json"]) == 0
    stored = json.loads(capsys.readouterr().out)
    assert stored["run2-precision0.9"]["params"]["min_precision"] == 0.9
    assert main(["eval", path, "--run", "run2", "--policy", "run2-precision0.9", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    run = out["runs"][0]
    assert run["run"] == "run2" and 0.0 <= run["metrics"]["all"]["image_auroc"] <= 1.0
    assert {"tp", "fp", "tn", "fn", "precision", "recall", "fpr", "fnr"} <= set(run["policy"])
    assert {"train_seconds", "inference_ms_per_image", "peak_memory_mb"} <= set(run["timings"])
    assert len(run["rates_at_tnr"]) == 3 and len(run["recall_at_precision"]) == 3
    assert main(["eval", path, "--policy", "nope"]) == 1
    assert "no threshold policy 'nope'" in capsys.readouterr().err
    assert main(["eval", path, "--run", "run1", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("run\tmodel") and lines[1].startswith("run1\tpadim\tfront\t0")
    assert np.isfinite(float(lines[1].split("\t")[4]))


def test_size_class_policy_is_fitted_on_validation_stored_and_evaluated(tmp_path_factory, tmp_path, capsys):
    path = str(station_copy(tmp_path_factory, tmp_path))
    assert main(["policy", path, "--run", "run4", "--source", "f1", "--kind", "size", "--name", "sz"]) == 0
    assert "small" in capsys.readouterr().out
    with Project.open(path) as p:
        stored = p.policies["sz"]
        policy = ThresholdPolicy.from_dict(stored)
        assert (
            policy.kind == "size"
            and policy.level == "pixel"
            and set(policy.per_size["front"]) == {"small", "medium", "large"}
        )
        out = evaluate(p, ["run4"], policy="sz", keep_data=True)
    rec, test = out["runs"][0]["policy"], out["runs"][0]["_data"]["test"]
    assert rec["kind"] == "size" and rec["size_thresholds"] == policy.per_size["front"]
    from workbench.metrics import apply_policy

    verdicts = apply_policy(policy, test.scores, views=["front"] * len(test.samples), maps=test.maps,
                            roi={"front": test.roi})  # fmt: skip
    assert rec["tp"] == int((verdicts & test.labels).sum()) and rec["fp"] == int(
        (verdicts & ~test.labels).sum()
    )
    sizes = rec["by_size"]["classes"]
    assert sum(v["n"] for v in sizes.values()) == int(test.has_gt.sum())
    assert rec["by_size"]["edges"] == policy.size_edges["front"]
    with pytest.raises(EvaluationError, match="not iou"):
        with Project.open(path) as p:
            fit_run_policy(p, "run4", "iou", kind="size")
