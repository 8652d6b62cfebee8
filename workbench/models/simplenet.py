"""SimpleNet with RADL's options: a discriminator that tells normal patch features from noised ones.

Liu et al. 2023 (SimpleNet); Ma et al. (seed 004, RADL): letterbox padding instead of centre crop,
Fake Defect Feature Augmentation (Gaussian noise whose sigma is drawn in [low, high] per patch) and
the hardness-aware cross-entropy loss (logits divided by a temperature, tau = 0.5). Frozen backbone
features (PatchCore-style 3 x 3 aggregation of layer2 + layer3) pass a trainable linear adaptor; a
two-layer discriminator scores them; the anomaly map is minus its score, blurred.

The features are standardized per channel (mean and std over the training images' ROI cells) before
the adaptor, so the noise sigma is a fraction of each channel's natural spread whatever the
backbone; the standardization is folded into the adaptor after training (stored weights take raw
features). The seeds' sigma (0.015, SimpleNet; a range around it, RADL) is for raw WideResNet-50
features; on EfficientNet-Lite0 features (per-channel std about 3) that noise is so small that the
discriminator learns to spot the noise itself and scores real defects as more normal than normal
(demo station, front view: pixel AUROC 0.17). Noise of 0.1-0.5 standard deviations puts the fake
features just outside the normal cloud (pixel AUROC 0.99 on every demo view within 300 s).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.metrics import auroc
from workbench.models.backbones import FeatureExtractor
from workbench.models.base import resolve_device
from workbench.models.components.anomaly_map import gaussian_blur
from workbench.models.components.embedding import patch_embedding
from workbench.models.components.training import TrainedModel, check_budget, seeded, snapshots, train_loop
from workbench.models.components.working import grid_mask

LOSSES = ("hce", "margin")


def discriminator(dim: int, hidden: int, layers: int) -> nn.Sequential:
    """SimpleNet's discriminator: (Linear, BatchNorm, LeakyReLU) x (layers - 1), then Linear -> 1 logit."""
    mods: list[nn.Module] = []
    d = dim
    for _ in range(max(0, layers - 1)):
        mods += [nn.Linear(d, hidden), nn.BatchNorm1d(hidden), nn.LeakyReLU(0.2)]
        d = hidden
    mods.append(nn.Linear(d, 1, bias=False))
    net = nn.Sequential(*mods)
    for m in net.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_normal_(m.weight)
    return net


def hce_loss(true_logits: torch.Tensor, fake_logits: torch.Tensor, tau: float) -> torch.Tensor:
    """RADL's hardness-aware cross-entropy: BCE of normal -> 1 and fake -> 0 on logits / tau."""
    return F.binary_cross_entropy_with_logits(
        true_logits / tau, torch.ones_like(true_logits)
    ) + F.binary_cross_entropy_with_logits(fake_logits / tau, torch.zeros_like(fake_logits))


def margin_loss(true_logits: torch.Tensor, fake_logits: torch.Tensor, margin: float) -> torch.Tensor:
    """SimpleNet's truncated L1 loss: normal scores above +margin, fake ones below -margin."""
    return (margin - true_logits).clamp_min(0).mean() + (fake_logits + margin).clamp_min(0).mean()


