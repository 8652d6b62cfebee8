"""Pixel-level metrics over every pixel inside the ROI: AUROC, AP, F1-max, IoU at the IoU-maximizing threshold.

Arguments in scikit-learn's order: ``y_true`` are the GT masks (N, H, W) bool or uint8 (non-zero =
defect), or a list of (H, W) masks of different sizes; ``y_score`` the anomaly maps of the same shapes,
float; ``roi`` is None (all pixels count), one (H, W) mask for every map, or one mask per map. Pixels outside the ROI are left out of every count.
Errors: ValueError on NaN in a map or on shapes that disagree (naming the map's index);
:class:`UndefinedMetricError` when the ROI holds no defect pixel (or, for AUROC, no normal pixel).
"""

from __future__ import annotations

from workbench.metrics._inputs import MapsLike
from workbench.metrics.curves import (
    OperatingPoint,
    auroc_sorted,
    average_precision_sorted,
    best_ratio_sorted,
)
from workbench.metrics.recount import Counts, PixelRecount

_UNIT = "pixels inside the ROI"


def pixel_auroc(y_true: MapsLike, y_score: MapsLike, roi=None) -> float:
    """Return the AUROC of all ROI pixels of the maps ``y_score`` against the masks ``y_true``."""
    return auroc_sorted(PixelRecount(y_true, y_score, roi), _UNIT)


def pixel_average_precision(y_true: MapsLike, y_score: MapsLike, roi=None) -> float:
    """Return the average precision (AU-PR) of all ROI pixels of the maps against the masks."""
    return average_precision_sorted(PixelRecount(y_true, y_score, roi), _UNIT)


def iou_max(y_true: MapsLike, y_score: MapsLike, roi=None) -> OperatingPoint:
    """Return the pixel IoU TP/(TP+FP+FN) at the IoU-maximizing threshold, and that threshold (seed 000).

    The counts are pooled over all ROI pixels of all maps; ties go to the highest threshold.
    """
    return best_ratio_sorted(PixelRecount(y_true, y_score, roi), "iou", _UNIT)


def pixel_f1_max(y_true: MapsLike, y_score: MapsLike, roi=None) -> OperatingPoint:
    """Return the best pixel F1 over all thresholds and its threshold."""
    return best_ratio_sorted(PixelRecount(y_true, y_score, roi), "f1", _UNIT)


def pixel_confusion_at(y_true: MapsLike, y_score: MapsLike, threshold: float, roi=None) -> Counts:
    """Return pixel TP/FP/TN/FN inside the ROI with ``map >= threshold`` flagged defective."""
    return PixelRecount(y_true, y_score, roi).counts(threshold)
