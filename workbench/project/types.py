"""Plain records the project file stores: sources, views, samples, runs, results (no h5py here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

SPLITS = ("train", "val", "test", "unassigned")
LABELS = ("good", "defective", "unknown")


@dataclass
class SourceInfo:
    """Where images came from: kind is 'video', 'folder', 'mvtec', 'camera' or 'synthetic'."""

    id: str
    kind: str
    uri: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class CropWindow:
    """The sample window, in frame pixels, relative to the top-left corner of the template match."""

    x: int
    y: int
    w: int
    h: int


@dataclass
class ViewInfo:
    """A named region of the part: template, match threshold, crop window, ROI mask and zones.

    ``roi`` and ``zones`` are in sample (crop window) coordinates, so they follow the alignment:
    ``roi`` is (crop.h, crop.w) uint8 0/255 before dilation; ``zones`` is (crop.h, crop.w) uint8
    with 0 = no zone and k = ``zone_names[k - 1]``.
    """

    name: str
    template: np.ndarray
    crop: CropWindow
    match_threshold: float = 0.6
    roi: np.ndarray | None = None
    roi_margin: int = 0
    zones: np.ndarray | None = None
    zone_names: list[str] = field(default_factory=list)
    template_origin: tuple[int, int, int] | None = None  # (source frame, x, y) the template was cut at
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class SampleInfo:
    """Metadata of one sample (the crop of one pass for one view); the image itself loads lazily."""

    id: int
    source: str
    pass_index: int
    view: str
    frame: int
    x: int
    y: int
    split: str = "unassigned"
    label: str = "unknown"
    synthetic: bool = False
    has_mask: bool = False
    match_score: float = float("nan")
    height: int = 0
    width: int = 0
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunInfo:
    """One trained model: name, parameters, view, timings; weights load lazily as numpy arrays."""

    id: str
    model: str
    view: str
    params: dict[str, Any]
    created: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class ResultInfo:
    """A run's image scores and anomaly maps on a set of samples."""

    id: str
    run: str
    sample_ids: list[int]
    created: str
    meta: dict[str, Any] = field(default_factory=dict)
