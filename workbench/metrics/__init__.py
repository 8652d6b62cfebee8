"""Metrics, threshold policies and statistics on stored scores and maps (numpy, scipy, OpenCV; no Qt/torch).

Everything a report or the threshold pane needs, importable flat: ``from workbench.metrics import auroc``.
Convention everywhere: 1 / True = defective, and a value >= the threshold is flagged defective.
"""

from workbench.metrics._inputs import UndefinedMetricError
from workbench.metrics.curves import (
    OperatingPoint,
    auroc,
    average_precision,
    confusion_at,
    f1_max,
    fp_share,
    precision_recall_f1,
    rates_at_tnr,
    recall_at_precision,
    threshold_at_fpr,
    threshold_at_tnr,
)
from workbench.metrics.pixel import (
    iou_max,
    pixel_auroc,
    pixel_average_precision,
    pixel_confusion_at,
    pixel_f1_max,
)
from workbench.metrics.policy import ThresholdPolicy, apply_policy, fit_policy
from workbench.metrics.pro import aupro, auspro, component_regions, pro_curve
from workbench.metrics.recount import (
    Counts,
    PixelRecount,
    Recount,
    ScoreRecount,
    ZoneRecount,
    verdict_changes,
)
from workbench.metrics.size import area_ratios, size_aware_misses, size_tertiles

# stats and intervals need scipy, which the line runtime (workbench.line imports the policy) must not:
# they load on first use.
_LAZY = {
    "Comparison": "workbench.metrics.stats",
    "MeanStd": "workbench.metrics.stats",
    "best_models": "workbench.metrics.stats",
    "knee_point": "workbench.metrics.stats",
    "mean_std": "workbench.metrics.stats",
    "paired_t": "workbench.metrics.stats",
    "paired_tests": "workbench.metrics.stats",
    "pareto_front": "workbench.metrics.stats",
    "welch_t": "workbench.metrics.stats",
    "welch_tests": "workbench.metrics.stats",
    "paired_tests_by_seed": "workbench.metrics.stats",
    "auroc_chance_p": "workbench.metrics.stats",
    "INTERVAL_METHOD": "workbench.metrics.intervals",
    "MIN_EXPORT_NORMALS": "workbench.metrics.intervals",
    "SMALL_VALIDATION_NORMALS": "workbench.metrics.intervals",
    "Rate": "workbench.metrics.intervals",
    "confusion_rates": "workbench.metrics.intervals",
    "interval_text": "workbench.metrics.intervals",
    "format_rate": "workbench.metrics.intervals",
    "is_small_validation": "workbench.metrics.intervals",
    "proportion_interval": "workbench.metrics.intervals",
    "rate": "workbench.metrics.intervals",
    "small_validation_text": "workbench.metrics.intervals",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'workbench.metrics' has no attribute {name!r}")


__all__ = [
    "auroc_chance_p",
    "paired_tests_by_seed",
    "INTERVAL_METHOD",
    "MIN_EXPORT_NORMALS",
    "SMALL_VALIDATION_NORMALS",
    "Rate",
    "confusion_rates",
    "interval_text",
    "format_rate",
    "is_small_validation",
    "proportion_interval",
    "rate",
    "small_validation_text",
    "Comparison",
    "Counts",
    "MeanStd",
    "OperatingPoint",
    "PixelRecount",
    "Recount",
    "ScoreRecount",
    "ThresholdPolicy",
    "UndefinedMetricError",
    "ZoneRecount",
    "apply_policy",
    "area_ratios",
    "aupro",
    "auroc",
    "auspro",
    "component_regions",
    "average_precision",
    "best_models",
    "confusion_at",
    "f1_max",
    "fit_policy",
    "fp_share",
    "iou_max",
    "knee_point",
    "mean_std",
    "paired_t",
    "paired_tests",
    "pareto_front",
    "pixel_auroc",
    "pixel_average_precision",
    "pixel_confusion_at",
    "pixel_f1_max",
    "precision_recall_f1",
    "pro_curve",
    "rates_at_tnr",
    "recall_at_precision",
    "size_aware_misses",
    "size_tertiles",
    "threshold_at_fpr",
    "threshold_at_tnr",
    "verdict_changes",
    "welch_t",
    "welch_tests",
]
