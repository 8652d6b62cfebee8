"""Masked against unmasked runs (seed 000's central ablation): how much the view's ROI changes the errors.

Runs of one model configuration (same model, parameters other than seed and device, same training
augmentation, same view) trained with the view's ROI ("masked") and with ``train --no-roi``
("unmasked") are set side by side. The errors are each run's image-level false negatives and false
positives at its image F1-max threshold on the test split (seed 000 counts FN/FP from the image-level
decision of each model), averaged over the runs (seeds) of each side; the change is
(masked - unmasked) / unmasked, as the seed reports "masking reduces FN by 33.9 % and FP by 34.6 %".
FN are also split by defect-area tertile (small / medium / large, seed 000 eqs. 14-15) with their share
of all FN. Totals pool every configuration and view.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import numpy as np

from workbench.jobs.evaluate_metrics import NA

SIZES = ("small", "medium", "large")
THRESHOLD_NOTE = "image-level FN and FP at each run's image F1-max threshold on the test split"


def _config(record: dict) -> str:
    params = {k: v for k, v in record["params"].items() if k not in ("seed", "device")}
    aug = record.get("train_augmentation")
    key = {
        "model": record["model"],
        "view": record["view"],
        "params": params,
        "augment": aug and aug["names"],
    }
    return json.dumps(key, sort_keys=True, default=str)


def _errors(record: dict) -> dict[str, float] | None:
    """FN, FP and FN per size class of one run, or None when the run has no image counts."""
    counts = record["metrics"]["all"].get("image_counts")
    if not isinstance(counts, dict):
        return None
    out = {"fn": float(counts["fn"]), "fp": float(counts["fp"]), "n_defective": counts["tp"] + counts["fn"]}
    out["n_normal"] = counts["fp"] + counts["tn"]
    sm = record.get("size_misses")
    if isinstance(sm, dict):
        for b in SIZES:
            out[f"fn_{b}"] = float(sm["bins"][b]["missed"])
    return out


def _mean(runs: list[dict], key: str) -> float | None:
    vals = [r[key] for r in runs if key in r]
    return float(np.mean(vals)) if vals else None


def change(masked: float | None, unmasked: float | None) -> dict[str, Any]:
    """{"masked", "unmasked", "change_pct"}: the relative change, NA when the unmasked side is 0 or missing."""
    out: dict[str, Any] = {"masked": masked, "unmasked": unmasked}
    if masked is None or unmasked is None:
        out["change_pct"] = NA("one side has no value")
    elif unmasked == 0:
        out["change_pct"] = (
            NA("no error without masking to compare with")
            if masked == 0
            else NA(f"no error without masking, {masked:g} with it")
        )
    else:
        out["change_pct"] = 100.0 * (masked - unmasked) / unmasked
    return out


def _side_totals(runs_by_config: list[tuple[list[dict], list[dict]]]) -> dict[str, Any]:
    """Errors summed over configurations (each configuration's mean over its runs), with the changes."""
    sums: dict[str, list[float]] = {"masked": [0.0] * 5, "unmasked": [0.0] * 5}
    keys = ("fn", "fp", *(f"fn_{b}" for b in SIZES))
    for masked, unmasked in runs_by_config:
        for side, runs in (("masked", masked), ("unmasked", unmasked)):
            for k, key in enumerate(keys):
                sums[side][k] += _mean(runs, key) or 0.0
    m, u = sums["masked"], sums["unmasked"]
    out = {
        "fn": change(m[0], u[0]),
        "fp": change(m[1], u[1]),
        "errors": change(m[0] + m[1], u[0] + u[1]),
        "fn_by_size": {b: change(m[2 + i], u[2 + i]) for i, b in enumerate(SIZES)},
        "fn_share_by_size": {
            b: {
                "masked": m[2 + i] / sum(m[2:]) if sum(m[2:]) else None,
                "unmasked": u[2 + i] / sum(u[2:]) if sum(u[2:]) else None,
            }
            for i, b in enumerate(SIZES)
        },
    }
    return out


def config_label(group: str) -> str:
    """A masked group's label without its ROI setting: 'patchcore (coreset_ratio=0.1)' or 'patchcore'."""
    model, _, rest = group.partition(" (")
    parts = [p for p in rest.rstrip(")").split(", ") if p and not p.startswith("roi=")]
    return f"{model} ({', '.join(parts)})" if parts else model


def masking_comparison(records: list[dict]) -> dict[str, Any] | NA:
    """Masked against unmasked runs per model configuration and view, per model, and over everything.

    Needs records with ``masking`` ('roi' or 'none'), ``group`` labels (from the statistics) and image
    counts; NA when no configuration was trained both ways.
    """
    sides: dict[str, dict[str, list]] = defaultdict(lambda: {"roi": [], "none": []})
    for r in records:
        sides[_config(r)][r.get("masking", "roi")].append(r)
    pairs = {k: v for k, v in sides.items() if v["roi"] and v["none"]}
    if not pairs:
        return NA(
            "no model configuration was trained both with the view's ROI and without it (workbench train --no-roi)"
        )
    rows, per_model = [], defaultdict(list)
    for sideways in pairs.values():
        masked = [e for e in map(_errors, sideways["roi"]) if e]
        unmasked = [e for e in map(_errors, sideways["none"]) if e]
        if not masked or not unmasked:
            continue
        first = sideways["roi"][0]
        auroc = {
            side: [float(v) for v in (r["metrics"]["all"]["image_auroc"] for r in sideways[key])
                   if isinstance(v, int | float)]
            for side, key in (("masked", "roi"), ("unmasked", "none"))
        }  # fmt: skip
        rows.append(
            {
                "model": first["model"],
                "configuration": config_label(first["group"]),
                "view": first["view"],
                "masked_group": first["group"],
                "unmasked_group": sideways["none"][0]["group"],
                "masked_runs": [r["run"] for r in sideways["roi"]],
                "unmasked_runs": [r["run"] for r in sideways["none"]],
                "image_auroc": {s: (float(np.mean(v)) if v else None) for s, v in auroc.items()},
                **_side_totals([(masked, unmasked)]),
            }
        )
        per_model[first["model"]].append((masked, unmasked))
    if not rows:
        return NA(
            "the runs trained both ways have no image-level counts (no defective or normal test sample)"
        )
    return {
        "threshold": THRESHOLD_NOTE,
        "rows": rows,
        "per_model": {m: _side_totals(v) for m, v in sorted(per_model.items())},
        "overall": _side_totals([pair for v in per_model.values() for pair in v]),
    }
