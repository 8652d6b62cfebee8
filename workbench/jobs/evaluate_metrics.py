"""Every image and pixel metric of one run on one split, each a number or an explained "n/a".

Operating points (seed 000's tables report precision, recall and F1 at one threshold per run): image
precision, recall and FP share are taken at the image F1-max threshold, pixel ones at the pixel
IoU-max threshold, both found on the evaluated split itself. FPR/FNR come at thresholds set on normal
validation images (training images when validation has none) at a TNR (seed 003); recall at a
precision uses the threshold chosen on the validation split and applied to the test split (seed 002).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.core.regions import decode_region
from workbench.jobs.evaluate_data import SplitData, defect_type
from workbench.metrics import (
    UndefinedMetricError,
    aupro,
    auroc,
    auroc_chance_p,
    auspro,
    average_precision,
    component_regions,
    confusion_at,
    confusion_rates,
    f1_max,
    fp_share,
    iou_max,
    is_small_validation,
    pixel_auroc,
    pixel_average_precision,
    rate,
    rates_at_tnr,
    recall_at_precision,
    size_aware_misses,
    size_tertiles,
    small_validation_text,
)

TNRS = (0.99, 0.95, 0.90)
PRECISIONS = (0.996, 0.95, 0.9)
AUPRO_FPR = 0.3
AUSPRO_FPR = 0.05


@dataclass(frozen=True)
class NA:
    """A metric without a value, and why (printed "n/a" with the reason; JSON {"na": reason})."""

    reason: str

    def __str__(self) -> str:
        return f"n/a ({self.reason})"


Value = float | NA


def attempt(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """fn(...) or NA(reason) when the metric is undefined on this data."""
    try:
        return fn(*args, **kwargs)
    except UndefinedMetricError as exc:
        return NA(str(exc))


def nan_reason(data: SplitData, maps: bool = False) -> str | None:
    """Why the run's scores (or maps) cannot be evaluated: NaN values, naming the samples."""
    if maps:
        bad = [s.id for s, m in zip(data.samples, data.maps or []) if np.isnan(m).any()]
        what = "anomaly maps"
    else:
        bad = [s.id for s, v in zip(data.samples, data.scores) if np.isnan(v)]
        what = "scores"
    if not bad:
        return None
    return (
        f"run {data.run.id} produced NaN {what} for {len(bad)} of {len(data.samples)} {data.split} samples "
        f"(ids {', '.join(map(str, bad[:5]))}{', ...' if len(bad) > 5 else ''})"
    )


def counts_of(data: SplitData) -> dict[str, int]:
    """How many normal, defective, synthetic and GT-masked samples the split holds."""
    return {
        "normal": int((~data.labels).sum()),
        "defective": int(data.labels.sum()),
        "synthetic": int((data.labels & data.synthetic).sum()),
        "with_gt_mask": int(data.has_gt.sum()),
    }


def image_metrics(data: SplitData) -> dict[str, Any]:
    """Image AUROC, AP, F1-max (threshold) with precision and recall there, and the image FP share."""
    reason = nan_reason(data)
    keys = ("image_auroc", "image_ap", "image_f1", "image_f1_threshold", "image_precision", "image_recall")
    if reason:
        return {k: NA(reason) for k in (*keys, "image_fp_share")}
    s, y = data.scores, data.labels
    out: dict[str, Any] = {"image_auroc": attempt(auroc, y, s), "image_ap": attempt(average_precision, y, s)}
    # one-sided Mann-Whitney p that the AUROC is above chance: the knee only ranks such runs
    a = out["image_auroc"]
    out["image_auroc_p"] = a if isinstance(a, NA) else auroc_chance_p(y, s)
    op = attempt(f1_max, y, s)
    if isinstance(op, NA):
        out.update({k: op for k in keys[2:]})
        out["image_fp_share"] = op
        return out
    out.update(
        image_f1=op.value,
        image_f1_threshold=op.threshold,
        image_precision=op.counts.precision,
        image_recall=op.counts.recall,
        image_fp_share=attempt(fp_share, op.counts.fp, op.counts.fn),
        image_counts=op.counts.as_dict(),
    )
    return out


