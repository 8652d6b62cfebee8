"""Statistics over evaluated runs, per view: mean +- std over seeds, paired and Welch t-tests with
Benjamini-Hochberg, and the knee point of image AUROC against inference time.

Runs are grouped by (model, view, parameters other than seed and device, masking, training
augmentation). Paired tests pair the runs of two groups by the seeds they share (seed 000 compares
three runs per model); only groups with at least 2 seeds take part, the others are listed as "one
seed". Welch tests compare the groups as independent samples (seed 003). The Pareto front and knee point
(seed 001) rank the mean AUROC and mean inference time of the groups that are above chance: every run's
one-sided Mann-Whitney test of defective > normal test scores at p < 0.05 (AUROC > 0.5); the others are
listed with their AUROC and p.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np

from workbench.jobs.evaluate_metrics import NA
from workbench.metrics import knee_point, mean_std, paired_tests_by_seed, pareto_front, welch_tests

CHANCE_ALPHA = 0.05
CHANCE_RULE = (
    f"above chance: every run's one-sided Mann-Whitney test of defective > normal test scores has "
    f"p < {CHANCE_ALPHA:g} (image AUROC > 0.5)"
)

MEAN_METRICS = (
    "image_auroc",
    "image_ap",
    "image_precision",
    "image_recall",
    "image_f1",
    "image_fp_share",
    "pixel_auroc",
    "pixel_ap",
    "aupro",
    "auspro",
    "iou",
    "pixel_precision",
    "pixel_recall",
    "pixel_f1",
    "pixel_fp_share",
)
TIMING_METRICS = ("train_seconds", "inference_ms_per_image", "peak_memory_mb")
TEST_METRICS = ("image_auroc", "pixel_auroc", "aupro")
IGNORED_PARAMS = ("seed", "device")


def group_labels(records: list[dict]) -> list[str]:
    """A label per record: the model name, plus the parameters that differ between its configurations."""
    configs: dict[str, list[dict]] = {}
    keys = []
    for r in records:
        p = {k: v for k, v in r["params"].items() if k not in IGNORED_PARAMS}
        # run options that are not model parameters still make another configuration
        p["roi"] = r.get("masking") != "none"
        aug = r.get("train_augmentation")
        p["augment"] = "+".join(aug["names"]) if aug else "none"
        keys.append(p)
        if p not in configs.setdefault(r["model"], []):
            configs[r["model"]].append(p)
    labels = []
    for r, p in zip(records, keys):
        variants = configs[r["model"]]
        if len(variants) == 1:
            labels.append(r["model"])
            continue
        differ = sorted(k for k in p if any(v.get(k) != p[k] for v in variants))
        extra = ", ".join(f"{k}={json.dumps(p[k])}" for k in differ)
        labels.append(f"{r['model']} ({extra})")
    return labels


def _value(record: dict, metric: str, where: str = "all") -> Any:
    """A record's metric: ``where`` 'all', 'real' or 'synthetic' (test subsets) or 'val'."""
    if metric in TIMING_METRICS:
        return record["timings"].get(metric, NA("not recorded"))
    if where == "val":
        vm = record["val_metrics"]
        return vm if isinstance(vm, NA) else vm.get(metric, NA("not computed on validation"))
    subset = record["metrics"].get(where)
    if subset is None:
        return NA(f"the test split holds no {where} defect")
    return subset.get(metric, NA("not computed"))


def summarize(records: list[dict], metric: str, where: str = "all") -> dict[str, Any] | NA:
    """Mean +- std of a metric over runs: {"mean", "std", "n", "of"}; NA when no run has a value."""
    values = [_value(r, metric, where) for r in records]
    good = [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]
    if not good:
        reasons = [v.reason for v in values if isinstance(v, NA)]
        return NA(reasons[0] if reasons else "no value")
    ms = mean_std(good)
    return {"mean": ms.mean, "std": ms.std, "n": ms.n, "of": len(values)}


def _by_seed(records: list[dict], metric: str) -> dict[int, float]:
    out = {}
    for r in records:
        v = _value(r, metric)
        if r["seed"] is not None and isinstance(v, int | float) and math.isfinite(v):
            out[r["seed"]] = float(v)
    return out


def _comparisons(rows) -> list[dict]:
    return [
        {
            "a": c.a,
            "b": c.b,
            "mean_diff": c.mean_diff,
            "t": c.t if math.isfinite(c.t) else ("+inf" if c.t > 0 else "-inf"),
            "p": c.p,
            "p_bh": c.p_adjusted,
            "significant": c.significant,
        }
        for c in rows
    ]


