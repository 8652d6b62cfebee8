"""Heatmaps as pictures: the inferno colour map, maps in units of their threshold, outlines of masks."""

from __future__ import annotations

import numpy as np

from workbench.gui.imaging import outline

UNIT_RANGE = (0.5, 2.0)  # threshold units shown from dark to bright: the threshold (1.0) sits in between


def inferno() -> np.ndarray:
    """(256, 3) uint8 lookup table of the inferno colour map."""
    from workbench.gui.pg import pyqtgraph as pg

    return np.asarray(pg.colormap.get("inferno").getLookupTable(nPts=256)[:, :3], np.uint8)


def fit_to(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``a`` resampled (nearest) to ``shape`` (H, W) when its size differs."""
    if a.shape[:2] == tuple(shape):
        return a
    ys = (np.arange(shape[0]) * a.shape[0] / shape[0]).astype(int)
    xs = (np.arange(shape[1]) * a.shape[1] / shape[1]).astype(int)
    return a[ys][:, xs]


def heat_overlay(
    rgb: np.ndarray, amap: np.ndarray, threshold: float | None, alpha: float = 0.55
) -> np.ndarray:
    """(H, W, 3) uint8: ``rgb`` under the map coloured in threshold units (UNIT_RANGE), with a white ring
    where the map reaches the threshold; without a threshold the map's own 1st-99th percentiles."""
    rgb = np.asarray(rgb)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    m = fit_to(np.asarray(amap, np.float32), rgb.shape[:2])
    if threshold:
        lo, hi = UNIT_RANGE
        units = m / float(threshold)
    else:
        finite = m[np.isfinite(m)]
        lo, hi = np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0)
        units = m
    t = np.clip((units - lo) / ((hi - lo) or 1.0), 0.0, 1.0)
    colors = inferno()[np.nan_to_num(t * 255).astype(np.uint8)]
    out = (rgb.astype(np.float32) * (1 - alpha) + colors.astype(np.float32) * alpha).astype(np.uint8)
    if threshold:
        out[outline(units >= 1.0)] = (255, 255, 255)
    return out
