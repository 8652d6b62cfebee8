"""Write a station bundle from fitted models: ONNX per view, templates and masks, a parity check against
torch, and the manifest; all in a temporary folder renamed into place only when everything succeeded.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import platform
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench import __version__
from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress, sub_progress
from workbench.core.view_roi import effective_roi_or_all
from workbench.core.working import resize_mask, to_rgb8, to_working
from workbench.export.parity import TOLERANCE, ParityError, check_parity, describe_failure
from workbench.line.bundle import (
    FORMAT,
    FORMAT_VERSION,
    PARITY,
    check_target,
    finish_manifest,
    move_into_place,
    slug,
    temp_dir_for,
    write_png,
)
from workbench.line.runtime import ViewRuntime, open_session
from workbench.metrics.policy import ThresholdPolicy
from workbench.models.onnx import INPUT_NAME, OPSET, OUTPUT_NAMES, export_module, export_onnx
from workbench.project.types import ViewInfo

log = logging.getLogger(__name__)


@dataclass
class ViewExport:
    """What one view contributes: its definition, the fitted model, its run record, the threshold policy
    made for that run (and where it came from) and parity crops."""

    view: ViewInfo
    model: Any
    run: dict[str, Any]
    policy: ThresholdPolicy
    policy_note: str = ""
    images: list[np.ndarray] = field(default_factory=list)  # (H, W, 3) uint8 crops for the parity check
    sample_ids: list[int] = field(default_factory=list)
    split_note: str = ""


@dataclass
class BundleResult:
    """Where the bundle went, its manifest and parity report."""

    path: str
    manifest: dict[str, Any]
    parity: dict[str, Any]


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime

    return {
        "workbench": __version__,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "python": platform.python_version(),
        "opset": str(OPSET),
    }


def write_bundle(
    out: str | Path,
    items: list[ViewExport],
    *,
    station: dict[str, Any] | None = None,
    pass_rule: dict[str, Any] | None = None,
    fusion: dict[str, Any] | None = None,
    tolerance: float = TOLERANCE,
    strict: bool = True,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> BundleResult:
    """Export every view's model to ``out`` (a folder) and check parity; returns paths and reports.

    With ``strict`` a parity failure raises :class:`ParityError` and leaves ``out`` untouched (the
    report is written beside it as ``<out>.parity-failed.json``); otherwise the bundle is written
    with ``parity.passed = false`` in its manifest.
    """
    if not items:
        raise ValueError("export: expected at least one view with a trained run; found none")
    out = Path(out)
    check_target(out)
    tmp = temp_dir_for(out)
    try:
        taken: set[str] = set()
        entries, parity_views = [], []
        n = len(items)
        for i, it in enumerate(items):
            cancel.raise_if_cancelled()
            v, model = it.view, it.model
            name = slug(v.name, taken)
            crop_hw = (int(v.crop.h), int(v.crop.w))
            work = model.working_size()
            mode = model.resize_mode
            progress(0.7 * i / n, f"exporting view {v.name} ({model.name})")
            module = export_module(model)
            example_img = to_rgb8(it.images[0]) if it.images else np.zeros((*crop_hw, 3), np.uint8)
            example = torch.from_numpy(np.ascontiguousarray(to_working(example_img, work, mode)))[None]
            graph = f"models/{name}.onnx"
            (tmp / "models").mkdir(exist_ok=True)
            done = export_onnx(module, example, tmp / graph, f"view {v.name}")
            cancel.raise_if_cancelled()
            roi = model_roi(model, v, crop_hw)
            write_png(tmp / f"templates/{name}.png", _rgb(v.template))
            write_png(tmp / f"views/{name}_roi.png", roi)
            zones_file = None
            if v.zones is not None:
                zones_file = f"views/{name}_zones.png"
                write_png(tmp / zones_file, v.zones.astype(np.uint8))
            entries.append(
                {
                    "name": v.name,
                    "template": f"templates/{name}.png",
                    "match_threshold": float(v.match_threshold),
                    "crop": {"x": v.crop.x, "y": v.crop.y, "w": v.crop.w, "h": v.crop.h},
                    "roi": f"views/{name}_roi.png",
                    "roi_margin": int(v.roi_margin),
                    "zones": zones_file,
                    "zone_names": list(v.zone_names),
                    "graph": graph,
                    "exporter": done.exporter,
                    "fallback_reason": done.fallback_reason,
                    "input": {
                        "name": INPUT_NAME,
                        "shape": [1, *work, 3],
                        "dtype": "uint8",
                        "layout": "NHWC",
                        "color": "RGB",
                    },
                    "outputs": {OUTPUT_NAMES[0]: [1], OUTPUT_NAMES[1]: [1, *work]},
                    "working_size": list(work),
                    "resize": mode,
                    "model": model.name,
                    "params": model.get_params(),
                    "run": it.run,
                    "policy": it.policy.to_dict(),
                    "policy_note": it.policy_note,
                }
            )
            session = open_session(tmp / graph, device="cpu")
            runtime = ViewRuntime(v.name, session, crop_hw, work, mode, INPUT_NAME, roi)
            parity_views.append(
                {
                    "name": v.name, "model": model, "runtime": runtime, "images": it.images,
                    "sample_ids": it.sample_ids, "policy": it.policy, "roi": roi, "zones": v.zones,
                    "zone_names": list(v.zone_names), "exporter": done.exporter,
                    "fallback_reason": done.fallback_reason, "split_note": it.split_note,
                }
            )  # fmt: skip
        report = check_parity(
            parity_views,
            tolerance=tolerance,
            progress=sub_progress(progress, 0.7, 0.97),
            cancel=cancel,
        )
        (tmp / PARITY).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        if strict and not report["passed"]:
            failed = out.parent / f"{out.name}.parity-failed.json"
            shutil.copyfile(tmp / PARITY, failed)
            raise ParityError(
                f"the exported graphs disagree with torch: {describe_failure(report)} (report: {failed})"
            )
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "software": _versions(),
            "station": station or {},
            "pass_rule": pass_rule or {},
            "fusion": fusion or {"rule": "any", "missing": "ng"},
            "parity": {"file": PARITY, "passed": report["passed"], "tolerance": tolerance},
            "views": entries,
        }
        manifest = finish_manifest(tmp, manifest)
        cancel.raise_if_cancelled()
        move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    progress(1.0, f"bundle written to {out}")
    return BundleResult(str(out), manifest, report)


def model_roi(model: Any, view: ViewInfo, crop_hw: tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 0/255 at the crop size: the ROI the model's maps honour, which the line applies too.

    It is the view's effective ROI when the model was trained on the view as it is; a view whose ROI
    changed since training keeps the model's (its maps are 0 outside it), with a warning.
    """
    fitted = model.fitted_roi
    if fitted is None:
        return effective_roi_or_all(view, crop_hw)
    roi = resize_mask(fitted, crop_hw).astype(np.uint8) * 255
    current = effective_roi_or_all(view, crop_hw)
    if not np.array_equal(roi > 0, current > 0):
        log.warning(
            "view %s: its ROI changed since %s was trained; the bundle keeps the ROI the model was trained "
            "with (retrain to use the new one)", view.name, model.name,
        )  # fmt: skip
    return roi


def _rgb(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2)
    return img
