"""Statistics over runs: the knee and Pareto front only among models above chance (the others named),
paired t-tests over models with two or more seeds (the others listed as "one seed")."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.jobs.evaluate_metrics import NA, image_metrics
from workbench.jobs.evaluate_stats import CHANCE_RULE, statistics
from workbench.metrics import auroc_chance_p


def record(run, model, seed, auroc, p, ms):
    return {
        "run": run, "model": model, "view": "v", "seed": seed, "params": {}, "masking": "roi",
        "train_augmentation": None, "val_metrics": NA("none"),
        "metrics": {"all": {"image_auroc": auroc, "image_auroc_p": p}},
        "timings": {"inference_ms_per_image": ms},
    }  # fmt: skip


def test_knee_ranks_only_models_above_chance_and_names_the_others():
    records = [
        record("r1", "patchcore", 0, 0.95, 1e-4, 40.0),
        record("r2", "patchcore", 1, 0.93, 2e-4, 42.0),
        record("r3", "padim", 0, 0.85, 1e-3, 10.0),
        record("r4", "efficientad", 0, 0.30, 0.97, 2.0),  # fastest, worse than chance
        record("r5", "simplenet", 0, 0.62, 0.11, 5.0),  # above 0.5 but not significantly
    ]
    knee = statistics(records)["v"]["knee"]
    assert {p["label"] for p in knee["points"]} == {"patchcore", "padim"}
    assert knee["knee"] in ("patchcore", "padim") and "efficientad" not in knee["front"]
    left = {e["label"]: e["reason"] for e in knee["left_out"]}
    assert set(left) == {"efficientad", "simplenet"}
    assert "image AUROC 0.300" in left["efficientad"] and "p = 0.97" in left["efficientad"]
    assert "p = 0.11" in left["simplenet"] and knee["rule"] == CHANCE_RULE


def test_no_model_above_chance_gives_no_knee_and_says_why():
    knee = statistics([record("r1", "efficientad", 0, 0.3, 0.97, 2.0)])["v"]["knee"]
    assert isinstance(knee, NA) and "efficientad" in knee.reason and "not above chance" in knee.reason


def test_paired_tests_cover_models_with_two_seeds_and_list_one_seed_models():
    rng = np.random.default_rng(0)
    records = []
    for model, base, seeds in (
        ("patchcore", 0.95, (0, 1, 2)),
        ("padim", 0.85, (0, 1, 2)),
        ("stfpm", 0.8, (0,)),
    ):
        for s in seeds:
            records.append(record(f"{model}{s}", model, s, base + rng.normal(0, 0.01), 1e-4, 10.0))
    tests = statistics(records)["v"]["tests"]["image_auroc"]
    assert tests["one_seed"] == ["stfpm"]
    (row,) = tests["paired"]
    assert (row["a"], row["b"]) == ("patchcore", "padim") and tests["paired_seeds"] == [0, 1, 2]
    only_one = statistics([r for r in records if r["model"] != "padim"])["v"]["tests"]["image_auroc"]
    assert isinstance(only_one["paired"], NA) and "one seed: stfpm" in only_one["paired"].reason


def test_image_metrics_carry_the_chance_test(tmp_path):
    from workbench.jobs.evaluate_data import SplitData
    from workbench.project.types import RunInfo

    y = np.array([0, 0, 0, 1, 1, 1], bool)
    s = np.array([0.1, 0.4, 0.2, 0.3, 0.8, 0.9])
    data = SplitData(RunInfo("run1", "m", "v", {}, ""), "test", [None] * 6, s, y, np.zeros(6, bool),
                     np.zeros(6, bool), [], None, None, [], 0, None)  # fmt: skip
    out = image_metrics(data)
    assert out["image_auroc_p"] == pytest.approx(auroc_chance_p(y, s))
