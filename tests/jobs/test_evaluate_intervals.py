"""Every rate at a policy carries its 95 % interval (checked against statsmodels) in `eval --json`, per view,
defect type and zone; a threshold on fewer than 20 normals is flagged; verdicts and detections are defined."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from workbench.cli.main import main
from workbench.jobs.evaluate import evaluate
from workbench.jobs.evaluate_policy import fit_run_policy
from workbench.metrics.policy import DETECTION_DEFINITION, VERDICT_DEFINITION
from workbench.project import Project

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate_station import station_copy  # noqa: E402


def _check(ci: dict, k: int, n: int) -> None:
    assert (ci["k"], ci["n"]) == (k, n) and ci["ci_method"] == "wilson" and ci["ci_level"] == 0.95
    if n:
        low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert ci["ci_low"] == pytest.approx(low, abs=1e-9) and ci["ci_high"] == pytest.approx(high, abs=1e-9)
        assert ci["value"] == pytest.approx(k / n)
    else:
        assert ci["value"] is None and (ci["ci_low"], ci["ci_high"]) == (0.0, 1.0)


def test_policy_rates_carry_wilson_intervals_and_the_small_validation_flag(tmp_path_factory, tmp_path):
    path = station_copy(tmp_path_factory, tmp_path)
    with Project.open(path) as p:
        p.set_policy("far", fit_run_policy(p, "run1", "far", 0.34).to_dict())
        out = evaluate(p, ["run1"], policy="far")
    rec = out["runs"][0]["policy"]
    tp, fp, tn, fn = rec["tp"], rec["fp"], rec["tn"], rec["fn"]
    _check(rec["intervals"]["precision"], tp, tp + fp)
    _check(rec["intervals"]["recall"], tp, tp + fn)
    _check(rec["intervals"]["fpr"], fp, fp + tn)
    _check(rec["intervals"]["fnr"], fn, fn + tp)
    # the station's validation split holds 3 normals: far below 20
    assert rec["n_normals"] == 3 and rec["normals_from"] == "validation"
    assert rec["small_validation"] and rec["small_validation_text"] == "small validation: 3 normals (< 20)"
    by_type = rec["by_type"]
    assert sum(v["n"] for v in by_type.values()) == tp + fn  # every defect has a type ('untyped' here)
    for v in by_type.values():
        _check(v["intervals"]["recall"], v["tp"], v["n"])
    # image-level verdicts per zone: defects grouped by the zone holding most of their GT pixels
    by_zone = rec["by_zone"]
    assert set(by_zone) <= {"left", "right", "no zone"} and sum(v["n"] for v in by_zone.values()) == tp + fn
    assert out["definitions"]["verdict"] == VERDICT_DEFINITION
    assert out["definitions"]["detection"] == DETECTION_DEFINITION


def test_pixel_policy_gives_each_zone_its_false_alarm_rate_with_an_interval(tmp_path_factory, tmp_path):
    path = station_copy(tmp_path_factory, tmp_path)
    with Project.open(path) as p:
        p.set_policy("px", fit_run_policy(p, "run4", "iou").to_dict())
        out = evaluate(p, ["run4"], policy="px", keep_data=True)
    r = out["runs"][0]
    rec, test = r["policy"], r["_data"]["test"]
    n_normal = int((~test.labels).sum())
    for zone in ("left", "right"):
        z = rec["by_zone"][zone]
        assert z["n_normals"] == n_normal
        _check(z["intervals"]["fpr"], z["fp"], n_normal)
    # a normal flagged in some zone is a false positive of the whole sample
    assert max(rec["by_zone"][z]["fp"] for z in ("left", "right")) <= rec["fp"]


def test_operating_points_carry_intervals_and_the_normals_they_rest_on(tmp_path_factory, tmp_path):
    path = station_copy(tmp_path_factory, tmp_path)
    with Project.open(path) as p:
        r = evaluate(p, ["run1"])["runs"][0]
    for e in r["rates_at_tnr"]:
        _check(e["intervals"]["fpr"], e["fp"], e["fp"] + e["tn"])
        _check(e["intervals"]["fnr"], e["fn"], e["fn"] + e["tp"])
        assert e["n_normals"] == 3 and e["small_validation"]
    for e in r["recall_at_precision"]:
        _check(e["intervals"]["recall"], e["tp"], e["tp"] + e["fn"])
        _check(e["intervals"]["precision"], e["tp"], e["tp"] + e["fp"])
    for b in r["size_misses"]["bins"].values():
        _check(b["miss_rate_interval"], b["missed"], b["total"])


def test_eval_prints_intervals_flags_and_both_definitions(tmp_path_factory, tmp_path, capsys):
    path = str(station_copy(tmp_path_factory, tmp_path))
    assert (
        main(["policy", path, "--run", "run1", "--source", "far", "--target", "0.34", "--name", "far"]) == 0
    )
    assert "warning: small validation: 3 normals (< 20)" in capsys.readouterr().err
    assert main(["policy", path]) == 0
    listed = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("far\t"))
    assert listed.endswith("3 normal validation samples\tSMALL VALIDATION: 3 NORMALS (< 20)")
    assert main(["eval", path, "--run", "run1", "--policy", "far", "--quiet"]) == 0
    text = capsys.readouterr().out
    line = next(x for x in text.splitlines() if x.startswith("policy far on run1"))
    assert "fpr" in line and "(" in line and "SMALL VALIDATION: 3 NORMALS (< 20)" in line
    assert "rests on 3 normal validation samples" in line
    assert VERDICT_DEFINITION in text and DETECTION_DEFINITION in text
    assert main(["eval", path, "--run", "run1", "--policy", "far", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    ci = doc["runs"][0]["policy"]["intervals"]["fpr"]
    assert 0.0 <= ci["ci_low"] <= ci["ci_high"] <= 1.0 and np.isfinite(ci["ci_high"])
