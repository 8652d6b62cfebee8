"""Pieces of the inference forwards: input stage, patch features, Gaussian blur, grid-to-map, the map tail.

Every model's forward (``AnomalyModel.forward_module``) is built from these and its own networks;
all of them are plain torch operations that the ONNX exporter turns into graph operators, so the
module that ``predict`` runs is the graph the line runs. Shapes: images (B, h, w, 3) uint8 RGB at the
working size; feature maps (B, C, gh, gw); maps (B, h, w) float32.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from workbench.models.components.embedding import PatchEmbedding


def const(a: np.ndarray | torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A torch-owned copy of an array (own alignment, no shared numpy memory), for buffers.

    numpy buffers may be aligned differently from torch's, and SIMD reductions then round
    differently: copies keep the maps bitwise reproducible between fit and a reloaded state.
    """
    return torch.tensor(np.asarray(a), dtype=dtype)


class InputStage(nn.Module):
    """(B, h, w, 3) uint8 RGB -> (B, 3, h, w) float32 normalized; pixels outside ``valid`` get ``fill`` first.

    Blanking before any network sees the image keeps outside pixels out of the receptive field of
    the patches inside: changing them changes nothing the model learns or scores. The arithmetic is
    the same as for training (divide by 255, subtract the mean, divide by the std).
    """

    def __init__(self, mean, std, valid: np.ndarray | None, fill: tuple[int, int, int]) -> None:
        super().__init__()
        self.register_buffer("mean", const(mean).view(1, 3, 1, 1))
        self.register_buffer("std", const(std).view(1, 3, 1, 1))
        self.blank = valid is not None and not bool(np.all(valid))
        if self.blank:
            keep = const(np.asarray(valid, np.float32)).view(1, 1, *valid.shape)
            self.register_buffer("keep", keep)
            self.register_buffer(
                "fill_img", const(np.asarray(fill, np.float32)).view(1, 3, 1, 1) * (1.0 - keep)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 3, 1, 2).to(torch.float32)
        if self.blank:
            x = x * self.keep + self.fill_img
        return (x / 255.0 - self.mean) / self.std


class PatchFeatures(nn.Module):
    """(B, h, w, 3) uint8 -> (B, D, gh, gw) patch embeddings of a frozen backbone, ROI blanked first."""

    def __init__(
        self, extractor: nn.Module, valid: np.ndarray | None, patch_size: int, embed_dim: int | None
    ):
        super().__init__()
        self.input = InputStage(extractor.mean, extractor.std, valid, extractor.fill_value)
        self.backbone = extractor
        self.embed = PatchEmbedding(extractor.channels, patch_size, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(self.backbone(self.input(x)))


def _reflect(p: int, n: int) -> int:
    """OpenCV's BORDER_REFLECT index (fedcba|abcdef|fedcba) of position ``p`` on an axis of ``n``."""
    if n == 1:
        return 0
    while p < 0 or p >= n:
        p = -p - 1 if p < 0 else 2 * n - p - 1
    return p


def blur_kernel_size(sigma: float) -> int:
    """The kernel of a Gaussian of ``sigma`` pixels: 2 * round(4 sigma) + 1 taps."""
    return 2 * int(4.0 * float(sigma) + 0.5) + 1


class GaussianBlur(nn.Module):
    """(B, h, w) maps blurred like ``cv2.GaussianBlur(m, (k, k), sigma, borderType=BORDER_REFLECT)``: separable taps, mirrored borders."""

    def __init__(self, sigma: float, size: tuple[int, int]) -> None:
        super().__init__()
        self.active = float(sigma) > 0
        if not self.active:
            return
        k = blur_kernel_size(sigma)
        taps = cv2.getGaussianKernel(k, float(sigma)).astype(np.float32).ravel()
        r = k // 2
        h, w = int(size[0]), int(size[1])
        self.register_buffer("taps_y", const(taps).view(1, 1, k, 1))
        self.register_buffer("taps_x", const(taps).view(1, 1, 1, k))
        self.register_buffer("rows", const([_reflect(p, h) for p in range(-r, h + r)], torch.int64))
        self.register_buffer("cols", const([_reflect(p, w) for p in range(-r, w + r)], torch.int64))

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        if not self.active:
            return m
        x = m.unsqueeze(1).index_select(3, self.cols)
        x = F.conv2d(x, self.taps_x)
        x = F.conv2d(x.index_select(2, self.rows), self.taps_y)
        return x.squeeze(1)


def upsample(m: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, gh, gw) -> (B, h, w) bilinear (half-pixel centres, as OpenCV's INTER_LINEAR)."""
    if tuple(m.shape[-2:]) == tuple(size):
        return m
    return F.interpolate(m.unsqueeze(1), size=tuple(size), mode="bilinear", align_corners=False).squeeze(1)


class MapTail(nn.Module):
    """(B, gh, gw) raw scores -> (score (B,), map (B, h, w)): upsampled to the working size, blurred,
    0 outside ``valid``; the image score is the map's maximum."""

    def __init__(self, valid: np.ndarray, sigma: float = 0.0) -> None:
        super().__init__()
        self.size = tuple(int(v) for v in valid.shape)
        self.register_buffer("valid", const(valid.astype(np.float32))[None])
        self.blur = GaussianBlur(sigma, self.size)

    def forward(self, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.blur(upsample(m, self.size)) * self.valid
        return m.amax(dim=(1, 2)), m


class CellsToGrid(nn.Module):
    """(B, P) values of the ROI cells -> (B, gh, gw) grid with 0 at the other cells."""

    def __init__(self, cells: np.ndarray, grid: tuple[int, int]) -> None:
        super().__init__()
        self.grid = tuple(int(v) for v in grid)
        index = np.full(self.grid[0] * self.grid[1], len(cells), np.int64)
        index[cells] = np.arange(len(cells))
        self.register_buffer("index", const(index, torch.int64))

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        padded = torch.cat([values, torch.zeros_like(values[:, :1])], dim=1)
        return padded.index_select(1, self.index).view(-1, *self.grid)


class BackboneForward(nn.Module):
    """Base of forwards that start from a frozen backbone: the input stage (ROI blanking, the backbone's
    normalization), the backbone, and the map tail (upsampling, blur, 0 outside the ROI, score)."""

    def __init__(self, backbone: nn.Module, valid: np.ndarray, sigma: float = 0.0) -> None:
        super().__init__()
        self.input = InputStage(backbone.mean, backbone.std, valid, backbone.fill_value)
        self.backbone = backbone
        self.tail = MapTail(valid, sigma)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The backbone's layer features of a (B, h, w, 3) uint8 batch."""
        return self.backbone(self.input(x))


def roi_cells(valid: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(P,) int64 flat indices of the feature-grid cells the (h, w) valid mask touches."""
    area = cv2.resize(valid.astype(np.float32), (int(grid[1]), int(grid[0])), interpolation=cv2.INTER_AREA)
    return np.flatnonzero(area.ravel() > 0).astype(np.int64)


def select_cells(emb: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """(B, D, gh, gw) -> (B, P, D): the embeddings of the ROI cells."""
    b, d = emb.shape[:2]
    return emb.reshape(b, d, -1).transpose(1, 2).index_select(1, cells)