def pixel_data(data: SplitData) -> tuple[SplitData, int]:
    """The samples whose pixels count (normals and defectives with a GT mask) and how many were left out."""
    keep = ~data.labels | data.has_gt
    return data.subset(keep), int((~keep).sum())


def saturation_regions(data: SplitData) -> list[list[tuple[np.ndarray, float]] | None]:
    """Each sample's AUsPRO regions with their saturation (pixels), or None for plain components.

    An imported MVTec LOCO / AutoVI sample keeps one region per ground-truth file (``gt_regions``);
    another defective sample's connected components take its defect type's saturation from the
    project's ``defects_config`` (by ``defect_name``); without an entry a region saturates at its whole
    area (PRO).
    """
    by_name = {str(d["defect_name"]): d for d in data.defects_config or [] if "defect_name" in d}
    out: list[list[tuple[np.ndarray, float]] | None] = []
    for s, m, bad in zip(data.samples, data.masks, data.labels):
        regions = (s.meta or {}).get("gt_regions")
        if not bad or not m.any():
            out.append(None)
        elif isinstance(regions, list) and regions:
            out.append([(decode_region(r, m.shape), float(r["saturation"])) for r in regions])
        elif defect_type(s) in by_name:
            d = by_name[defect_type(s)]
            out.append(component_regions(m, float(d["saturation_threshold"]), bool(d["relative_saturation"])))
        else:
            out.append(None)
    return out


def pixel_metrics(data: SplitData) -> dict[str, Any]:
    """Pixel AUROC, AP, AUPRO (FPR 0.3), AUsPRO (FPR 0.05), IoU-max, and pixel P/R/F1/FP share there."""
    keys = (
        "pixel_auroc",
        "pixel_ap",
        "aupro",
        "auspro",
        "iou",
        "iou_threshold",
        "pixel_precision",
        "pixel_recall",
        "pixel_f1",
        "pixel_fp_share",
    )
    if data.maps is None:
        return {k: NA("no anomaly maps were stored for this run") for k in keys}
    pd, left_out = pixel_data(data)
    reason = nan_reason(pd, maps=True)
    if reason is None and not pd.has_gt.any():
        reason = f"no defective {data.split} sample has a GT mask"
        if left_out:
            reason += f" ({left_out} defective without a mask)"
    if reason:
        return {k: NA(reason) for k in keys}
    maps, masks, roi = pd.maps, pd.masks, pd.roi
    out: dict[str, Any] = {
        "pixel_auroc": attempt(pixel_auroc, masks, maps, roi),
        "pixel_ap": attempt(pixel_average_precision, masks, maps, roi),
        "aupro": attempt(aupro, masks, maps, AUPRO_FPR, roi),
        "auspro": attempt(
            auspro, masks, maps, 1.0, AUSPRO_FPR, roi, fpr_on_good_only=True, regions=saturation_regions(pd)
        ),
    }
    op = attempt(iou_max, masks, maps, roi)
    if isinstance(op, NA):
        out.update({k: op for k in keys[4:]})
        return out
    c = op.counts
    out.update(
        iou=op.value,
        iou_threshold=op.threshold,
        pixel_precision=c.precision,
        pixel_recall=c.recall,
        pixel_f1=c.f1,
        pixel_fp_share=attempt(fp_share, c.fp, c.fn),
    )
    if left_out:
        out["pixel_note"] = f"{left_out} defective sample(s) without a GT mask left out of pixel metrics"
    return out