def tests_for(groups: dict[str, list[dict]], metric: str) -> dict[str, Any]:
    """Paired (over shared seeds) and Welch t-tests between every two groups, BH-corrected."""
    if len(groups) < 2:
        only = next(iter(groups), "none")
        na = NA(f"only one model configuration on this view ({only}); nothing to compare")
        return {"paired": na, "welch": na}
    per_seed = {g: _by_seed(rs, metric) for g, rs in groups.items()}
    rows, one_seed, unpaired = paired_tests_by_seed(per_seed)
    eligible = [g for g in per_seed if g not in one_seed]
    if rows:
        paired: Any = _comparisons(rows)
    elif len(eligible) < 2:
        paired = NA(
            "paired t-tests need two models with at least 2 seeds each; "
            + (f"one seed: {', '.join(one_seed)}" if one_seed else "none has 2")
        )
    else:
        paired = NA("no two models with 2 or more seeds share 2 seeds")
    shared_sets = [
        sorted(set(per_seed[a]) & set(per_seed[b])) for a, b in itertools.combinations(eligible, 2)
    ]
    paired_seeds: Any = sorted(set().union(*map(set, shared_sets))) if shared_sets else []
    values = {
        g: [float(v) for v in (_value(r, metric) for r in rs) if isinstance(v, int | float)]
        for g, rs in groups.items()
    }
    enough = {g: v for g, v in values.items() if len(v) >= 2}
    if len(enough) >= 2:
        welch: Any = _comparisons(welch_tests(enough))
    else:
        welch = NA("Welch t-tests need at least 2 runs (seeds) with a value for two or more models")
    left = sorted(set(values) - set(enough))
    return {
        "paired": paired,
        "paired_seeds": paired_seeds,
        "one_seed": one_seed,
        "unpaired": [list(p) for p in unpaired],
        "welch": welch,
        "welch_left_out": left,
    }


def chance(records: list[dict]) -> tuple[bool, str]:
    """(above chance, why not) of a group's runs: every run's one-sided p < CHANCE_ALPHA."""
    worst = None
    for r in records:
        m = r["metrics"]["all"]
        p, a = m.get("image_auroc_p"), m.get("image_auroc")
        if not isinstance(p, int | float) or not isinstance(a, int | float):
            return False, "no image AUROC on the test split"
        if worst is None or p > worst[0]:
            worst = (float(p), float(a), r["run"])
    if worst is None:
        return False, "no run"
    p, a, run = worst
    if p < CHANCE_ALPHA:
        return True, ""
    return (
        False,
        f"not above chance: {run} has image AUROC {a:.3f}, one-sided p = {p:.3g} >= {CHANCE_ALPHA:g}",
    )


def knee(
    groups: dict[str, dict[str, Any]], members: dict[str, list[dict]] | None = None
) -> dict[str, Any] | NA:
    """Pareto front and knee point of mean image AUROC against mean inference ms/image (seed 001),
    among the groups above chance (``members``: label -> records; all groups count without it)."""
    pts, left_out = [], []
    for label, g in groups.items():
        acc, ms = g["test"].get("image_auroc"), g["timing"].get("inference_ms_per_image")
        if not (isinstance(acc, dict) and isinstance(ms, dict)):
            continue
        ok, why = chance(members[label]) if members is not None else (True, "")
        if ok:
            pts.append((label, acc["mean"], ms["mean"]))
        else:
            left_out.append(
                {"label": label, "image_auroc": acc["mean"], "inference_ms": ms["mean"], "reason": why}
            )
    if not pts:
        if left_out:
            return NA(
                "no model is above chance ("
                + "; ".join(f"{e['label']}: {e['reason']}" for e in left_out)
                + ")"
            )
        return NA("no model has both an image AUROC and an inference time")
    acc = np.array([p[1] for p in pts])
    ms = np.array([p[2] for p in pts])
    front = pareto_front(acc, ms)
    k = knee_point(acc, ms)
    return {
        "points": [{"label": p[0], "image_auroc": p[1], "inference_ms": p[2]} for p in pts],
        "front": [pts[i][0] for i in front],
        "knee": pts[k][0],
        "left_out": left_out,
        "rule": CHANCE_RULE,
    }


def statistics(records: list[dict]) -> dict[str, Any]:
    """{view: {"groups": {label: {...}}, "tests": {metric: {...}}, "knee": {...}}} over the records."""
    labels = group_labels(records)
    for r, label in zip(records, labels):
        r["group"] = label
    out: dict[str, Any] = {}
    for view in dict.fromkeys(r["view"] for r in records):
        members: dict[str, list[dict]] = {}
        for r in records:
            if r["view"] == view:
                members.setdefault(r["group"], []).append(r)
        groups = {
            label: {
                "model": rs[0]["model"],
                "runs": [r["run"] for r in rs],
                "seeds": [r["seed"] for r in rs],
                "test": {m: summarize(rs, m) for m in MEAN_METRICS},
                "val": {m: summarize(rs, m, "val") for m in MEAN_METRICS if m in _val_keys(rs)},
                "timing": {m: summarize(rs, m) for m in TIMING_METRICS},
            }
            for label, rs in members.items()
        }
        out[view] = {
            "groups": groups,
            "tests": {m: tests_for(members, m) for m in TEST_METRICS},
            "knee": knee(groups, members),
        }
    return out


def _val_keys(records: list[dict]) -> set[str]:
    keys: set[str] = set()
    for r in records:
        if isinstance(r["val_metrics"], dict):
            keys |= set(r["val_metrics"])
    return keys