class SimpleNet(TrainedModel):
    """SimpleNet/RADL anomaly detection: a discriminator on adapted backbone features, trained against feature noise.

    Parameters: ``backbone``, ``layers``, ``weights``, ``pretrained`` (feature extractor; default
    EfficientNet-Lite0 because its weights are installable, the papers use wide_resnet50_2);
    ``image_size`` and ``resize_mode`` ('pad' as RADL, or 'stretch'); ``patch_size`` and
    ``embed_dim`` (feature aggregation); ``hidden``, ``dis_layers`` (discriminator);
    ``noise_low``/``noise_high`` (FDFA sigma range in standard deviations of the standardized
    features; equal values give SimpleNet's fixed noise);
    ``loss`` ('hce' with ``tau``, or SimpleNet's 'margin' with ``margin``); ``lr``, ``adaptor_lr``,
    ``weight_decay``; ``epochs`` (passes over the training images; SimpleNet's 40 meta x 4 GAN
    epochs = 160) capped by ``max_iters`` / ``time_budget_s`` (300 s: a station of three views
    trains in 15 minutes on a 2-core CPU; None for the full schedule); ``train_batch``; ``val_every``,
    ``patience``; ``sigma`` (map smoothing); ``batch_size`` (feature extraction); ``device``;
    ``seed``.
    """

    name = "simplenet"
    meta_keys = ("roi_", "image_size_")

    def __init__(
        self,
        backbone: str = "efficientnet_lite0",
        layers: tuple[str, ...] = ("layer2", "layer3"),
        weights: str | None = None,
        pretrained: bool = True,
        image_size: tuple[int, int] = (256, 256),
        resize_mode: str = "pad",
        patch_size: int = 3,
        embed_dim: int = 1536,
        hidden: int = 1024,
        dis_layers: int = 2,
        noise_low: float = 0.1,
        noise_high: float = 0.5,
        loss: str = "hce",
        tau: float = 0.5,
        margin: float = 0.5,
        lr: float = 2e-4,
        adaptor_lr: float = 1e-4,
        weight_decay: float = 1e-5,
        epochs: int = 160,
        max_iters: int | None = None,
        time_budget_s: float | None = 300.0,
        train_batch: int = 8,
        val_every: int = 100,
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
        self.image_size = image_size
        self.resize_mode = resize_mode
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.hidden = hidden
        self.dis_layers = dis_layers
        self.noise_low = noise_low
        self.noise_high = noise_high
        self.loss = loss
        self.tau = tau
        self.margin = margin
        self.lr = lr
        self.adaptor_lr = adaptor_lr
        self.weight_decay = weight_decay
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
        self._extractor: FeatureExtractor | None = None
        self.history_: list[dict[str, float]] = []

    # -- networks ---------------------------------------------------------------------------------
    def _get_extractor(self, device: torch.device) -> FeatureExtractor:
        if self._extractor is None:
            self._extractor = FeatureExtractor(
                self.backbone, self.layers, weights=self.weights, pretrained=self.pretrained, seed=self.seed
            )
        return self._extractor.to(device)

    def _dim(self) -> int:
        total = sum(self._get_extractor(torch.device("cpu")).channels)
        return min(int(self.embed_dim), total)

    def _build_nets(self, for_loading: bool) -> dict[str, nn.Module]:
        d = self._dim()
        adaptor = nn.Linear(d, d)
        nn.init.xavier_normal_(adaptor.weight)
        return {"adaptor": adaptor, "discriminator": discriminator(d, int(self.hidden), int(self.dis_layers))}

    def _fill(self) -> tuple[int, int, int]:
        return self._get_extractor(torch.device("cpu")).fill_value

    def _embed(self, x: np.ndarray, device: torch.device, cancel: CancelToken) -> torch.Tensor:
        """(B, h, w, 3) uint8 -> (B, D, gh, gw) frozen patch features."""
        ext = self._get_extractor(device)
        with torch.no_grad():
            feats = ext(ext.normalize(torch.from_numpy(x).to(device)), cancel=cancel)
            return patch_embedding(feats, int(self.patch_size), int(self.embed_dim))

    def _score(self, nets: dict[str, nn.Module], emb: torch.Tensor) -> torch.Tensor:
        """(B, D, gh, gw) -> (B, gh, gw) anomaly = minus the discriminator logit."""
        b, d, h, w = emb.shape
        flat = emb.permute(0, 2, 3, 1).reshape(-1, d)
        return -nets["discriminator"](nets["adaptor"](flat)).view(b, h, w)

    def _maps(self, x: np.ndarray, valid: np.ndarray, cancel: CancelToken) -> np.ndarray:
        device = next(self.nets_["adaptor"].parameters()).device
        s = self._score(self.nets_, self._embed(x, device, cancel))
        m = F.interpolate(s[:, None], size=x.shape[1:3], mode="bilinear", align_corners=False)[:, 0]
        return gaussian_blur(m.float().cpu().numpy(), float(self.sigma))

    # -- fit ----------------------------------------------------------------------------------------
    def fit(
        self,
        images: Any,
        roi: Any = None,
        progress: ProgressFn = no_progress,
        cancel: CancelToken = NEVER_CANCEL,
        val_images: Any = None,
        val_labels: Any = None,
    ) -> SimpleNet:
        """Train adaptor and discriminator on normal images ((H, W, 3) uint8 RGB); returns self.

        ``val_images`` (+ ``val_labels``, 1 = defective) enable early stopping on image AUROC (on the
        validation loss without labels); the best weights are kept.
        """
        if self.loss not in LOSSES:
            raise ValueError(f"loss: expected one of {LOSSES}; found {self.loss!r}")
        if not 0 <= float(self.noise_low) <= float(self.noise_high) or float(self.noise_high) <= 0:
            raise ValueError(
                f"noise_low/noise_high: expected 0 <= low <= high, high > 0; found {self.noise_low}, {self.noise_high}"
            )
        t_fit = time.perf_counter()
        images, roi_u8, work, valid = self._prepare_fit(images, roi)
        n = len(work)
        bs = max(1, int(self.train_batch))
        max_iters = (
            int(self.max_iters) if self.max_iters is not None else int(self.epochs) * math.ceil(n / bs)
        )
        check_budget(max_iters, self.time_budget_s, self.val_every, self.patience)
        val = self._prepare_val(val_images, val_labels, roi_u8)
        device = resolve_device(self.device)
        rng = np.random.default_rng(self.seed)
        with seeded(self.seed, device):
            nets = {k: v.to(device) for k, v in self._build_nets(for_loading=False).items()}
            adaptor, dis = nets["adaptor"], nets["discriminator"]
            # Frozen features are the same every epoch: computed once, kept in float16 on the CPU.
            embs, masks = [], []
            for i in range(0, n, max(1, int(self.batch_size))):
                cancel.raise_if_cancelled()
                e = self._embed(work[i : i + self.batch_size], device, cancel)
                embs.append(e.half().cpu())
                masks.append(torch.from_numpy(grid_mask(valid[i : i + self.batch_size], e.shape[-2:])))
            embs_t, masks_t = torch.cat(embs), torch.cat(masks)
            # Features standardized per channel (training ROI patches): the noise sigma is then relative
            # to each channel's spread whatever the backbone (the seeds' sigmas are for WideResNet-50
            # features); folded into the adaptor after training, so the stored weights take raw features.
            mean, std = self._feature_stats(embs_t, masks_t, device)
            opt = torch.optim.Adam(
                [
                    {"params": adaptor.parameters(), "lr": float(self.adaptor_lr)},
                    {
                        "params": dis.parameters(),
                        "lr": float(self.lr),
                        "weight_decay": float(self.weight_decay),
                    },
                ]
            )
            order: list[int] = []

            def patches(idx: np.ndarray, emb_all: torch.Tensor, mask_all: torch.Tensor) -> torch.Tensor:
                e = emb_all[idx].to(device).float()
                keep = mask_all[idx].to(device).reshape(-1) > 0
                return (e.permute(0, 2, 3, 1).reshape(-1, e.shape[1])[keep] - mean) / std

            def losses(true: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
                f = adaptor(true)
                sig = torch.empty(f.shape[0], 1, device=device)
                if gen is None:
                    sig.uniform_(float(self.noise_low), float(self.noise_high))
                    noise = torch.randn(f.shape, device=device) * sig
                else:
                    sig.copy_(torch.rand(f.shape[0], 1, generator=gen).to(device))
                    sig = float(self.noise_low) + sig * (float(self.noise_high) - float(self.noise_low))
                    noise = torch.randn(f.shape, generator=gen).to(device) * sig
                logits = dis(torch.cat([f, f + noise]))
                t, fk = logits[: len(f)], logits[len(f) :]
                if self.loss == "hce":
                    return hce_loss(t, fk, float(self.tau))
                return margin_loss(t, fk, float(self.margin))

            def step(it: int, frac: float) -> float:
                if len(order) < bs:
                    order.extend(rng.permutation(n).tolist())
                idx = np.array([order.pop(0) for _ in range(min(bs, n))])
                true = patches(idx, embs_t, masks_t)
                adaptor.train()
                dis.train()
                loss = losses(true, None)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                return float(loss.detach())

            validate = snapshot = restore = None
            if val is not None:
                validate = self._validator(nets, val, device, cancel, patches, losses, (mean, std))
                snapshot, restore = snapshots(nets)
            budget = None  # time_budget_s covers the whole fit: the loop gets what feature extraction left
            if self.time_budget_s is not None:
                budget = max(float(self.time_budget_s) - (time.perf_counter() - t_fit), 1e-3)
            history = train_loop(
                step, max_iters, budget, progress, cancel,
                validate, int(self.val_every), int(self.patience), snapshot, restore,
            )  # fmt: skip
            with torch.no_grad():  # adaptor((f - mean) / std) == adaptor'(f)
                w = adaptor.weight / std[None, :]
                adaptor.bias.sub_(w @ mean)
                adaptor.weight.copy_(w)
        for net in nets.values():
            net.eval()
        self.roi_ = roi_u8
        self.image_size_ = np.asarray(work.shape[1:3], np.int64)
        self.history_ = history
        self.nets_ = nets
        return self

    @staticmethod
    def _feature_stats(embs: torch.Tensor, masks: torch.Tensor, device: torch.device):
        """Per-channel mean and std (D,) float32 of (N, D, h, w) features over cells where masks > 0."""
        d = embs.shape[1]
        acc = torch.zeros(3, d, dtype=torch.float64)
        for e, m in zip(embs, masks):
            f = e.double().reshape(d, -1)[:, m.reshape(-1) > 0]
            acc[0] += f.shape[1]
            acc[1] += f.sum(1)
            acc[2] += f.pow(2).sum(1)
        count = acc[0].clamp_min(1.0)
        mean = acc[1] / count
        std = (acc[2] / count - mean.pow(2)).clamp_min(0).sqrt()
        std = std.clamp_min(max(float(std.mean()) * 1e-3, 1e-6))  # constant channels: no blow-up
        return mean.float().to(device), std.float().to(device)

    def _validator(self, nets, val, device, cancel, patches, losses, stats):
        work, valid, labels = val
        mean, std = stats
        embs = [
            self._embed(work[i : i + self.batch_size], device, cancel)
            for i in range(0, len(work), self.batch_size)
        ]
        emb = torch.cat(embs)
        mask = torch.from_numpy(grid_mask(valid, emb.shape[-2:]))
        emb_std = (emb - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)

        def validate() -> float:
            for v in nets.values():
                v.eval()
            with torch.no_grad():
                if labels is not None:
                    s = self._score(nets, emb_std) * mask.to(device)
                    return -auroc(labels, s.flatten(1).max(1).values.cpu().numpy())
                gen = torch.Generator().manual_seed(self.seed)  # same noise at every evaluation
                return float(losses(patches(np.arange(len(work)), emb, mask), gen))

        return validate
