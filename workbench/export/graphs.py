"""Exportable forward passes: one ``nn.Module`` per fitted model mapping a working-size uint8 image to
(score, crop-size map), with normalization, ROI blanking, nearest-neighbour search and map post-processing inside.

``export_module(model, crop_hw)`` picks, in order: the model's own ``export_module(crop_hw)`` hook
(plugins add theirs), then the graphs below (``patchcore``, ``padim``, ``efficientad``); any other
model raises :class:`ExportError` saying why. Every graph takes (1, h, w, 3) uint8 RGB at the
model's working size (the runtime resizes a crop with the same OpenCV call as ``predict``, because
uint8 rounding of a resize cannot be reproduced in ONNX exactly) and returns ``score`` (1,) float32
and ``map`` (1, H, W) float32 at the view's crop size, 0 outside the ROI.
"""

from __future__ import annotations

import copy
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from workbench.core.preprocess import letterbox
from workbench.export.operators import (
    MapToCrop,
    Preprocess,
    SeparableMap,
    channel_pool_matrix,
    const,
    grid_index,
    separable_matrices,
    to_grid,
)
from workbench.models.base import AnomalyModel
from workbench.models.components.anomaly_map import gaussian_blur
from workbench.models.components.nearest import nearest_neighbors
from workbench.models.components.preprocess import roi_to_grid
from workbench.models.components.working import prepare_working, roi_for_image


class ExportError(RuntimeError):
    """A model (or one of its settings) that cannot become an ONNX graph; the message says why."""


def _resize_to(h: int, w: int):
    def resize_linear(m: np.ndarray) -> np.ndarray:
        return m if m.shape == (h, w) else cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR)

    return resize_linear


def _grid_map_head(
    grid: tuple[int, int], work: tuple[int, int], sigma: float, roi_w: np.ndarray, crop: tuple[int, int]
) -> tuple[SeparableMap, MapToCrop]:
    """Patch-score grid -> crop map as ``patch_scores_to_maps`` does: upsample, blur, ROI, resize, ROI."""

    def up_blur(s: np.ndarray) -> np.ndarray:
        up = cv2.resize(s, (work[1], work[0]), interpolation=cv2.INTER_LINEAR)
        return gaussian_blur(up[None], sigma)[0]

    ay, ax = separable_matrices(up_blur, *grid)
    ry, rx = separable_matrices(_resize_to(*crop), *work)
    inside = cv2.resize(roi_w.astype(np.uint8), (crop[1], crop[0]), interpolation=cv2.INTER_NEAREST) > 0
    return SeparableMap(ay, ax), MapToCrop(roi_w, ry, rx, inside)


