"""Curve geometry for bead edits: polylines resampled by arclength, normals, and pixel coordinates along a line.

A line here is (N, 2) float points (x, y) in image pixels; "s" is arclength along it and "d" the signed
distance across it, positive on the side of the left-hand normal (``normals``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree


def arclength(points: np.ndarray) -> np.ndarray:
    """Cumulative arclength (N,) of a polyline (N, 2), starting at 0."""
    if len(points) < 2:
        return np.zeros(len(points))
    seg = np.hypot(*np.diff(points, axis=0).T)
    return np.concatenate([[0.0], np.cumsum(seg)])


def resample(points: np.ndarray, values: np.ndarray | None = None, step: float = 1.0):
    """The polyline resampled every ``step`` px: (M, 2) points and, if given, (M,) values interpolated along."""
    points = np.asarray(points, np.float64)
    s = arclength(points)
    if len(points) < 2 or s[-1] <= 0:
        return (points.copy(), None if values is None else np.asarray(values, np.float64).copy())
    keep = np.concatenate([[True], np.diff(s) > 1e-9])  # repeated points would break interpolation
    points, s = points[keep], s[keep]
    n = max(int(np.ceil(s[-1] / step)), 1) + 1
    t = np.linspace(0.0, s[-1], n)
    out = np.stack([np.interp(t, s, points[:, 0]), np.interp(t, s, points[:, 1])], axis=1)
    if values is None:
        return out, None
    return out, np.interp(t, s, np.asarray(values, np.float64)[keep])


def smooth_along(values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of a sequence (N,) or (N, k) along its first axis, edges held by reflection."""
    if sigma <= 0 or len(values) < 3:
        return np.asarray(values, np.float64).copy()
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(np.asarray(values, np.float64), sigma, axis=0, mode="nearest")


def tangents(points: np.ndarray) -> np.ndarray:
    """Unit tangents (N, 2) in the direction of travel."""
    if len(points) < 2:
        return np.tile([1.0, 0.0], (len(points), 1))
    t = np.gradient(np.asarray(points, np.float64), axis=0)
    return t / np.maximum(np.hypot(t[:, 0], t[:, 1]), 1e-9)[:, None]


def normals(points: np.ndarray) -> np.ndarray:
    """Unit normals (N, 2): the tangent turned by +90 degrees in image coordinates."""
    t = tangents(points)
    return np.stack([-t[:, 1], t[:, 0]], axis=1)


def plateau(s: np.ndarray, s0: float, s1: float, ramp: float) -> np.ndarray:
    """0 outside [s0, s1], 1 inside it, with raised-cosine flanks ``ramp`` px long inside the interval."""
    ramp = max(min(ramp, (s1 - s0) / 2), 1e-3)
    up = np.clip((s - s0) / ramp, 0.0, 1.0)
    down = np.clip((s1 - s) / ramp, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * np.minimum(up, down))


@dataclass
class LocalFrame:
    """Pixels of a window described by their nearest point on a line: index, along offset t, across offset d."""

    index: np.ndarray  # (h, w) int: nearest line point
    t: np.ndarray  # (h, w) float32: offset along the tangent at that point (nonzero past the line ends)
    d: np.ndarray  # (h, w) float32: signed offset along the normal
    dist: np.ndarray  # (h, w) float32: Euclidean distance to the nearest point


def local_frame(
    points: np.ndarray, window: tuple[int, int, int, int], normal: np.ndarray | None = None
) -> LocalFrame:
    """The pixels of ``window`` (x0, y0, x1, y1) located relative to the line ``points`` (N, 2) (~1 px apart)."""
    x0, y0, x1, y1 = window
    yy, xx = np.mgrid[y0:y1, x0:x1]
    pix = np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.float64)
    dist, idx = cKDTree(points).query(pix, k=1)
    nrm = normals(points) if normal is None else normal
    tng = np.stack([nrm[:, 1], -nrm[:, 0]], axis=1)
    rel = pix - points[idx]
    shape = (y1 - y0, x1 - x0)
    return LocalFrame(
        index=idx.reshape(shape),
        t=np.einsum("ij,ij->i", rel, tng[idx]).reshape(shape).astype(np.float32),
        d=np.einsum("ij,ij->i", rel, nrm[idx]).reshape(shape).astype(np.float32),
        dist=dist.reshape(shape).astype(np.float32),
    )


def window_around(points: np.ndarray, pad: float, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The bounding box (x0, y0, x1, y1) of ``points`` grown by ``pad`` px, clipped to an image of ``shape``."""
    h, w = shape
    x0 = int(np.clip(np.floor(points[:, 0].min() - pad), 0, w))
    y0 = int(np.clip(np.floor(points[:, 1].min() - pad), 0, h))
    x1 = int(np.clip(np.ceil(points[:, 0].max() + pad) + 1, 0, w))
    y1 = int(np.clip(np.ceil(points[:, 1].max() + pad) + 1, 0, h))
    return x0, y0, x1, y1
