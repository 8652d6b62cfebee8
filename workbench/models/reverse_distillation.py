"""Reverse Distillation: a student decoder rebuilds the teacher's multi-scale features from a compact embedding.

Deng & Li 2022. The frozen pretrained teacher encodes the image (layers 1-3); a trainable one-class
bottleneck fuses those layers into one low-resolution embedding (multi-scale feature fusion, then a
strided block); the student decoder upsamples it back and must match each teacher layer (loss:
1 - cosine similarity per position, outside the ROI excluded). On anomalies the compact embedding
cannot carry the unusual features, so the decoder fails there. Map: the per-layer (1 - cosine)
maps upsampled and summed, blurred (sigma 4); image score: its maximum. Paper training: Adam,
lr 0.005, betas (0.5, 0.999), 200 epochs, batch 16.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.models.backbones import FeatureExtractor
from workbench.models.base import resolve_device
from workbench.models.components.anomaly_map import gaussian_blur
from workbench.models.components.training import TrainedModel, batch_sampler, roi_mean_loss, seeded


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class Bottleneck(nn.Module):
    """One-class bottleneck: every layer strided down to the deepest grid, joined, then one more stride 2."""

    def __init__(self, channels: list[int], emb: int) -> None:
        super().__init__()
        deep = channels[-1]
        n = len(channels)
        self.down = nn.ModuleList(
            [
                nn.Sequential(*[_conv(c if k == 0 else deep, deep, 2) for k in range(n - 1 - i)])
                for i, c in enumerate(channels)
            ]
        )
        self.fuse = nn.Sequential(
            nn.Conv2d(deep * n, emb, 1, bias=False), nn.BatchNorm2d(emb), nn.ReLU(inplace=True)
        )
        self.oce = _conv(emb, emb, 2)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        size = feats[-1].shape[-2:]
        parts = []
        for f, down in zip(feats, self.down):
            f = down(f)
            if f.shape[-2:] != size:  # odd sizes round differently along the strided path
                f = F.interpolate(f, size=size, mode="bilinear", align_corners=False)
            parts.append(f)
        return self.oce(self.fuse(torch.cat(parts, 1)))


class Decoder(nn.Module):
    """Student decoder: from the embedding up to each teacher layer's grid, deepest first."""

    def __init__(self, channels: list[int], emb: int) -> None:
        super().__init__()
        ins = [emb] + channels[::-1][:-1]
        self.blocks = nn.ModuleList(
            [nn.Sequential(_conv(i, o), _conv(o, o)) for i, o in zip(ins, channels[::-1])]
        )

    def forward(self, z: torch.Tensor, sizes: list[tuple[int, int]]) -> list[torch.Tensor]:
        outs = []
        for block, size in zip(self.blocks, sizes[::-1]):
            z = block(F.interpolate(z, size=size, mode="bilinear", align_corners=False))
            outs.append(z)
        return outs[::-1]


