"""DRAEM: a reconstruction network learns to undo simulated anomalies, a U-Net learns to segment them.

Zavrtanik et al. 2021. Training images get simulated anomalies on half of the samples
(:mod:`components.anomaly_synthesis`: a thresholded, rotated Perlin-noise mask of 2^a x 2^b cells
inside the ROI, filled with an anomaly-source texture that three random augmentations have
altered, at opacity 1 - beta with beta in [0, ``beta_max``); the paper's textures come from DTD,
here from :func:`procedural.procedural_images`, nothing is downloaded); the reconstructive
sub-network (an encoder-decoder without skips) must return the clean image (loss: L2 + (1 - SSIM)),
and the discriminative sub-network (a U-Net on the reconstruction and the input, concatenated)
must segment the simulated anomaly (focal loss). No pretrained weights are needed. Map: the
softmax anomaly channel, zero outside the ROI, smoothed by the paper's ``pool_size`` x
``pool_size`` average pooling; image score: its maximum (the paper's image score). The paper's
rotation of whole training images is left out: the workbench's samples are aligned by template
matching, and the ROI must stay where it is. Paper training: Adam, lr 1e-4, 700 epochs, batch 8,
learning rate x 0.2 at 80 % and 90 % of training.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.metrics import auroc
from workbench.models.base import resolve_device
from workbench.models.components.anomaly_synthesis import AUGMENTATIONS, AnomalySynthesizer
from workbench.models.components.losses import focal_loss_map, masked_mean, ssim_map
from workbench.models.components.procedural import procedural_images, sample_photos
from workbench.models.components.training import TrainedModel, batch_sampler, seeded


def _conv(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _block(cin: int, mid: int, cout: int) -> nn.Sequential:
    return nn.Sequential(*_conv(cin, mid), *_conv(mid, cout))


def _init_weights(net: nn.Module) -> None:
    """The paper's initialization: conv weights N(0, 0.02), batch-norm scales N(1, 0.02), shifts 0."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _encode(blocks: nn.ModuleList, x: torch.Tensor) -> list[torch.Tensor]:
    """Each block's output, with a 2x max-pool before every block but the first."""
    outs = []
    for i, block in enumerate(blocks):
        x = block(F.max_pool2d(x, 2) if i else x)
        outs.append(x)
    return outs


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Bilinear upsampling to ``like``'s grid (exact sizes: odd sizes halve with a floor)."""
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=True)


def altered_texture(rng: np.random.Generator, texture: np.ndarray, count: int = 3) -> np.ndarray:
    """(H, W, 3) uint8 anomaly source after ``count`` distinct random augmentations (DRAEM's recipe)."""
    out = texture.astype(np.float32)
    for k in rng.choice(len(AUGMENTATIONS), size=count, replace=False):
        out = np.clip(AUGMENTATIONS[int(k)](rng, out), 0.0, 255.0)
    return out.astype(np.uint8)