class _FeatureGraph(nn.Module):
    """Shared front of PatchCore and PaDiM: backbone features of the blanked, normalized image."""

    def __init__(self, model: Any, crop: tuple[int, int]) -> None:
        super().__init__()
        extractor, _ = model._get_extractor()
        self.net = copy.deepcopy(extractor).cpu().eval()
        self.work = tuple(int(v) for v in model.image_size_)
        self.grid = tuple(int(v) for v in model.grid_)
        self.roi_w = model.roi_.astype(bool)
        self.pre = Preprocess(extractor.mean, extractor.std, self.roi_w, extractor.fill_value)
        self.cells = np.flatnonzero(roi_to_grid(self.roi_w, self.grid).ravel())
        self.register_buffer("cells_t", const(self.cells, torch.int64))
        self.register_buffer("index", const(grid_index(self.cells, self.grid[0] * self.grid[1]), torch.int64))
        self.up_blur, self.to_crop = _grid_map_head(
            self.grid, self.work, float(model.sigma), self.roi_w, crop
        )

    def features(self, x: torch.Tensor, patch_size: int) -> torch.Tensor:
        """(1, C, h, w): layers averaged over a patch neighbourhood, upsampled to the finest grid, joined."""
        feats = self.net(self.pre(x))
        h, w = feats[0].shape[-2:]
        parts = []
        for f in feats:
            if patch_size > 1:
                f = F.avg_pool2d(f, patch_size, stride=1, padding=patch_size // 2)  # zero padding, as fit
            if f.shape[-2:] != (h, w):
                f = F.interpolate(f, size=(h, w), mode="bilinear", align_corners=False)
            parts.append(f)
        return torch.cat(parts, dim=1)

    def crop_map(self, cell_scores: torch.Tensor) -> torch.Tensor:
        """(P,) ROI-cell scores -> (1, H, W) crop-size map."""
        grid = to_grid(cell_scores[None], self.index).view(1, *self.grid)
        return self.to_crop(self.up_blur(grid))


class PatchCoreGraph(_FeatureGraph):
    """PatchCore: nearest-neighbour distance to the memory bank as one matmul + min; reweighted top score."""

    def __init__(self, model: Any, crop: tuple[int, int]) -> None:
        super().__init__(model, crop)
        self.patch_size = int(model.patch_size)
        total = sum(self.net.channels)
        dim = model.memory_bank_.shape[1]
        self.reduce = dim < total
        if self.reduce:
            self.register_buffer("pool", const(channel_pool_matrix(total, dim)))
        bank = const(model.memory_bank_)
        self.register_buffer("bank_t", bank.T.contiguous())
        self.register_buffer("bank", bank)
        self.register_buffer("bank_sq", (bank * bank).sum(1))
        self.k = min(int(model.num_neighbors), bank.shape[0])
        if self.k > 1:
            # The bank neighbourhood of every bank row, computed once here as predict computes it per image.
            _, support = nearest_neighbors(bank, bank, k=self.k, bank_sq=self.bank_sq)
            self.register_buffer("support", support)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.features(x, self.patch_size)
        q = f.flatten(2)[0].transpose(0, 1)  # (h*w, C)
        q = q.index_select(0, self.cells_t)
        if self.reduce:
            q = torch.matmul(q, self.pool)
        d2 = torch.matmul(q, self.bank_t) * -2.0 + self.bank_sq[None]
        d2 = d2 + (q * q).sum(1, keepdim=True)
        dmin, imin = d2.min(dim=1)
        d = dmin.clamp_min(0).sqrt()
        j = torch.argmax(d)
        top = d[j]
        if self.k > 1:
            neighbours = self.bank.index_select(0, self.support[imin[j]])
            dist = (q[j][None] - neighbours).pow(2).sum(1).sqrt()
            top = top * (1.0 - torch.softmax(dist, 0)[0])
        return top.reshape(1), self.crop_map(d)


class PadimGraph(_FeatureGraph):
    """PaDiM: Mahalanobis distance of each ROI cell to its Gaussian as batched matmuls; score = map max."""

    def __init__(self, model: Any, crop: tuple[int, int]) -> None:
        super().__init__(model, crop)
        self.register_buffer("channels", const(model.channels_, torch.int64))
        self.register_buffer("mean", const(model.mean_))
        self.register_buffer("inv_cov", const(model.inv_cov_))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.features(x, 1).index_select(1, self.channels)
        q = f.flatten(2)[0].transpose(0, 1).index_select(0, self.cells_t)  # (P, d)
        diff = q - self.mean
        m = torch.matmul(torch.matmul(diff[:, None, :], self.inv_cov), diff[:, :, None]).reshape(-1)
        crop = self.crop_map(m.clamp_min(0).sqrt())
        return crop.amax(dim=(1, 2)), crop


class EfficientADGraph(nn.Module):
    """EfficientAD: teacher, student and autoencoder, quantile-scaled local + global maps; score = map max."""

    def __init__(self, model: Any, crop: tuple[int, int]) -> None:
        super().__init__()
        from workbench.models.efficientad import MEAN, STD

        self.nets = nn.ModuleDict({k: copy.deepcopy(v).cpu().eval() for k, v in model.nets_.items()})
        self.c = int(model.teacher_mean_.shape[0])
        self.work = tuple(int(v) for v in model.image_size_)
        mode = model.resize_mode
        roi = model.roi_
        _, valid = prepare_working([np.zeros((*crop, 3), np.uint8)], roi, self.work, mode, model._fill())
        self.pre = Preprocess(MEAN.view(3).numpy(), STD.view(3).numpy(), valid[0], model._fill())
        self.register_buffer("t_mean", const(model.teacher_mean_).view(1, -1, 1, 1))
        self.register_buffer("t_std", const(model.teacher_std_).view(1, -1, 1, 1))
        (la, lb), (ga, gb) = (float(v) for v in model.q_local_), (float(v) for v in model.q_global_)
        self.scale = (la, 0.1 / max(lb - la, 1e-12), ga, 0.1 / max(gb - ga, 1e-12))
        if mode == "pad":
            _, box = letterbox(np.zeros(crop, np.uint8), self.work[1], self.work[0])
            back = box.to_source
        else:
            back = _resize_to(*crop)
        ry, rx = separable_matrices(back, *self.work)
        self.to_crop = MapToCrop(valid[0], ry, rx, roi_for_image(roi, crop))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pre(x)
        t = (self.nets["teacher"](x) - self.t_mean) / self.t_std
        s = self.nets["student"](x)
        a = self.nets["autoencoder"](x, t.shape[-2:])
        local = (t - s[:, : self.c]).pow(2).mean(1)
        glob = (a - s[:, self.c :]).pow(2).mean(1)
        la, ls, ga, gs = self.scale
        m = 0.5 * ((local - la) * ls) + 0.5 * ((glob - ga) * gs)
        m = F.interpolate(m[:, None], size=self.work, mode="bilinear", align_corners=False)[:, 0]
        crop = self.to_crop(m)
        return crop.amax(dim=(1, 2)), crop


GRAPHS = {"patchcore": PatchCoreGraph, "padim": PadimGraph, "efficientad": EfficientADGraph}


def export_module(model: AnomalyModel, crop_hw: tuple[int, int]) -> nn.Module:
    """An eval-mode ``nn.Module``: (1, h, w, 3) uint8 working image -> (score (1,), map (1, H, W)) at ``crop_hw``."""
    if not model.is_fitted:
        raise ExportError(
            f"{model.name}: the model is not fitted; train it (or load its state) before export"
        )
    hook = getattr(model, "export_module", None)
    if callable(hook):
        module = hook(tuple(crop_hw))
    elif model.name in GRAPHS:
        module = GRAPHS[model.name](model, tuple(int(v) for v in crop_hw))
    else:
        raise ExportError(
            f"model {model.name!r} cannot be exported: it has no export_module(crop_hw) method returning an "
            f"nn.Module (image batch -> (scores, maps)), and the exporter knows only {', '.join(GRAPHS)}"
        )
    if not isinstance(module, nn.Module):
        raise ExportError(
            f"{model.name}: export_module() returned {type(module).__name__}, expected a torch nn.Module"
        )
    return module.eval()


def working_size(model: AnomalyModel) -> tuple[int, int]:
    """(h, w) the model's graph takes: its fitted working size."""
    return tuple(int(v) for v in model.image_size_)


def resize_mode(model: AnomalyModel) -> str:
    """How a crop becomes the working image: 'stretch' (resize) or 'pad' (letterbox), as the model does."""
    return str(getattr(model, "resize_mode", "stretch"))
