"""Parity of an exported bundle: onnxruntime maps and scores against the model's own torch ``predict`` on the
same crops, and the verdicts both give under the threshold policy; a JSON report the GUI can show.

Passing means, per view, max |map_onnx - map_torch| < ``tolerance`` x (torch map range) and every
verdict identical. The onnxruntime side goes through :class:`workbench.line.runtime.ViewRuntime`,
the very path the line uses (resize to the working size included).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.metrics.policy import ThresholdPolicy, apply_policy

TOLERANCE = 1e-3


class ParityError(RuntimeError):
    """The exported graphs disagree with torch beyond the tolerance, or give other verdicts."""


def _verdicts(policy, view, scores, maps, roi, zones, names) -> np.ndarray:
    zone_arg = {view: (zones, list(names))} if zones is not None and policy.level == "pixel" else None
    return apply_policy(policy, scores, [view] * len(scores), maps=maps, zones=zone_arg, roi={view: roi})


def view_parity(
    view: str,
    model: Any,
    runtime: Any,
    images: list[np.ndarray],
    sample_ids: list[int],
    policy: ThresholdPolicy,
    roi: np.ndarray,
    zones: np.ndarray | None,
    zone_names: list[str],
    tolerance: float = TOLERANCE,
    cancel: CancelToken = NEVER_CANCEL,
) -> dict[str, Any]:
    """Parity figures of one view on ``images`` (crops): differences, verdicts, timings, providers."""
    if not images:
        return {"samples": 0, "passed": True, "note": "no samples to compare"}
    t0 = time.perf_counter()
    s_torch, m_torch = model.predict(images, cancel=cancel)
    t_torch = time.perf_counter() - t0
    s_onnx, m_onnx = [], []
    t0 = time.perf_counter()
    for img in images:
        cancel.raise_if_cancelled()
        s, m = runtime.infer(img)
        s_onnx.append(s)
        m_onnx.append(m)
    t_onnx = time.perf_counter() - t0
    m_torch = np.asarray(m_torch, np.float32)
    m_onnx = np.stack(m_onnx).astype(np.float32)
    s_torch, s_onnx = np.asarray(s_torch, np.float64), np.asarray(s_onnx, np.float64)
    span = float(m_torch.max() - m_torch.min())
    diff = float(np.abs(m_onnx - m_torch).max())
    relative = diff / span if span > 0 else diff
    v_torch = _verdicts(policy, view, s_torch, list(m_torch), roi, zones, zone_names)
    v_onnx = _verdicts(policy, view, s_onnx, list(m_onnx), roi, zones, zone_names)
    differ = np.flatnonzero(v_torch != v_onnx)
    ties = []
    # a score on the threshold itself (within the tolerance) has no stable verdict
    if policy.level == "image":
        thr, band = policy.threshold_for(view), tolerance * span
        ties = [i for i in differ if abs(s_torch[i] - thr) <= band and abs(s_onnx[i] - thr) <= band]
    mismatch = [int(sample_ids[i]) for i in differ if i not in ties]
    return {
        "samples": len(images),
        "max_abs_diff": diff,
        "map_range": span,
        "relative_diff": relative,
        "max_score_diff": float(np.abs(s_onnx - s_torch).max()),
        "verdicts_identical": int(len(images) - len(mismatch)),
        "verdict_mismatches": mismatch,
        "verdict_ties_at_threshold": [int(sample_ids[i]) for i in ties],
        "ng_torch": int(v_torch.sum()),
        "ng_onnx": int(v_onnx.sum()),
        "ms_per_image_torch": 1000.0 * t_torch / len(images),
        "ms_per_image_onnx": 1000.0 * t_onnx / len(images),
        "providers": runtime.providers,
        "passed": bool(relative < tolerance and not mismatch),
    }


def check_parity(
    views: list[dict[str, Any]],
    split: str = "test",
    tolerance: float = TOLERANCE,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> dict[str, Any]:
    """The parity report of all views. ``views``: dicts with name, model, runtime, images, sample_ids, policy
    (the view's ThresholdPolicy), roi, zones, zone_names (and optional exporter/fallback_reason, copied
    into the report)."""
    report: dict[str, Any] = {"tolerance": tolerance, "split": split, "views": {}}
    for i, v in enumerate(views):
        cancel.raise_if_cancelled()
        progress(i / max(1, len(views)), f"parity of view {v['name']} ({len(v['images'])} samples)")
        entry = view_parity(
            v["name"], v["model"], v["runtime"], v["images"], v["sample_ids"], v["policy"],
            v["roi"], v.get("zones"), v.get("zone_names", []), tolerance, cancel,
        )  # fmt: skip
        entry["policy_level"] = v["policy"].level
        entry["exporter"] = v.get("exporter", "")
        if v.get("fallback_reason"):
            entry["fallback_reason"] = v["fallback_reason"]
        if v.get("split_note"):
            entry["note"] = v["split_note"]
        report["views"][v["name"]] = entry
    report["passed"] = all(e["passed"] for e in report["views"].values())
    progress(1.0, "parity " + ("passed" if report["passed"] else "FAILED"))
    return report


def describe_failure(report: dict[str, Any]) -> str:
    """One sentence per failing view: how far the maps differ and which samples change verdict."""
    parts = []
    for name, e in report["views"].items():
        if e.get("passed", True):
            continue
        parts.append(
            f"view {name!r}: max map difference {e['max_abs_diff']:.3g} = {e['relative_diff']:.3g} of the map range "
            f"(limit {report['tolerance']:g}); verdicts differ on samples {e['verdict_mismatches'] or 'none'}"
        )
    return "; ".join(parts)