def rates_from_normals(
    test: SplitData, normal_scores: np.ndarray | None, source: str, available: int | None = None
) -> list | NA:
    """FPR/FNR on ``test`` at thresholds set on normal scores at TNR 0.99/0.95/0.90 (seed 003);
    ``available``: how many normals the split holds when the scores are of a spread subset of them."""
    if normal_scores is None or normal_scores.size == 0:
        return NA("no normal validation or training sample to set the thresholds from")
    if np.isnan(normal_scores).any():
        return NA(f"NaN scores on the {source} normals")
    reason = nan_reason(test)
    if reason:
        return NA(reason)
    rates = attempt(rates_at_tnr, test.labels, test.scores, normal_scores, TNRS)
    if isinstance(rates, NA):
        return rates
    n = int(normal_scores.size)
    flag = small_validation_text(n)
    return [
        {**r, "threshold_from": source, "n_normals": n, "n_normals_available": int(available or n),
         "small_validation": bool(flag),
         "small_validation_text": flag, "intervals": _intervals(r, ("fpr", "fnr"))}
        for r in rates
    ]  # fmt: skip


def _intervals(c: dict, keys: tuple[str, ...]) -> dict[str, dict]:
    """{rate: Rate.to_dict()} of the given rates of a counts dict with tp, fp, tn, fn."""
    rates = confusion_rates(c["tp"], c["fp"], c["tn"], c["fn"])
    return {k: rates[k].to_dict() for k in keys}


def recall_at_precisions(val: SplitData | None, test: SplitData) -> list | NA:
    """Test recall and precision at thresholds chosen on validation for precision 0.996/0.95/0.9 (seed 002)."""
    if val is None:
        return NA("no validation split to choose the thresholds on")
    reason = nan_reason(val) or nan_reason(test)
    if reason:
        return NA(reason)
    if not val.labels.any():
        return NA(
            f"no defective validation sample among {len(val.samples)} (thresholds are chosen on validation)"
        )
    if not test.labels.any():
        return NA(f"no defective test sample among {len(test.samples)}")
    out = []
    for p in PRECISIONS:
        op = recall_at_precision(val.labels, val.scores, p)
        c = confusion_at(test.labels, test.scores, op.threshold)
        out.append(
            {
                "min_precision": p,
                "threshold": op.threshold,
                "val_recall": op.value,
                "recall": c.recall,
                "precision": c.precision if c.tp + c.fp else NA("nothing flagged on test"),
                **c.as_dict(),
                "intervals": _intervals(c.as_dict(), ("recall", "precision")),
                "n_normals": int((~val.labels).sum()),
                "small_validation": is_small_validation(int((~val.labels).sum())),
            }
        )
    return out


def size_misses(data: SplitData, threshold: Value) -> dict | NA:
    """Missed defectives per defect-area tertile of the view (seed 000), verdicts at ``threshold``."""
    if isinstance(threshold, NA):
        return threshold
    keep = data.has_gt
    if not keep.any():
        return NA(f"no defective {data.split} sample has a GT mask to measure its size")
    d = data.subset(keep)
    views = [data.run.view] * len(d.samples)
    edges = size_tertiles(d.masks, views)
    detected = d.scores >= threshold
    out = size_aware_misses(d.masks, detected, views, edges)
    b1, b2 = edges[data.run.view]
    bins = {
        k: {**v, "miss_rate_interval": rate(v["missed"], v["total"]).to_dict()}
        for k, v in out[data.run.view].items()
    }
    return {"edges": [b1, b2], "bins": bins, "threshold": float(threshold)}


def compact_metrics(data: SplitData) -> dict[str, Any]:
    """The headline metrics alone (seed 000 reports validation values in parentheses)."""
    img = image_metrics(data)
    pix = pixel_metrics(data)
    keys_i = ("image_auroc", "image_ap", "image_f1", "image_precision", "image_recall")
    keys_p = ("pixel_auroc", "pixel_ap", "aupro", "iou", "pixel_precision", "pixel_recall", "pixel_f1")
    return {**{k: img[k] for k in keys_i}, **{k: pix[k] for k in keys_p}}