class ReverseDistillation(TrainedModel):
    """Reverse Distillation anomaly detection: where a decoder cannot rebuild the teacher's features from a compact code.

    Parameters: ``backbone``, ``layers``, ``weights``, ``pretrained`` (teacher; default
    EfficientNet-Lite0, the paper uses wide_resnet50_2); ``embed_channels`` (bottleneck width);
    ``image_size``, ``resize_mode``; ``lr``, ``betas``; ``epochs`` capped by ``max_iters`` /
    ``time_budget_s``; ``train_batch``; ``val_every``, ``patience``; ``sigma``; ``batch_size``;
    ``device``; ``seed``.
    """

    name = "reverse_distillation"
    meta_keys = ("roi_", "image_size_")

    def __init__(
        self,
        backbone: str = "efficientnet_lite0",
        layers: tuple[str, ...] = ("layer1", "layer2", "layer3"),
        weights: str | None = None,
        pretrained: bool = True,
        embed_channels: int = 256,
        image_size: tuple[int, int] = (256, 256),
        resize_mode: str = "stretch",
        lr: float = 0.005,
        betas: tuple[float, float] = (0.5, 0.999),
        epochs: int = 200,
        max_iters: int | None = None,
        time_budget_s: float | None = None,
        train_batch: int = 16,
        val_every: int = 50,
        patience: int = 5,
        sigma: float = 4.0,
        batch_size: int = 8,
        device: str = "auto",
        seed: int = 0,
    ) -> None:
        self.backbone = backbone
        self.layers = layers
        self.weights = weights
        self.pretrained = pretrained
        self.embed_channels = embed_channels
        self.image_size = image_size
        self.resize_mode = resize_mode
        self.lr = lr
        self.betas = betas
        self.epochs = epochs
        self.max_iters = max_iters
        self.time_budget_s = time_budget_s
        self.train_batch = train_batch
        self.val_every = val_every
        self.patience = patience
        self.sigma = sigma
        self.batch_size = batch_size
        self.device = device
        self.seed = seed
        self.nets_ = None
        self._teacher: FeatureExtractor | None = None
        self.history_: list[dict[str, float]] = []

    def _build_nets(self, for_loading: bool) -> dict[str, nn.Module]:
        ch = self._get_teacher(torch.device("cpu")).channels
        emb = int(self.embed_channels)
        return {"bottleneck": Bottleneck(ch, emb), "decoder": Decoder(ch, emb)}

    def _fill(self) -> tuple[int, int, int]:
        return self._get_teacher(torch.device("cpu")).fill_value

    def _distances(self, nets, x: np.ndarray, device, cancel) -> list[torch.Tensor]:
        """Per layer (B, h, w): 1 - cosine similarity of teacher and student features."""
        teacher = self._get_teacher(device)
        with torch.no_grad():
            t = teacher(teacher.normalize(torch.from_numpy(x).to(device)), cancel=cancel)
        s = nets["decoder"](nets["bottleneck"](t), [tuple(f.shape[-2:]) for f in t])
        return [1.0 - F.cosine_similarity(a, b, dim=1) for a, b in zip(t, s)]

    def _maps(self, x: np.ndarray, valid: np.ndarray, cancel: CancelToken) -> np.ndarray:
        device = next(self.nets_["decoder"].parameters()).device
        m = 0.0
        for d in self._distances(self.nets_, x, device, cancel):
            m = m + F.interpolate(d[:, None], size=x.shape[1:3], mode="bilinear", align_corners=False)[:, 0]
        return gaussian_blur(m.float().cpu().numpy(), float(self.sigma))

    def fit(
        self,
        images: Any,
        roi: Any = None,
        progress: ProgressFn = no_progress,
        cancel: CancelToken = NEVER_CANCEL,
        val_images: Any = None,
        val_labels: Any = None,
    ) -> ReverseDistillation:
        """Train bottleneck and decoder on normal images ((H, W, 3) uint8 RGB); returns self.

        ``val_images`` (+ ``val_labels``, 1 = defective) enable early stopping on image AUROC (on the
        validation loss without labels); the best weights are kept.
        """
        images, roi_u8, work, valid = self._prepare_fit(images, roi)
        n = len(work)
        bs = max(1, min(int(self.train_batch), n))
        max_iters = self._iterations(n, bs)
        val = self._prepare_val(val_images, val_labels, roi_u8)
        device = resolve_device(self.device)
        next_batch = batch_sampler(np.random.default_rng(self.seed), n, bs)
        self._get_teacher(device)
        with seeded(self.seed, device):
            nets = {k: v.to(device) for k, v in self._build_nets(for_loading=False).items()}
            params = [p for net in nets.values() for p in net.parameters()]
            opt = torch.optim.Adam(params, lr=float(self.lr), betas=tuple(float(b) for b in self.betas))

            def step(it: int, frac: float) -> float:
                idx = next_batch()
                for net in nets.values():
                    net.train()
                loss = roi_mean_loss(self._distances(nets, work[idx], device, cancel), valid[idx], device)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                return float(loss.detach())

            validate = None
            if val is not None:
                validate = self._validator(nets, val, device, cancel)
            history = self._run_training(nets, step, max_iters, progress, cancel, validate)
        self._set_fitted(nets, roi_u8, work, history)
        return self

    def _validator(self, nets, val, device, cancel):
        from workbench.metrics import auroc

        work, valid, labels = val

        def validate() -> float:
            for net in nets.values():
                net.eval()
            scores, losses = [], []
            with torch.no_grad():
                for i in range(0, len(work), max(1, int(self.batch_size))):
                    d = self._distances(nets, work[i : i + self.batch_size], device, cancel)
                    losses.append(float(roi_mean_loss(d, valid[i : i + self.batch_size], device)))
                    m = sum(F.interpolate(x[:, None], size=work.shape[1:3], mode="bilinear")[:, 0] for x in d)
                    m = m.cpu().numpy()
                    m[~valid[i : i + self.batch_size]] = 0
                    scores.append(m.reshape(len(m), -1).max(1))
            if labels is not None:
                return -auroc(labels, np.concatenate(scores))
            return float(np.mean(losses))

        return validate
