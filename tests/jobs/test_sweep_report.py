"""The report's sweep sections: the few-shot curve with its interval over seeds and the table behind it, and
the models-over-seeds table with the knee for a plain sweep."""

from __future__ import annotations

import re

import numpy as np
import pytest
from evaluate_station import build_station

from workbench.jobs.report import write_report
from workbench.jobs.report.sweep import _cell, interval
from workbench.jobs.report.tables import Notes
from workbench.jobs.sweep import run_sweep
from workbench.jobs.sweep_exec import LocalExecutor
from workbench.jobs.sweep_plan import SweepSpec
from workbench.project import Project

TINY = {"backbone": "resnet18", "pretrained": False, "layers": ["layer1", "layer2"], "device": "cpu"}
PC = {**TINY, "embed_dim": 32, "projection_dim": 16}


def test_the_interval_is_the_t_interval_of_the_mean():
    s = interval([0.8, 0.9, 1.0])
    assert s["mean"] == pytest.approx(0.9) and s["std"] == pytest.approx(0.1)
    assert s["high"] - s["mean"] == pytest.approx(4.302653 * 0.1 / np.sqrt(3), rel=1e-5)
    assert interval([0.7])["low"] == 0.7 and interval([float("nan")]) is None
    two = interval([0.75, 1.0], bounds=(0.0, 1.0))  # t(0.975, 1) = 12.7: wider than AUROC can be
    assert (two["low"], two["high"]) == (0.0, 1.0) and two["mean"] == pytest.approx(0.875)


def test_a_spread_over_seeds_below_a_tenth_of_a_percent_keeps_its_digits():
    near_one = interval([0.99948, 0.99950, 0.99946])  # pixel AUROC of three seeds
    text = _cell(near_one, Notes())
    assert text.startswith("99.948 ± 0.002 ") and "[99.943, 99.953]" in text
    assert _cell(interval([0.8, 0.9, 1.0]), Notes()).startswith("90.0 ± 10.0 ")
    assert _cell(interval([1.0, 1.0]), Notes()).startswith("100.0 ± 0.0 ")


@pytest.fixture
def station(tmp_path):
    return build_station(
        tmp_path / "station.awb", models=(), n_train=6, val=(2, 2), test=(3, 3), synthetic_test=0
    )


def test_a_fewshot_report_draws_the_curve_with_intervals_over_seeds(station, tmp_path):
    spec = SweepSpec(
        models=["patchcore"], seeds=[0, 1, 2], n_train=[1, 2, 5, 10], params=PC, preset="fewshot"
    )
    with Project.open(station) as p:
        out = run_sweep(p, spec, LocalExecutor(2, 1))
        assert out["done"] == 9 and len(out["skipped"]) == 3  # n_train=10 for each seed
        index = write_report(p, tmp_path / "report", robustness=False)
    html = index.read_text(encoding="utf-8")
    section = html[html.index("(few-shot)</h2>") :]
    assert "Few-shot curve, view “front”" in section and "data:image/png;base64," in section
    assert "3 skipped (view &#x27;front&#x27; has only 6 training normals (&lt; 10))" in html
    rows = re.findall(r"<tr><td class=\"key\">patchcore</td><td class=\"key\">(\d+)</td>", section)
    assert rows == ["1", "2", "5"]
    assert (
        len(re.findall(r"n=3</span>", section)) == 6
    )  # image and pixel AUROC of three sizes, three seeds each
    assert f'href="#{out["id"]}"' in html and "Sweep sweep-" not in html  # in the navigation, one prefix


def test_a_model_sweep_gets_a_table_over_seeds_and_the_knee(station, tmp_path):
    spec = SweepSpec(models=["patchcore", "padim"], seeds=[0, 1], params={**PC, "n_features": 20})
    with Project.open(station) as p:
        run_sweep(p, spec, LocalExecutor(2, 1))
        html = write_report(p, tmp_path / "report", robustness=False).read_text(encoding="utf-8")
    section = html[html.index("(grid)</h2>") :]
    assert "Models over seeds, view “front”" in section and "Knee point (seed 001)" in section
    assert section.count("<b>knee</b>") == 1


def test_a_window_report_draws_detection_against_the_window_size(station, tmp_path):
    spec = SweepSpec(models=["patchcore"], seeds=[0, 1], windows=[0.5, 1.0], params=PC, preset="window")
    with Project.open(station) as p:
        out = run_sweep(p, spec, LocalExecutor(2, 1))
        assert out["done"] == 4 and not out["failed"]
        assert sorted({p.run(r).view for r in out["runs"]}) == ["front", "front@24x24"]
        html = write_report(p, tmp_path / "report", robustness=False).read_text(encoding="utf-8")
    section = html[html.index("(window size)</h2>") :]
    assert "Window size, view “front”" in section and "data:image/png;base64," in section
    rows = re.findall(r"<tr><td class=\"key\">patchcore</td><td class=\"key\">(\d+×\d+)</td>", section)
    assert rows == ["24×24", "48×48"]


def test_seed001_cells_bring_robustness_that_the_report_reuses(station, tmp_path):
    spec = SweepSpec(models=["patchcore"], seeds=[0, 1], params=PC, robustness=True, preset="seed001")
    with Project.open(station) as p:
        out = run_sweep(p, spec, LocalExecutor(2, 1))
        for rid in out["runs"]:  # the five augmented test copies were scored on the worker
            augmented = [r for r in p.results(rid) if r.meta.get("augmentation")]
            assert sorted(r.meta["augmentation"] for r in augmented) == sorted(
                ["defocus", "brightness_contrast", "iso_noise", "rotation", "gaussian_noise"]
            )
        n_results = len(p.results())
        html = write_report(p, tmp_path / "report", robustness=True).read_text(encoding="utf-8")
        assert len(p.results()) == n_results  # nothing predicted again for robustness
    section = html[html.index("(seed001)</h2>") :]
    assert "Drop: Defocus" in section and "robustness not computed" not in section
