"""PaDiM: a Gaussian per feature-grid position; a patch's anomaly is its Mahalanobis distance.

Defard et al. 2020. Statistics are accumulated streaming (sums of x and x x^T per position, in
float64), so memory does not grow with the number of images. Positions outside the ROI get no
statistics and score 0.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from workbench.core.progress import CancelToken, ProgressFn
from workbench.core.working import mask_to_working, resolve_size, working_batch
from workbench.models import params as P
from workbench.models.backbones import UsesBackbone
from workbench.models.base import AnomalyModel, resolve_device
from workbench.models.components import forward as fw
from workbench.models.components.working import batches


class PadimForward(nn.Module):
    """(B, h, w, 3) uint8 -> (scores (B,), maps (B, h, w)): Mahalanobis distance of each ROI cell's features
    to its Gaussian, as a map (upsampled, blurred, 0 outside the ROI); the score is the map's maximum."""

    def __init__(
        self, features: fw.PatchFeatures, channels, mean, inv_cov, cells, grid, valid, sigma
    ) -> None:
        super().__init__()
        self.features = features
        self.register_buffer("channels", fw.const(channels, torch.int64))
        self.register_buffer("cells", fw.const(cells, torch.int64))
        self.register_buffer("mean", fw.const(mean))  # (P, d)
        self.register_buffer("inv_cov", fw.const(inv_cov))  # (P, d, d)
        self.to_grid = fw.CellsToGrid(cells, grid)
        self.tail = fw.MapTail(valid, sigma)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.features(x).index_select(1, self.channels)
        diff = (fw.select_cells(f, self.cells) - self.mean).transpose(0, 1)  # (P, B, d)
        m = (torch.matmul(diff, self.inv_cov) * diff).sum(2).transpose(0, 1)  # (B, P)
        return self.tail(self.to_grid(m.clamp_min(0).sqrt()))


class Padim(UsesBackbone, AnomalyModel):
    """PaDiM anomaly detection: Mahalanobis distance of each patch to the normal Gaussian at its position.

    Parameters: ``backbone``, ``layers``, ``weights``, ``pretrained``, ``image_size`` as for
    PatchCore; ``n_features`` (random subset of the concatenated channels), ``regularization``
    (added to the covariance diagonal), ``sigma`` (map smoothing), ``batch_size``, ``device``,
    ``seed`` (channel subset). The default backbone is EfficientNet-Lite0 (installable ImageNet
    weights); the paper's ResNet18 needs ``weights=FILE``.
    """

    name = "padim"
    params = {
        **P.backbone_params(("layer1", "layer2", "layer3")),
        "image_size": P.size(None, optional=True),
        "n_features": P.integer(100, 1),
        "regularization": P.number(0.01, 0.0, low_open=True),
        "sigma": P.number(4.0, 0.0, 64.0),
        **P.run_params(batch_size=8),
    }
    # Tiny CPU settings for workbench.models.checks (random weights: the checks are about the engine).
    quick_params = dict(
        backbone="resnet18", pretrained=False, n_features=24, device="cpu",
    )  # fmt: skip

    state_keys = ("mean_", "inv_cov_", "channels_", "roi_", "grid_", "image_size_")

    def _features(self, valid: np.ndarray, device: torch.device) -> fw.PatchFeatures:
        return fw.PatchFeatures(self._backbone(device), valid, 1, None).to(device)

    def _fit(
        self, images: list[np.ndarray], roi: np.ndarray, progress: ProgressFn, cancel: CancelToken, val
    ) -> None:
        """Per-position mean and inverse covariance of the normal images' features."""
        if len(images) < 2:
            raise ValueError("padim: expected at least 2 training images to estimate covariances; found 1")
        size = resolve_size([im.shape for im in images], self.image_size)
        valid = mask_to_working(roi, size)
        device = resolve_device(self.device)
        features = self._features(valid, device)
        total = sum(features.backbone.channels)
        d = min(int(self.n_features), total)
        channels = np.sort(np.random.default_rng(self.seed).choice(total, size=d, replace=False))
        ch_t = torch.from_numpy(channels).to(device)
        n = len(images)
        s1 = s2 = cells = None
        for start, stop in batches(n, int(self.batch_size)):
            cancel.raise_if_cancelled()
            with torch.inference_mode():
                emb = features(torch.from_numpy(working_batch(images[start:stop], size)).to(device))
            if cells is None:
                grid = tuple(emb.shape[-2:])
                cells = torch.from_numpy(fw.roi_cells(valid, grid)).to(device)
                s1 = torch.zeros(len(cells), d, dtype=torch.float64, device=device)
                s2 = torch.zeros(len(cells), d, d, dtype=torch.float64, device=device)
            x = fw.select_cells(emb.index_select(1, ch_t), cells).transpose(0, 1).double()  # (P, B, d)
            s1 += x.sum(1)
            s2 += torch.bmm(x.transpose(1, 2), x)
            progress(stop / n * 0.95, f"embedded {stop}/{n} images")
        cancel.raise_if_cancelled()
        mean = s1 / n
        cov = (s2 - n * mean.unsqueeze(2) * mean.unsqueeze(1)) / (n - 1)
        cov += self.regularization * torch.eye(d, dtype=cov.dtype, device=device)
        self.mean_ = mean.float().cpu().numpy()
        self.inv_cov_ = np.ascontiguousarray(torch.linalg.inv(cov).float().cpu().numpy())
        self.channels_ = channels.astype(np.int64)
        self.roi_ = roi
        self.grid_ = np.asarray(grid, dtype=np.int64)
        self.image_size_ = np.asarray(size, dtype=np.int64)
        progress(1.0, f"statistics of {len(cells)} positions x {d} channels")

    def forward_module(self) -> PadimForward:
        self._check_fitted()
        device = resolve_device(self.device)
        valid = mask_to_working(self.roi_, self.working_size())
        grid = tuple(int(v) for v in self.grid_)
        module = PadimForward(
            self._features(valid, device), self.channels_, self.mean_, self.inv_cov_,
            fw.roi_cells(valid, grid), grid, valid, float(self.sigma),
        )  # fmt: skip
        return module.to(device).eval()
