"""Thresholds from training normals (no validation normals): evaluation predicts the training split for
its scores only; no maps are kept or stored, and the thresholds are those of the training scores."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.jobs.evaluate import evaluate
from workbench.jobs.evaluate_data import as_rgb, load_model, predict_memory_bytes
from workbench.metrics import threshold_at_tnr
from workbench.project import Project
from workbench.project.errors import ProjectError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate_station import build_station  # noqa: E402


def test_training_normals_are_scored_without_maps(tmp_path):
    path = build_station(tmp_path / "s.awb", models=("patchcore",), seeds=(0,), n_train=8, val=(0, 0))
    with Project.open(path) as p:
        record = evaluate(p, ["run1"])["runs"][0]
        train_ids = [s.id for s in p.samples(split="train")]
        (stored,) = [r for r in p.results(run_id="run1") if r.meta["split"] == "train"]
        assert sorted(stored.sample_ids) == sorted(train_ids)
        with pytest.raises(ProjectError, match="only scores"):
            p.result_maps(stored.id)
        assert not p.result_has_maps(stored.id)
        assert all(p.result_has_maps(r.id) for r in p.results(run_id="run1") if r.meta["split"] == "test")
        model = load_model(p, "run1")
        scores, _ = model.predict([as_rgb(p.sample_image(i)) for i in train_ids])
        rates = record["rates_at_tnr"]
        assert [r["threshold_from"] for r in rates] == ["training"] * 3
        for r, tnr in zip(rates, (0.99, 0.95, 0.90)):
            assert r["n_normals"] == 8
            assert r["threshold"] == pytest.approx(threshold_at_tnr(scores, tnr), rel=1e-6)
        # the test split keeps its maps: pixel metrics are there
        assert isinstance(record["metrics"]["all"]["pixel_auroc"], float)
        n_results = len(p.results())
        p.save()
    with Project.open(path) as p:  # a second evaluation reuses the stored training scores
        again = evaluate(p, ["run1"])["runs"][0]
        assert len(p.results()) == n_results and again["rates_at_tnr"] == rates


def test_scores_only_prediction_plans_one_batch_of_maps():
    images = [np.zeros((460, 1130, 3), np.uint8)] * 500
    with_maps = predict_memory_bytes(object(), images)
    without = predict_memory_bytes(object(), images, keep_maps=False)
    assert with_maps - without == 4 * 460 * 1130 * (500 - 8)


def test_the_model_is_released_before_the_pixel_metrics(tmp_path, monkeypatch):
    import gc

    import workbench.jobs.evaluate as evaluate_module
    from workbench.models.base import AnomalyModel

    path = build_station(tmp_path / "s.awb", models=("patchcore",), seeds=(0,), n_train=4, val=(0, 0))
    live = []
    real = evaluate_module.pixel_metrics

    def counting(data):
        gc.collect()
        live.append(sum(issubclass(type(o), AnomalyModel) for o in gc.get_objects()))
        return real(data)

    monkeypatch.setattr(evaluate_module, "pixel_metrics", counting)
    with Project.open(path) as p:
        record = evaluate(p, ["run1"])["runs"][0]
    # the test and training splits were predicted here (the model was loaded), yet none is alive
    assert record["predicted_now"] > 0 and live and not any(live)


def test_thresholds_rest_on_a_spread_of_at_most_the_cap_of_training_normals(tmp_path, monkeypatch):
    """Without validation normals, at most THRESHOLD_TRAIN_NORMALS training normals are scored (spread
    over the split, the same ones every time), and the record says how many of how many."""
    import workbench.jobs.evaluate as evaluate_module
    from workbench.jobs.evaluate_data import spread
    from workbench.jobs.report.rates import normals_cell

    monkeypatch.setattr(evaluate_module, "THRESHOLD_TRAIN_NORMALS", 4)
    path = build_station(tmp_path / "s.awb", models=("patchcore",), seeds=(0,), n_train=10, val=(0, 0))
    with Project.open(path) as p:
        record = evaluate(p, ["run1"])["runs"][0]
        train = [s for s in p.samples(split="train")]
        (stored,) = [r for r in p.results(run_id="run1") if r.meta["split"] == "train"]
        chosen = [s.id for s in spread(train, 4)]
        assert sorted(stored.sample_ids) == sorted(chosen) and len(chosen) == 4
        assert chosen[0] == train[0].id and chosen[-1] == train[-1].id  # first to last
        model = load_model(p, "run1")
        scores, _ = model.predict([as_rgb(p.sample_image(i)) for i in chosen])
        for r, tnr in zip(record["rates_at_tnr"], (0.99, 0.95, 0.90)):
            assert (r["n_normals"], r["n_normals_available"]) == (4, 10)
            assert r["threshold"] == pytest.approx(threshold_at_tnr(scores, tnr), rel=1e-6)
        assert "spread over 10" in normals_cell(record["rates_at_tnr"][0])


def test_spread_keeps_order_and_ends():
    from workbench.jobs.evaluate_data import spread

    items = list(range(500))
    picked = spread(items, 100)
    assert len(picked) == 100 and picked[0] == 0 and picked[-1] == 499 and picked == sorted(set(picked))
    assert spread(items[:7], 100) == items[:7] and spread(items, None) == items
