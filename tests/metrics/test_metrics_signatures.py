"""Every metric takes scikit-learn's argument order and names: ``(y_true, y_score)`` (or ``y_pred``)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from sklearn import metrics as skm

import workbench.metrics as wm

METRICS = [
    "auroc",
    "average_precision",
    "f1_max",
    "recall_at_precision",
    "confusion_at",
    "precision_recall_f1",
    "rates_at_tnr",
    "pixel_auroc",
    "pixel_average_precision",
    "iou_max",
    "pixel_f1_max",
    "pixel_confusion_at",
    "aupro",
    "auspro",
    "pro_curve",
    "Recount",
    "ScoreRecount",
    "PixelRecount",
    "ZoneRecount",
]


@pytest.mark.parametrize("name", METRICS)
def test_metric_takes_y_true_then_y_score(name):
    params = list(inspect.signature(getattr(wm, name)).parameters)
    assert params[:2] == ["y_true", "y_score"], (name, params)


def test_size_aware_misses_takes_y_true_then_y_pred():
    assert list(inspect.signature(wm.size_aware_misses).parameters)[:2] == ["y_true", "y_pred"]


def test_keywords_give_the_same_value_as_scikit_learn():
    rng = np.random.default_rng(0)
    y = rng.random(200) < 0.3
    s = rng.normal(size=200) + y
    assert wm.auroc(y_true=y, y_score=s) == pytest.approx(skm.roc_auc_score(y_true=y, y_score=s), abs=1e-12)
    assert wm.average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)
