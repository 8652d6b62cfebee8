"""Bounds before work for predict (issue 16): a prediction that would not fit in the free memory is refused
in one sentence with its estimate and a hint, before the model sees any image."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core import resources
from workbench.jobs import evaluate_data
from workbench.models.checks import factory_for, tiny_images


@pytest.fixture(scope="module")
def patchcore():
    return factory_for("patchcore")().fit(tiny_images())


def test_the_estimate_counts_the_kept_maps_and_the_planned_batch(patchcore):
    small = [np.zeros((48, 64, 3), np.uint8)] * 4
    large = [np.zeros((1080, 1920, 3), np.uint8)] * 4
    many = [np.zeros((1080, 1920, 3), np.uint8)] * 40
    s, lg, mn = (evaluate_data.predict_memory_bytes(patchcore, x) for x in (small, large, many))
    assert s < lg < mn
    # 36 more maps of 1920x1080 float32 are kept
    assert mn - lg == 36 * 1920 * 1080 * 4
    assert evaluate_data.predict_memory_bytes(patchcore, []) == 0


def test_a_prediction_over_the_free_memory_is_refused_before_any_work(patchcore, monkeypatch):
    images = [np.zeros((1080, 1920, 3), np.uint8)] * 40
    need = evaluate_data.predict_memory_bytes(patchcore, images)
    monkeypatch.setattr(resources, "available_ram_bytes", lambda: need // 4)
    called = []
    monkeypatch.setattr(patchcore, "predict", lambda *a, **k: called.append(1))
    with pytest.raises(ValueError) as err:
        evaluate_data.predict_images(patchcore, images)
    msg = str(err.value)
    assert "\n" not in msg and "predicting 40 images with patchcore" in msg and "GB is free" in msg
    assert "at most 9 at a time" in msg or "at most 10 at a time" in msg
    assert called == []


def test_a_prediction_that_fits_runs(patchcore, monkeypatch):
    images = tiny_images(3, seed=5)
    monkeypatch.setattr(resources, "available_ram_bytes", lambda: 64 * 2**30)
    scores, maps, _ms = evaluate_data.predict_images(patchcore, images)
    assert scores.shape == (3,) and len(maps) == 3 and maps[0].shape == images[0].shape[:2]
