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

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from workbench.models import params as P
from workbench.models.backbones import UsesBackbone
from workbench.models.components.forward import MapTail, PatchFeatures
from workbench.models.components.training import optimizer_step
from workbench.models.components.working import grid_mask
from workbench.models.trained import FitData, TrainedModel

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


class Standardize(nn.Module):
    """(N, D) features in units of per-channel ``mean`` and ``std`` (during training; folded into the adaptor after)."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return (f - self.mean) / self.std


class SimpleNetForward(nn.Module):
    """(B, h, w, 3) uint8 -> (scores, maps): minus the discriminator's logit on adapted patch features,
    upsampled and blurred; 0 outside the ROI."""

    def __init__(self, features: PatchFeatures, nets: dict[str, nn.Module], valid: np.ndarray, sigma: float,
                 standardize: nn.Module | None = None) -> None:  # fmt: skip
        super().__init__()
        self.features = features
        self.standardize = standardize if standardize is not None else nn.Identity()
        self.adaptor, self.discriminator = nets["adaptor"], nets["discriminator"]
        self.tail = MapTail(valid, sigma)

    def score(self, emb: torch.Tensor) -> torch.Tensor:
        """(B, D, gh, gw) patch features -> (B, gh, gw) anomaly = minus the discriminator logit."""
        b, d, h, w = emb.shape
        flat = self.standardize(emb.permute(0, 2, 3, 1).reshape(-1, d))
        return -self.discriminator(self.adaptor(flat)).view(b, h, w)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.tail(self.score(self.features(x)))


class SimpleNet(UsesBackbone, TrainedModel):
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
    params = {
        **P.backbone_params(("layer2", "layer3")),
        **P.working_params((256, 256), "pad"),
        "patch_size": P.integer(3, 1, 15, odd=True),
        "embed_dim": P.integer(1536, 1),
        "hidden": P.integer(1024, 1),
        "dis_layers": P.integer(2, 1),
        "noise_low": P.number(0.1, 0.0),
        "noise_high": P.number(0.5, 0.0, low_open=True),
        "loss": P.choice("hce", LOSSES),
        "tau": P.number(0.5, 0.0, low_open=True),
        "margin": P.number(0.5, 0.0),
        "lr": P.number(2e-4, 0.0, low_open=True),
        "adaptor_lr": P.number(1e-4, 0.0, low_open=True),
        "weight_decay": P.number(1e-5, 0.0),
        **P.training_params(epochs=160, time_budget_s=300.0, train_batch=8, val_every=100),
        "sigma": P.number(4.0, 0.0, 64.0),
        **P.run_params(batch_size=8),
    }

    # Tiny CPU settings for workbench.models.checks (random weights: the checks are about the engine).
    quick_params = dict(
        backbone="resnet18", pretrained=False, image_size=(48, 64), embed_dim=64, hidden=32, max_iters=15,
        device="cpu",
    )  # fmt: skip

    def _check_more(self) -> None:
        if not float(self.noise_low) <= float(self.noise_high):
            raise ValueError(
                f"noise_low={self.noise_low}, noise_high={self.noise_high}: expected low <= high"
            )

    # -- networks ---------------------------------------------------------------------------------
    def _features(self, valid: np.ndarray) -> PatchFeatures:
        return PatchFeatures(self._backbone(), valid, int(self.patch_size), int(self.embed_dim))

    def _build_nets(self, for_loading: bool) -> dict[str, nn.Module]:
        d = min(int(self.embed_dim), sum(self._backbone().channels))
        adaptor = nn.Linear(d, d)
        nn.init.xavier_normal_(adaptor.weight)
        return {"adaptor": adaptor, "discriminator": discriminator(d, int(self.hidden), int(self.dis_layers))}

    def _forward(self, nets: dict[str, nn.Module], data: FitData | None) -> SimpleNetForward:
        valid = self._valid(data)
        standardize = None if data is None else data.extra["standardize"]
        return SimpleNetForward(self._features(valid), nets, valid, float(self.sigma), standardize)

    # -- training -----------------------------------------------------------------------------------
    def _prepare(self, nets: dict[str, nn.Module], data: FitData):
        device = data.device
        adaptor, dis = nets["adaptor"], nets["discriminator"]
        features = self._features(self._valid(data)).to(device)
        # Frozen features are the same every epoch: computed once, kept in float16 on the CPU.
        embs, masks = self._embed_all(features, data.work, data.valid, data)
        # Features standardized per channel (training ROI patches): the noise sigma is then relative
        # to each channel's spread whatever the backbone (the seeds' sigmas are for WideResNet-50
        # features); folded into the adaptor after training, so the stored weights take raw features.
        standardize = Standardize(*self._feature_stats(embs, masks, device))
        data.extra["standardize"] = standardize
        opt = torch.optim.Adam(
            [
                {"params": adaptor.parameters(), "lr": float(self.adaptor_lr)},
                {"params": dis.parameters(), "lr": float(self.lr), "weight_decay": float(self.weight_decay)},
            ]
        )
        next_batch = self._sampler(data)

        def patches(idx, emb_all: torch.Tensor, mask_all: torch.Tensor) -> torch.Tensor:
            e = emb_all[idx].to(device).float()
            keep = mask_all[idx].to(device).reshape(-1) > 0
            return standardize(e.permute(0, 2, 3, 1).reshape(-1, e.shape[1])[keep])

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

        if data.val is not None and data.val[2] is None:
            vembs, vmasks = self._embed_all(features, data.val[0], data.val[1], data)

            def val_loss(rows: slice) -> float:
                gen = torch.Generator().manual_seed(int(self.seed) + rows.start)  # the same noise every time
                return float(losses(patches(np.arange(len(vembs))[rows], vembs, vmasks), gen))

            data.extra["val_loss"] = val_loss

        return optimizer_step(nets, opt, lambda frac: losses(patches(next_batch(), embs, masks), None))

    def _embed_all(self, features: PatchFeatures, work: np.ndarray, valid: np.ndarray, data: FitData):
        """(N, D, gh, gw) float16 CPU features of uint8 working images and their (N, gh, gw) ROI cells."""
        embs, masks = [], []
        bs = max(1, int(self.batch_size))
        for i in range(0, len(work), bs):
            data.cancel.raise_if_cancelled()
            with torch.no_grad():
                e = features(torch.from_numpy(work[i : i + bs]).to(data.device))
            embs.append(e.half().cpu())
            masks.append(torch.from_numpy(grid_mask(valid[i : i + bs], e.shape[-2:])))
        return torch.cat(embs), torch.cat(masks)

    def _val_loss(self, nets: dict[str, nn.Module], data: FitData, rows: slice) -> float:
        return data.extra["val_loss"](rows)

    def _finish(self, nets: dict[str, nn.Module], data: FitData) -> dict[str, np.ndarray]:
        standardize, adaptor = data.extra["standardize"], nets["adaptor"]
        with torch.no_grad():  # adaptor((f - mean) / std) == adaptor'(f)
            w = adaptor.weight / standardize.std[None, :]
            adaptor.bias.sub_(w @ standardize.mean)
            adaptor.weight.copy_(w)
        return {}

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
