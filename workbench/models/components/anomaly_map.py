"""Patch scores to anomaly maps at input size: upsample, Gaussian blur, zero outside the ROI."""

from __future__ import annotations

import cv2
import numpy as np


def gaussian_blur(maps: np.ndarray, sigma: float) -> np.ndarray:
    """(N, H, W) float32 blurred with a Gaussian of ``sigma`` pixels (kernel 2*round(4 sigma)+1)."""
    if sigma <= 0:
        return maps
    k = 2 * int(4.0 * sigma + 0.5) + 1
    return np.stack(
        [cv2.GaussianBlur(m, (k, k), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT) for m in maps]
    )


def patch_scores_to_maps(
    scores: np.ndarray,
    work_size: tuple[int, int],
    sigma: float,
    roi: np.ndarray | None,
    out_sizes: list[tuple[int, int]],
) -> np.ndarray | list[np.ndarray]:
    """(N, h, w) float32 patch scores -> (N, H, W) float32 maps at each image's own size.

    Upsampled bilinearly to the working size, blurred (``sigma`` in working-size pixels), zeroed
    outside ``roi`` (working size), then resized to each image's size. Returns one stacked array
    when every image has the same size, else a list.
    """
    up = np.stack(
        [
            cv2.resize(s.astype(np.float32), (work_size[1], work_size[0]), interpolation=cv2.INTER_LINEAR)
            for s in scores
        ]
    )
    up = gaussian_blur(up, sigma)
    if roi is not None:
        up[:, ~roi] = 0.0
    maps = []
    for m, size in zip(up, out_sizes):
        if tuple(size) != tuple(work_size):
            m = cv2.resize(m, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
            if roi is not None:
                inside = (
                    cv2.resize(roi.astype(np.uint8), (size[1], size[0]), interpolation=cv2.INTER_NEAREST) > 0
                )
                m[~inside] = 0.0
        maps.append(m.astype(np.float32, copy=False))
    if len({m.shape for m in maps}) == 1:
        return np.stack(maps)
    return maps
