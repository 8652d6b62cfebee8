"""Evaluation job: predicts missing results once with stored weights, every metric per run, n/a with reasons."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.core.progress import Cancelled, CancelToken
from workbench.jobs.evaluate import evaluate, to_json
from workbench.jobs.evaluate_data import EvaluationError, as_rgb, load_model
from workbench.jobs.evaluate_metrics import NA
from workbench.metrics import auroc, pixel_auroc, recall_at_precision, threshold_at_tnr
from workbench.project import Project

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate_station import station_copy  # noqa: E402


def _test_ids(p: Project) -> list[int]:
    return [s.id for s in p.samples(split="test")]


def test_missing_results_are_predicted_once_with_stored_weights_then_reused(tmp_path_factory, tmp_path):
    path = station_copy(tmp_path_factory, tmp_path, evaluated=False)
    with Project.open(path) as p:
        assert p.results() == []
        first = evaluate(p, ["run1", "run4"])
        assert [r["predicted_now"] for r in first["runs"]] == [16, 16]  # 10 test + 6 validation samples
        stored = p.results(run_id="run1")
        assert {r.meta["split"] for r in stored} == {"test", "val"}
        p.save()
    with Project.open(path) as p:
        again = evaluate(p, ["run1", "run4"])
        assert [r["predicted_now"] for r in again["runs"]] == [0, 0]
        assert len(p.results()) == 4
        assert to_json(again["runs"][0]["metrics"]) == to_json(first["runs"][0]["metrics"])


def test_metrics_equal_a_direct_computation_on_fresh_predictions(tmp_path_factory, tmp_path):
    path = station_copy(tmp_path_factory, tmp_path)
    with Project.open(path) as p:
        record = evaluate(p, ["run2"], keep_data=True)["runs"][0]
        test = record["_data"]["test"]
        ids = _test_ids(p)
        model = load_model(p, "run2")
        scores, maps = model.predict([as_rgb(p.sample_image(i)) for i in ids])
        labels = np.array([p.sample(i).label == "defective" for i in ids])
        assert record["metrics"]["all"]["image_auroc"] == pytest.approx(auroc(labels, scores))
        # Maps are stored as float16: compare with the stored maps, restricted to the view's ROI.
        masks = [(p.gt_mask(i) if p.gt_mask(i) is not None else np.zeros(maps[0].shape)) > 0 for i in ids]
        expected = pixel_auroc(masks, test.maps, test.roi)
        assert record["metrics"]["all"]["pixel_auroc"] == pytest.approx(expected)
        assert np.abs(np.array(test.maps) - maps).max() < 1e-2 * (1 + np.abs(maps).max())


def test_real_and_synthetic_defects_are_evaluated_apart(tmp_path_factory, tmp_path):
    path = station_copy(tmp_path_factory, tmp_path)
    with Project.open(path) as p:
        record = evaluate(p, ["run1"], keep_data=True)["runs"][0]
        test = record["_data"]["test"]
    assert set(record["metrics"]) == {"all", "real", "synthetic"}
    assert record["counts"]["test"]["synthetic"] == int((test.labels & test.synthetic).sum()) == 2
    real = test.subset(~test.synthetic)
    assert record["metrics"]["real"]["image_auroc"] == pytest.approx(auroc(real.labels, real.scores))


def test_operating_points_use_validation_thresholds(tmp_path_factory, tmp_path):
    path = station_copy(tmp_path_factory, tmp_path)
    with Project.open(path) as p:
        record = evaluate(p, ["run3"], keep_data=True)["runs"][0]
    val, test = record["_data"]["val"], record["_data"]["test"]
    normals = val.scores[~val.labels]
    for entry, tnr in zip(record["rates_at_tnr"], (0.99, 0.95, 0.90)):
        assert entry["threshold"] == threshold_at_tnr(normals, tnr)
        flagged = test.scores >= entry["threshold"]
        assert entry["fpr"] == pytest.approx(flagged[~test.labels].mean())
        assert entry["fnr"] == pytest.approx((~flagged[test.labels]).mean())
    for entry in record["recall_at_precision"]:
        op = recall_at_precision(val.labels, val.scores, entry["min_precision"])
        assert entry["threshold"] == op.threshold
        assert entry["recall"] == pytest.approx((test.scores[test.labels] >= op.threshold).mean())


def test_statistics_group_seeds_and_compare_models(tmp_path_factory, tmp_path):
    path = station_copy(tmp_path_factory, tmp_path)
    with Project.open(path) as p:
        stats = evaluate(p)["statistics"]["front"]
    assert set(stats["groups"]) == {"padim", "patchcore"}
    assert stats["groups"]["padim"]["seeds"] == [0, 1, 2]
    assert stats["groups"]["padim"]["timing"]["train_seconds"]["mean"] == pytest.approx(2.0)
    paired = stats["tests"]["pixel_auroc"]["paired"]
    assert stats["tests"]["pixel_auroc"]["paired_seeds"] == [0, 1, 2]
    assert len(paired) == 1 and 0.0 <= paired[0]["p_bh"] <= 1.0
    assert stats["knee"]["knee"] in stats["groups"]


def test_project_without_test_split_is_a_clear_error(tmp_path_factory, tmp_path):
    path = station_copy(tmp_path_factory, tmp_path, evaluated=False)
    with Project.open(path) as p:
        p.update_samples(_test_ids(p), split="unassigned")
        with pytest.raises(EvaluationError, match="no test split"):
            evaluate(p)
        with pytest.raises(EvaluationError, match="unknown run"):
            evaluate(p, ["run99"])


def test_test_split_without_defects_gives_na_with_reason(tmp_path_factory, tmp_path):
    path = station_copy(tmp_path_factory, tmp_path)
    with Project.open(path) as p:
        bad = [s.id for s in p.samples(split="test", label="defective")]
        p.update_samples(bad, split="unassigned")
        record = evaluate(p, ["run1"])["runs"][0]
    m = record["metrics"]["all"]
    assert isinstance(m["image_auroc"], NA) and "no defective" in m["image_auroc"].reason
    assert isinstance(m["pixel_auroc"], NA)
    assert isinstance(record["size_misses"], NA)
    assert isinstance(record["rates_at_tnr"], NA)
    text = str(to_json(record))
    assert "nan" not in text.lower().replace("nan ", "")


def test_nan_scores_become_na_naming_the_samples(tmp_path_factory, tmp_path):
    path = station_copy(tmp_path_factory, tmp_path)
    with Project.open(path) as p:
        ids = _test_ids(p)
        res = next(r for r in p.results(run_id="run1") if r.meta.get("split") == "test")
        scores = p.result_scores(res.id)
        maps = p.result_maps(res.id)
        scores[3] = np.nan
        p.add_result("run1", ids, scores, maps)
        record = evaluate(p, ["run1"])["runs"][0]
    m = record["metrics"]["all"]
    assert isinstance(m["image_auroc"], NA)
    assert "NaN scores" in m["image_auroc"].reason and str(ids[3]) in m["image_auroc"].reason
    assert not isinstance(m["pixel_auroc"], NA)  # the maps are fine


def test_cancel_stores_nothing(tmp_path_factory, tmp_path):
    path = station_copy(tmp_path_factory, tmp_path, evaluated=False)
    token = CancelToken()
    calls = []

    def progress(fraction, message=""):
        calls.append(fraction)
        if len(calls) == 2:
            token.cancel()

    with Project.open(path) as p:
        with pytest.raises(Cancelled):
            evaluate(p, ["run1"], progress=progress, cancel=token)
        assert p.results() == []
