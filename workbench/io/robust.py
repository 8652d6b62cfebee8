"""Robust one-dimensional statistics the calibration uses: the median absolute deviation and Otsu's split."""

from __future__ import annotations

import numpy as np


def mad(x) -> float:
    x = np.asarray(x, np.float64)
    return float(1.4826 * np.median(np.abs(x - np.median(x)))) if x.size else 0.0


def otsu(values: np.ndarray) -> float:
    """The split of 1-D values that maximizes the between-class variance."""
    v = np.sort(np.asarray(values, np.float64))
    if v.size < 2 or v[0] == v[-1]:
        return float(v[0]) if v.size else 0.0
    cum = np.cumsum(v)
    n = np.arange(1, v.size)
    m0 = cum[:-1] / n
    m1 = (cum[-1] - cum[:-1]) / (v.size - n)
    between = n * (v.size - n) * (m0 - m1) ** 2
    i = int(np.argmax(between))
    return float((v[i] + v[i + 1]) / 2)
