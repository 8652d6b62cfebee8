"""Graph pieces that reproduce the workbench's OpenCV steps exactly: input normalization, ROI blanking,
resizes and Gaussian blur of maps as constant matrices, so an exported graph gives the maps ``predict`` gives.

OpenCV's float resize (linear, area), its separable blur and the letterbox undo are linear and
separable: applied to a map ``M`` they are ``Ry @ M @ Rx.T``. The matrices are read off by running
the very function the models use on basis images, so border rules (BORDER_REFLECT, half-pixel
centres, area weights) cannot drift from the reference implementation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn


def separable_matrices(
    f: Callable[[np.ndarray], np.ndarray], h_in: int, w_in: int
) -> tuple[np.ndarray, np.ndarray]:
    """(Ry (H, h), Rx (W, w)) float32 with ``f(m) == Ry @ m @ Rx.T`` for a separable linear map step ``f``.

    ``f`` is the workbench's own numpy/OpenCV function (a resize, a blur, a letterbox undo) taking an
    (h_in, w_in) float32 map. Its matrices are read off images with one row (column) of ones: every
    OpenCV interpolation and normalized blur keeps constants constant, so ``f`` of such an image is
    one column (row) of the matrix repeated. A random map then proves the factorization, else raises.
    """
    ry = rx = None
    for i in range(h_in):
        e = np.zeros((h_in, w_in), np.float32)
        e[i, :] = 1.0
        col = np.asarray(f(e), np.float32)
        if ry is None:
            ry = np.zeros((col.shape[0], h_in), np.float32)
        ry[:, i] = col[:, 0]
    for j in range(w_in):
        e = np.zeros((h_in, w_in), np.float32)
        e[:, j] = 1.0
        row = np.asarray(f(e), np.float32)
        if rx is None:
            rx = np.zeros((row.shape[1], w_in), np.float32)
        rx[:, j] = row[0, :]
    probe = np.random.default_rng(0).random((h_in, w_in), dtype=np.float32)
    want = np.asarray(f(probe), np.float64)
    got = ry.astype(np.float64) @ probe @ rx.T.astype(np.float64)
    if want.shape != got.shape or not np.allclose(want, got, atol=1e-4):
        raise RuntimeError(
            f"map step {getattr(f, '__name__', f)!r} is not a separable linear operation "
            f"(largest error {np.abs(want - got).max() if want.shape == got.shape else want.shape}); it cannot "
            f"become constant matrices in the graph"
        )
    return ry, rx


def const(a: np.ndarray | torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A torch-owned copy of an array (own alignment, no shared numpy memory), for buffers."""
    return torch.tensor(np.asarray(a), dtype=dtype)


class Preprocess(nn.Module):
    """(1, H, W, 3) uint8 RGB -> (1, 3, H, W) float32 normalized; pixels outside ``keep`` get ``fill`` first.

    The same arithmetic as the models (divide by 255, subtract the mean, divide by the std) on the
    same values (blanked pixels hold the uint8 fill colour), so features match to float rounding.
    """

    def __init__(self, mean, std, keep: np.ndarray | None, fill: tuple[int, int, int]) -> None:
        super().__init__()
        self.register_buffer("mean", const(mean).view(1, 3, 1, 1))
        self.register_buffer("std", const(std).view(1, 3, 1, 1))
        self.blank = keep is not None and not bool(np.all(keep))
        if self.blank:
            k = const(np.asarray(keep, np.float32)).view(1, 1, *keep.shape)
            self.register_buffer("keep", k)
            self.register_buffer("fill_img", const(np.asarray(fill, np.float32)).view(1, 3, 1, 1) * (1.0 - k))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 3, 1, 2).to(torch.float32)
        if self.blank:
            x = x * self.keep + self.fill_img
        x = x / 255.0
        return (x - self.mean) / self.std


class SeparableMap(nn.Module):
    """(1, h, w) map -> (1, H, W): ``Ry @ m @ Rx.T`` (skipped when both are identities)."""

    def __init__(self, ry: np.ndarray, rx: np.ndarray) -> None:
        super().__init__()
        self.identity = ry.shape[0] == ry.shape[1] and rx.shape[0] == rx.shape[1]
        self.identity = (
            self.identity and np.array_equal(ry, np.eye(len(ry))) and np.array_equal(rx, np.eye(len(rx)))
        )
        self.register_buffer("ry", const(ry))
        self.register_buffer("rxt", const(np.ascontiguousarray(rx.T)))

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        if self.identity:
            return m
        return torch.matmul(torch.matmul(self.ry, m), self.rxt)


class MapToCrop(nn.Module):
    """Working-size map (1, h, w) -> crop-size map (1, H, W): zero outside ``work_keep``, resize, zero outside ``crop_keep``."""

    def __init__(self, work_keep: np.ndarray, ry: np.ndarray, rx: np.ndarray, crop_keep: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("work_keep", const(work_keep.astype(np.float32))[None])
        self.resize = SeparableMap(ry, rx)
        self.register_buffer("crop_keep", const(crop_keep.astype(np.float32))[None])

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        m = m * self.work_keep
        if not self.resize.identity:
            m = self.resize(m) * self.crop_keep
        return m


def channel_pool_matrix(c: int, d: int) -> np.ndarray:
    """(c, d) float32 P with ``F.adaptive_avg_pool1d`` over channels (c -> d) == x @ P."""
    p = np.zeros((c, d), np.float32)
    for j in range(d):
        a, b = (j * c) // d, -((-(j + 1) * c) // d)
        p[a:b, j] = 1.0 / (b - a)
    return p


def to_grid(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """(1, P) values of the ROI cells -> (1, h*w) with 0 elsewhere: ``index`` points outside cells at a 0 column."""
    padded = torch.cat([values, torch.zeros_like(values[:, :1])], dim=1)
    return padded[:, index]


def grid_index(cells: np.ndarray, n_cells: int) -> np.ndarray:
    """(h*w,) int64 gather index for :func:`to_grid`: cell k of the grid -> its position in ``cells`` or P."""
    index = np.full(n_cells, len(cells), np.int64)
    index[cells] = np.arange(len(cells))
    return index
