"""Checked inputs for every metric: flat scores and labels, and pixels gathered from maps inside an ROI."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class UndefinedMetricError(ValueError):
    """A metric has no value on this data (e.g. AUROC with no defective sample).

    A ``ValueError`` subclass, so callers that build tables can catch exactly this and print "n/a".
    """


MapsLike = np.ndarray | Sequence[np.ndarray]


def check_scores(scores, what: str = "scores") -> np.ndarray:
    """Return ``scores`` as a 1-D float array; raise ValueError on a wrong shape or a NaN."""
    arr = np.asarray(scores)
    if arr.ndim != 1:
        raise ValueError(f"{what}: expected a 1-D array of scores, found shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{what}: expected real numbers, found dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        nan = np.isnan(arr)
        if nan.any():
            first = int(np.flatnonzero(nan)[0])
            raise ValueError(f"{what}: expected no NaN, found {int(nan.sum())} NaN (first at index {first})")
    else:
        arr = arr.astype(np.float64)
    return arr


def check_labels(labels, n: int, what: str = "labels") -> np.ndarray:
    """Return ``labels`` as a 1-D bool array of length ``n`` (1/True = defective); values must be 0/1."""
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{what}: expected shape ({n},) to match the scores, found {arr.shape}")
    if arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            bad = np.unique(arr[~np.isin(arr, (0, 1))])[:5]
            raise ValueError(f"{what}: expected 0/1 or bool, found values {bad.tolist()}")
        arr = arr.astype(bool)
    return arr


def check_scores_labels(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """Return (scores (N,) float, labels (N,) bool), checked for shape, NaN and label values."""
    s = check_scores(scores)
    return s, check_labels(labels, s.shape[0])


def as_map_list(maps: MapsLike, what: str = "maps") -> list[np.ndarray]:
    """Return maps as a list of 2-D arrays: an (N, H, W) array or a list of (H, W) arrays of any sizes."""
    if isinstance(maps, np.ndarray):
        if maps.ndim == 2:
            raise ValueError(f"{what}: expected (N, H, W) or a list of (H, W) arrays, found one (H, W) array")
        if maps.ndim != 3:
            raise ValueError(f"{what}: expected (N, H, W), found shape {maps.shape}")
        return list(maps)
    out = [np.asarray(m) for m in maps]
    for i, m in enumerate(out):
        if m.ndim != 2:
            raise ValueError(f"{what}[{i}]: expected a 2-D (H, W) array, found shape {m.shape}")
    return out


def _roi_list(roi, shapes: list[tuple[int, int]]) -> list[np.ndarray | None]:
    if roi is None:
        return [None] * len(shapes)
    if isinstance(roi, np.ndarray) and roi.ndim == 2:
        rois = [roi] * len(shapes)
    else:
        rois = as_map_list(roi, "roi")
        if len(rois) != len(shapes):
            raise ValueError(f"roi: expected one ROI per map ({len(shapes)}), found {len(rois)}")
    out = []
    for i, (r, shape) in enumerate(zip(rois, shapes)):
        if r.shape != shape:
            raise ValueError(f"roi for map {i}: expected shape {shape}, found {r.shape}")
        out.append(r.astype(bool, copy=False))
    return out


def check_maps_masks(
    maps: MapsLike, masks: MapsLike, roi=None
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray | None]]:
    """Return (maps, masks as bool, rois as bool or None), one entry per image, checked to agree in shape.

    ``roi`` is None (all pixels count), one (H, W) mask for all images, or one mask per image.
    Raises ValueError on mismatched counts or shapes and on NaN in a map.
    """
    m_list = as_map_list(maps, "maps")
    g_list = as_map_list(masks, "masks")
    if len(m_list) != len(g_list):
        raise ValueError(f"expected as many masks as maps, found {len(g_list)} masks for {len(m_list)} maps")
    if not m_list:
        raise ValueError("expected at least one map, found none")
    for i, (m, g) in enumerate(zip(m_list, g_list)):
        if m.shape != g.shape:
            raise ValueError(f"map {i} has shape {m.shape} but its mask has shape {g.shape}")
        if np.issubdtype(m.dtype, np.floating) and np.isnan(m).any():
            raise ValueError(f"map {i}: expected no NaN, found {int(np.isnan(m).sum())} NaN pixels")
    g_bool = [g.astype(bool, copy=False) for g in g_list]
    rois = _roi_list(roi, [m.shape for m in m_list])
    return m_list, g_bool, rois


def collect_pixels(maps: MapsLike, masks: MapsLike, roi=None) -> tuple[np.ndarray, np.ndarray]:
    """Return (pixel scores (P,), pixel labels (P,) bool) of every pixel inside the ROI, over all maps.

    Scores keep the maps' floating dtype (float16 maps become float32) so 1,000 maps of 256x256 stay
    at 4 bytes a pixel.
    """
    m_list, g_list, rois = check_maps_masks(maps, masks, roi)
    dtype = np.result_type(np.float32, *[m.dtype for m in m_list])
    scores, labels = [], []
    for m, g, r in zip(m_list, g_list, rois):
        if r is None:
            scores.append(m.ravel().astype(dtype, copy=False))
            labels.append(g.ravel())
        else:
            scores.append(m[r].astype(dtype, copy=False))
            labels.append(g[r])
    return np.concatenate(scores), np.concatenate(labels)
