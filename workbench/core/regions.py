"""Defect regions as small JSON records: a bounding box and the run lengths of the mask inside it.

MVTec LOCO and AutoVI give one ground-truth image per defect (a region may be disconnected, regions may
overlap), which one binary mask per sample cannot hold; each region is kept in the sample's metadata
instead. ``encode_region`` / ``decode_region`` round-trip exactly.
"""

from __future__ import annotations

import numpy as np


def encode_region(mask: np.ndarray) -> dict:
    """{"bbox": [y0, x0, y1, x1], "runs": [...]} of a (H, W) mask (non-zero = region), exclusive ends.

    ``runs`` alternate lengths of outside / inside pixels in row-major order over the box, starting with
    an outside run (possibly 0). An empty mask gives an empty box.
    """
    m = np.asarray(mask) > 0
    if m.ndim != 2:
        raise ValueError(f"region: expected a (H, W) mask, found shape {m.shape}")
    ys, xs = np.nonzero(m)
    if ys.size == 0:
        return {"bbox": [0, 0, 0, 0], "runs": []}
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    flat = m[y0:y1, x0:x1].ravel()
    change = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    bounds = np.r_[0, change, flat.size]
    runs = np.diff(bounds).tolist()
    if flat[0]:
        runs = [0, *runs]
    return {"bbox": [y0, x0, y1, x1], "runs": [int(r) for r in runs]}


def decode_region(record: dict, shape: tuple[int, int]) -> np.ndarray:
    """The (H, W) bool mask of an :func:`encode_region` record; ValueError if it does not fit ``shape``."""
    y0, x0, y1, x1 = (int(v) for v in record["bbox"])
    runs = np.asarray(record["runs"], dtype=np.int64)
    out = np.zeros(shape, bool)
    if y1 <= y0 or x1 <= x0:
        return out
    if y0 < 0 or x0 < 0 or y1 > shape[0] or x1 > shape[1]:
        raise ValueError(f"region: box {record['bbox']} does not fit an image of {shape[1]}x{shape[0]} px")
    h, w = y1 - y0, x1 - x0
    if (runs < 0).any() or int(runs.sum()) != h * w:
        raise ValueError(f"region: run lengths add up to {int(runs.sum())}, expected {h * w} for its box")
    values = np.arange(runs.size) % 2 == 1
    out[y0:y1, x0:x1] = np.repeat(values, runs).reshape(h, w)
    return out