class ReconstructiveNet(nn.Module):
    """Encoder (widths b, 2b, 4b, 8b, 8b; four 2x poolings) and decoder without skips, back to RGB."""

    def __init__(self, width: int) -> None:
        super().__init__()
        b = int(width)
        enc = [(3, b), (b, 2 * b), (2 * b, 4 * b), (4 * b, 8 * b), (8 * b, 8 * b)]
        self.encoder = nn.ModuleList([_block(i, o, o) for i, o in enc])
        dec = [8 * b, 4 * b, 2 * b, b, b]
        self.ups = nn.ModuleList([nn.Sequential(*_conv(c, c)) for c in dec[:-1]])
        self.decoder = nn.ModuleList([_block(c, c, o) for c, o in zip(dec[:-1], dec[1:])])
        self.out = nn.Conv2d(b, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        acts = _encode(self.encoder, x)
        h = acts[-1]
        for up, dec, like in zip(self.ups, self.decoder, acts[-2::-1]):
            h = dec(up(_up(h, like)))
        return self.out(h)


class DiscriminativeNet(nn.Module):
    """U-Net (widths b, 2b, 4b, 8b, 8b, 8b; five 2x poolings; skips) -> 2 logits (normal, anomalous) per pixel."""

    def __init__(self, width: int, in_channels: int = 6) -> None:
        super().__init__()
        b = int(width)
        enc = [(in_channels, b), (b, 2 * b), (2 * b, 4 * b), (4 * b, 8 * b), (8 * b, 8 * b), (8 * b, 8 * b)]
        self.encoder = nn.ModuleList([_block(i, o, o) for i, o in enc])
        ins, outs, skips = (
            [8 * b, 8 * b, 4 * b, 2 * b, b],
            [8 * b, 4 * b, 2 * b, b, b],
            [8 * b, 8 * b, 4 * b, 2 * b, b],
        )
        self.ups = nn.ModuleList([nn.Sequential(*_conv(i, o)) for i, o in zip(ins, outs)])
        self.decoder = nn.ModuleList([_block(o + s, o, o) for o, s in zip(outs, skips)])
        self.out = nn.Conv2d(b, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        acts = _encode(self.encoder, x)
        h = acts[-1]
        for up, dec, skip in zip(self.ups, self.decoder, acts[-2::-1]):
            h = dec(torch.cat([up(_up(h, skip)), skip], dim=1))
        return self.out(h)


class Draem(TrainedModel):
    """DRAEM anomaly detection: a segmentation network trained on simulated anomalies, helped by a reconstruction.

    Parameters: ``image_size``, ``resize_mode``; ``recon_width`` and ``disc_width`` (base widths of
    the reconstructive and discriminative sub-networks; paper 128 and 64); simulated anomalies:
    ``anomaly_ratio`` (share of training samples that get one), ``beta_max`` (texture opacity
    1 - beta, beta in [0, beta_max)), ``perlin_max_exponent`` and ``perlin_threshold`` (mask
    shapes), ``textures`` (how many procedural anomaly-source images); ``focal_gamma`` (focal
    loss focusing; 0 = cross-entropy); ``lr``, ``lr_milestones``
    (fractions of training) and ``lr_gamma``; ``epochs`` capped by ``max_iters`` /
    ``time_budget_s``; ``train_batch``; ``val_every``, ``patience``; ``pool_size`` (map
    smoothing); ``batch_size`` (inference); ``device``; ``seed``.
    """

    name = "draem"
    meta_keys = ("roi_", "image_size_")

    def __init__(
        self,
        image_size: tuple[int, int] = (256, 256),
        resize_mode: str = "stretch",
        recon_width: int = 128,
        disc_width: int = 64,
        anomaly_ratio: float = 0.5,
        beta_max: float = 0.8,
        perlin_max_exponent: int = 6,
        perlin_threshold: float = 0.5,
        textures: int = 200,
        focal_gamma: float = 2.0,
        lr: float = 1e-4,
        lr_milestones: tuple[float, float] = (0.8, 0.9),
        lr_gamma: float = 0.2,
        epochs: int = 700,
        max_iters: int | None = None,
        time_budget_s: float | None = None,
        train_batch: int = 8,
        val_every: int = 50,
        patience: int = 5,
        pool_size: int = 21,
        batch_size: int = 8,
        device: str = "auto",
        seed: int = 0,
    ) -> None:
        self.image_size = image_size
        self.resize_mode = resize_mode
        self.recon_width = recon_width
        self.disc_width = disc_width
        self.anomaly_ratio = anomaly_ratio
        self.beta_max = beta_max
        self.perlin_max_exponent = perlin_max_exponent
        self.perlin_threshold = perlin_threshold
        self.textures = textures
        self.focal_gamma = focal_gamma
        self.lr = lr
        self.lr_milestones = lr_milestones
        self.lr_gamma = lr_gamma
        self.epochs = epochs
        self.max_iters = max_iters
        self.time_budget_s = time_budget_s
        self.train_batch = train_batch
        self.val_every = val_every
        self.patience = patience
        self.pool_size = pool_size
        self.batch_size = batch_size
        self.device = device
        self.seed = seed
        self.nets_ = None
        self.history_: list[dict[str, float]] = []

    # -- networks ---------------------------------------------------------------------------------
    def _build_nets(self, for_loading: bool) -> dict[str, nn.Module]:
        nets = {
            "reconstructive": ReconstructiveNet(int(self.recon_width)),
            "discriminative": DiscriminativeNet(int(self.disc_width)),
        }
        for net in nets.values():
            _init_weights(net)
        return nets

    @staticmethod
    def _tensor(x: np.ndarray, device: torch.device) -> torch.Tensor:
        """(B, h, w, 3) uint8 -> (B, 3, h, w) float32 in [0, 1] (DRAEM uses no mean/std normalization)."""
        return torch.from_numpy(x).to(device).permute(0, 3, 1, 2).float().div(255.0)

    @staticmethod
    def _forward(nets: dict[str, nn.Module], x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction (B, 3, h, w), segmentation logits (B, 2, h, w)) of (B, 3, h, w) images in [0, 1]."""
        rec = nets["reconstructive"](x)
        return rec, nets["discriminative"](torch.cat([rec, x], dim=1))

    def _map(self, logits: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """(B, h, w): the anomaly channel's probability inside the ROI, average-pooled."""
        p = torch.softmax(logits, dim=1)[:, 1] * valid
        k = int(self.pool_size)
        if k > 1:
            p = F.avg_pool2d(p[:, None], k, stride=1, padding=k // 2)[:, 0]
        return p

    def _maps(self, x: np.ndarray, valid: np.ndarray, cancel: CancelToken) -> np.ndarray:
        device = next(self.nets_["discriminative"].parameters()).device
        _, logits = self._forward(self.nets_, self._tensor(x, device))
        return self._map(logits, torch.from_numpy(valid).to(device)).float().cpu().numpy()

    # -- fit ----------------------------------------------------------------------------------------
    def _check_params(self) -> None:
        k = int(self.pool_size)
        if k < 1 or k % 2 == 0:
            raise ValueError(f"pool_size: expected an odd number >= 1; found {self.pool_size}")
        if not 0.0 <= float(self.anomaly_ratio) <= 1.0 or not 0.0 <= float(self.beta_max) <= 1.0:
            raise ValueError(
                f"anomaly_ratio and beta_max: expected fractions in [0, 1]; found {self.anomaly_ratio}, "
                f"{self.beta_max}"
            )
        if int(self.textures) < 1 or int(self.recon_width) < 1 or int(self.disc_width) < 1:
            raise ValueError(
                f"textures, recon_width, disc_width: expected >= 1; found {self.textures}, "
                f"{self.recon_width}, {self.disc_width}"
            )
        if min(self._working_size()) < 32:
            raise ValueError(
                f"image_size: DRAEM pools five times; expected at least 32x32, found {self.image_size}"
            )

    def _synthesizer(self, texture: np.ndarray) -> AnomalySynthesizer:
        return AnomalySynthesizer(
            textures=texture[None],
            texture_prob=1.0,
            transparency=(1.0 - float(self.beta_max), 1.0),
            min_scale=0,
            max_scale=int(self.perlin_max_exponent),
            threshold=float(self.perlin_threshold),
        )

    def _simulate(
        self, rng: np.random.Generator, work: np.ndarray, valid: np.ndarray, textures: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Copies of (B, h, w, 3) uint8 images, a simulated anomaly on about ``anomaly_ratio`` of them, and (B, h, w) masks."""
        out, masks = work.copy(), np.zeros(work.shape[:3], bool)
        for i in range(len(work)):
            if rng.random() < float(self.anomaly_ratio):
                texture = altered_texture(rng, textures[int(rng.integers(len(textures)))])
                out[i], masks[i] = self._synthesizer(texture)(rng, work[i], valid[i])
        return out, masks

    def _loss(self, nets, clean, altered, masks, valid, device) -> torch.Tensor:
        """L2 + (1 - SSIM) of the reconstruction against the clean images, + focal loss of the segmentation."""
        target = self._tensor(clean, device)
        rec, logits = self._forward(nets, self._tensor(altered, device))
        v = torch.from_numpy(valid).to(device)
        l2 = masked_mean((rec - target).pow(2).mean(1), v)
        ssim = 1.0 - masked_mean(ssim_map(rec, target), v)
        focal = masked_mean(
            focal_loss_map(logits, torch.from_numpy(masks).to(device), float(self.focal_gamma)), v
        )
        return l2 + ssim + focal

    def fit(
        self,
        images: Any,
        roi: Any = None,
        progress: ProgressFn = no_progress,
        cancel: CancelToken = NEVER_CANCEL,
        val_images: Any = None,
        val_labels: Any = None,
    ) -> Draem:
        """Train both sub-networks on normal images ((H, W, 3) uint8 RGB) with simulated anomalies; returns self.

        ``val_images`` (+ ``val_labels``, 1 = defective) enable early stopping on image AUROC (without
        labels, on the loss over a fixed set of simulated anomalies on them); the best weights are kept.
        """
        self._check_params()
        images, roi_u8, work, valid = self._prepare_fit(images, roi)
        bs = max(1, int(self.train_batch))
        max_iters = self._iterations(len(work), bs)
        val = self._prepare_val(val_images, val_labels, roi_u8)
        device = resolve_device(self.device)
        rng = np.random.default_rng(self.seed)
        next_batch = batch_sampler(rng, len(work), bs)
        textures = procedural_images(
            int(self.textures), work.shape[1:3], seed=self.seed, photos=sample_photos()
        )
        with seeded(self.seed, device):
            nets = {k: v.to(device) for k, v in self._build_nets(for_loading=False).items()}
            params = [p for net in nets.values() for p in net.parameters()]
            opt = torch.optim.Adam(params, lr=float(self.lr))

            def step(it: int, frac: float) -> float:
                drops = sum(frac >= float(m) for m in self.lr_milestones)
                for g in opt.param_groups:
                    g["lr"] = float(self.lr) * float(self.lr_gamma) ** drops
                idx = next_batch()
                altered, masks = self._simulate(rng, work[idx], valid[idx], textures)
                for net in nets.values():
                    net.train()
                cancel.raise_if_cancelled()
                loss = self._loss(nets, work[idx], altered, masks, valid[idx], device)
                cancel.raise_if_cancelled()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                return float(loss.detach())

            validate = None if val is None else self._validator(nets, val, textures, device)
            history = self._run_training(nets, step, max_iters, progress, cancel, validate)
        self._set_fitted(nets, roi_u8, work, history)
        return self

    def _validator(self, nets, val, textures, device):
        work, valid, labels = val
        # One fixed set of simulated anomalies: the loss is comparable from one evaluation to the next.
        altered, masks = self._simulate(np.random.default_rng(int(self.seed) + 1), work, valid, textures)
        bs = max(1, int(self.batch_size))

        def validate() -> float:
            for net in nets.values():
                net.eval()
            scores, losses = [], []
            with torch.no_grad():
                for i in range(0, len(work), bs):
                    sl = slice(i, i + bs)
                    if labels is not None:
                        _, logits = self._forward(nets, self._tensor(work[sl], device))
                        m = self._map(logits, torch.from_numpy(valid[sl]).to(device))
                        scores.append(m.flatten(1).max(1).values.cpu().numpy())
                    else:
                        losses.append(
                            float(self._loss(nets, work[sl], altered[sl], masks[sl], valid[sl], device))
                        )
            if labels is not None:
                return -auroc(labels, np.concatenate(scores))
            return float(np.mean(losses))

        return validate
