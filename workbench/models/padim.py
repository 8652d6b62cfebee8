"""PaDiM: a Gaussian per feature-grid position; a patch's anomaly is its Mahalanobis distance.

Defard et al. 2020. Statistics are accumulated streaming (sums of x and x x^T per position, in
float64), so memory does not grow with the number of images. Positions outside the ROI get no
statistics and score 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.models.backbones import FeatureExtractor
from workbench.models.base import AnomalyModel, check_images, check_roi, resolve_device
from workbench.models.components.anomaly_map import patch_scores_to_maps
from workbench.models.components.feature_stream import embed_batches
from workbench.models.components.preprocess import resize_roi, roi_to_grid, working_size


class Padim(AnomalyModel):
    """PaDiM anomaly detection: Mahalanobis distance of each patch to the normal Gaussian at its position.

    Parameters: ``backbone``, ``layers``, ``weights``, ``pretrained``, ``image_size`` as for
    PatchCore; ``n_features`` (random subset of the concatenated channels), ``regularization``
    (added to the covariance diagonal), ``sigma`` (map smoothing), ``batch_size``, ``device``,
    ``seed`` (channel subset). The default backbone is EfficientNet-Lite0 (installable ImageNet
    weights); the paper's ResNet18 needs ``weights=FILE``.
    """

    name = "padim"
    state_keys = ("mean_", "inv_cov_", "channels_", "roi_", "grid_", "image_size_")

    def __init__(
        self,
        backbone: str = "efficientnet_lite0",
        layers: tuple[str, ...] = ("layer1", "layer2", "layer3"),
        weights: str | None = None,
        pretrained: bool = True,
        image_size: tuple[int, int] | None = None,
        n_features: int = 100,
        regularization: float = 0.01,
        sigma: float = 4.0,
        batch_size: int = 8,
        device: str = "auto",
        seed: int = 0,
    ) -> None:
        self.backbone = backbone
        self.layers = layers
        self.weights = weights
        self.pretrained = pretrained
        self.image_size = image_size
        self.n_features = n_features
        self.regularization = regularization
        self.sigma = sigma
        self.batch_size = batch_size
        self.device = device
        self.seed = seed
        self._extractor: FeatureExtractor | None = None

    def _get_extractor(self) -> tuple[FeatureExtractor, torch.device]:
        device = resolve_device(self.device)
        if self._extractor is None:
            self._extractor = FeatureExtractor(
                self.backbone, self.layers, weights=self.weights, pretrained=self.pretrained, seed=self.seed
            )
        return self._extractor.to(device), device

    def _cells(self) -> np.ndarray:
        return np.flatnonzero(roi_to_grid(self.roi_.astype(bool), tuple(int(v) for v in self.grid_)).ravel())

    def fit(
        self,
        images: Any,
        roi: Any = None,
        progress: ProgressFn = no_progress,
        cancel: CancelToken = NEVER_CANCEL,
    ) -> Padim:
        """Per-position mean and inverse covariance from normal images ((H, W, 3) uint8 RGB); returns self."""
        images = check_images(images)
        if len(images) < 2:
            raise ValueError("padim: expected at least 2 training images to estimate covariances; found 1")
        size = working_size(images, self.image_size)
        roi_in = check_roi(roi, images[0].shape[:2])
        roi_w = resize_roi(roi_in, size) if roi_in is not None else None
        extractor, device = self._get_extractor()
        total = sum(extractor.channels)
        d = min(int(self.n_features), total)
        channels = np.sort(np.random.default_rng(self.seed).choice(total, size=d, replace=False))
        ch_t = torch.from_numpy(channels).to(device)
        n = len(images)
        s1 = s2 = cells = None
        for start, emb in embed_batches(
            extractor, images, size, roi_w, self.batch_size, device, 1, None, cancel
        ):
            if cells is None:
                grid = tuple(emb.shape[-2:])
                cells = torch.from_numpy(np.flatnonzero(roi_to_grid(roi_w, grid).ravel())).to(device)
                s1 = torch.zeros(len(cells), d, dtype=torch.float64, device=device)
                s2 = torch.zeros(len(cells), d, d, dtype=torch.float64, device=device)
            x = emb[:, ch_t].flatten(2)[:, :, cells].permute(2, 0, 1).double()  # (P, B, d)
            s1 += x.sum(1)
            s2 += torch.bmm(x.transpose(1, 2), x)
            progress((start + x.shape[1]) / n * 0.95, f"embedded {start + x.shape[1]}/{n} images")
        cancel.raise_if_cancelled()
        mean = s1 / n
        cov = (s2 - n * mean.unsqueeze(2) * mean.unsqueeze(1)) / (n - 1)
        cov += self.regularization * torch.eye(d, dtype=cov.dtype, device=device)
        self.mean_ = mean.float().cpu().numpy()
        self.inv_cov_ = np.ascontiguousarray(torch.linalg.inv(cov).float().cpu().numpy())
        self.channels_ = channels.astype(np.int64)
        self.roi_ = (roi_w if roi_w is not None else np.ones(size, dtype=bool)).astype(np.uint8)
        self.grid_ = np.asarray(grid, dtype=np.int64)
        self.image_size_ = np.asarray(size, dtype=np.int64)
        progress(1.0, f"statistics of {len(cells)} positions x {d} channels")
        return self

    def predict(
        self, images: Any, progress: ProgressFn = no_progress, cancel: CancelToken = NEVER_CANCEL
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores (N,) float32 (max of the map) and maps (N, H, W) float32 at each image's size."""
        images = check_images(images)
        self._check_fitted()
        extractor, device = self._get_extractor()
        size = tuple(int(v) for v in self.image_size_)
        grid = tuple(int(v) for v in self.grid_)
        roi = self.roi_.astype(bool)
        cells_np = self._cells()
        cells = torch.from_numpy(cells_np).to(device)
        ch_t = torch.from_numpy(self.channels_).to(device)
        # torch.tensor copies into torch-aligned memory: numpy buffers may be aligned differently,
        # and SIMD reductions then round differently (maps would not be bitwise reproducible).
        mean = torch.tensor(self.mean_, dtype=torch.float32, device=device)
        inv_cov = torch.tensor(self.inv_cov_, dtype=torch.float32, device=device)
        n = len(images)
        scores = np.zeros((n, grid[0] * grid[1]), dtype=np.float32)
        for start, emb in embed_batches(
            extractor, images, size, roi, self.batch_size, device, 1, None, cancel
        ):
            if tuple(emb.shape[-2:]) != grid:
                raise RuntimeError(
                    f"feature grid {tuple(emb.shape[-2:])} differs from the fitted grid {grid}"
                )
            diff = emb[:, ch_t].flatten(2)[:, :, cells].permute(2, 0, 1) - mean.unsqueeze(1)  # (P, B, d)
            m = torch.einsum("pbi,pij,pbj->pb", diff, inv_cov, diff).clamp_min_(0).sqrt_()
            scores[start : start + diff.shape[1], cells_np] = m.T.cpu().numpy()
            progress((start + diff.shape[1]) / n, f"scored {start + diff.shape[1]}/{n} images")
        maps = patch_scores_to_maps(
            scores.reshape(n, *grid), size, self.sigma, roi, [im.shape[:2] for im in images]
        )
        image_scores = np.array([float(m.max()) for m in maps], dtype=np.float32)
        return image_scores, maps
