"""Masked against unmasked runs (seed 000's ablation) in `eval`: FN and FP at each run's F1-max threshold,
their change, FN by defect size, recomputed here from the stored scores."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.cli.main import main
from workbench.jobs.evaluate import evaluate
from workbench.jobs.train import train_views
from workbench.metrics import f1_max
from workbench.project import Project

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate_station import MODEL_PARAMS, build_station  # noqa: E402


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    path = build_station(
        tmp_path_factory.mktemp("masking") / "station.awb", models=(), n_train=6, val=(3, 2), test=(6, 6)
    )
    with Project.open(path) as p:
        params = {k: v for k, v in MODEL_PARAMS["patchcore"].items()}
        for seed in (0, 1):
            train_views(p, "patchcore", dict(params), seed=seed)
            train_views(p, "patchcore", dict(params), seed=seed, roi=False)
        p.save()
    return path


def test_masking_section_compares_errors_of_masked_and_unmasked_runs(station, tmp_path, capsys):
    with Project.open(station) as p:
        out = evaluate(p, keep_data=True)
    records = out["runs"]
    assert sorted(r["masking"] for r in records) == ["none", "none", "roi", "roi"]
    groups = {r["group"] for r in records}
    assert groups == {"patchcore (roi=true)", "patchcore (roi=false)"}
    errors = {"roi": [], "none": []}
    for r in records:
        test = r["_data"]["test"]
        assert (test.roi is None) == (r["masking"] == "none")  # unmasked runs are evaluated on every pixel
        c = f1_max(test.labels, test.scores).counts
        errors[r["masking"]].append((c.fn, c.fp))
    m = out["masking"]
    (row,) = m["rows"]
    assert sorted(row["masked_runs"] + row["unmasked_runs"]) == sorted(r["run"] for r in records)
    for k, key in enumerate(("fn", "fp")):
        masked = float(np.mean([e[k] for e in errors["roi"]]))
        unmasked = float(np.mean([e[k] for e in errors["none"]]))
        assert row[key]["masked"] == pytest.approx(masked) and row[key]["unmasked"] == pytest.approx(unmasked)
        if unmasked:
            assert row[key]["change_pct"] == pytest.approx(100 * (masked - unmasked) / unmasked)
    fn_sizes = sum(row["fn_by_size"][b]["masked"] for b in ("small", "medium", "large"))
    assert fn_sizes == pytest.approx(row["fn"]["masked"])
    assert m["overall"]["fn"] == row["fn"] and "F1-max" in m["threshold"]

    assert main(["eval", str(station), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "masking (view ROI against --no-roi" in text and "patchcore on front: FN" in text


def test_without_unmasked_runs_the_section_says_what_to_do(tmp_path):
    path = build_station(
        tmp_path / "s.awb", models=("padim",), seeds=(0,), n_train=4, val=(1, 1), test=(3, 3)
    )
    with Project.open(path) as p:
        m = evaluate(p)["masking"]
    assert "--no-roi" in m.reason
