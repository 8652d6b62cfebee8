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

Two recipes (``schedule``; 'auto' picks 'paper' on CUDA and 'cpu' otherwise; explicit values win):
- 'paper': 256 x 256, widths 128 and 64, the paper's training above. On two CPU cores it peaks at
  11-12 GB and predicts in 2.1 s per image.
- 'cpu': 96 x 128, widths 16 and 16, Adam lr 1e-3, 600 iterations of batch 4, pooling 11. The
  network's cost grows with the square of its width and with the pixels: this is about 1/200th of
  the paper's per image, a fixed amount of work (not a time budget) so a fit is the same on a busy
  machine; the measured figures are in the README's model table.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from workbench.models import params as P
from workbench.models.components.anomaly_synthesis import AUGMENTATIONS, AnomalySynthesizer
from workbench.models.components.forward import InputStage, MapTail
from workbench.models.components.losses import focal_loss_map, masked_mean, ssim_map
from workbench.models.components.procedural import procedural_images, sample_photos
from workbench.models.components.training import optimizer_step
from workbench.models.trained import FitData, TrainedModel


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


class DraemForward(nn.Module):
    """(B, h, w, 3) uint8 -> (scores, maps): the segmentation's anomaly probability, average-pooled, 0 outside the ROI."""

    def __init__(
        self, nets: dict[str, nn.Module], valid: np.ndarray, fill: tuple[int, int, int], pool_size: int
    ):
        super().__init__()
        self.input = InputStage((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), valid, fill)  # [0, 1], no mean/std
        self.reconstructive, self.discriminative = nets["reconstructive"], nets["discriminative"]
        self.pool_size = int(pool_size)
        self.tail = MapTail(valid)

    def segment(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction (B, 3, h, w), segmentation logits (B, 2, h, w)) of (B, 3, h, w) images in [0, 1]."""
        rec = self.reconstructive(x)
        return rec, self.discriminative(torch.cat([rec, x], dim=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, logits = self.segment(self.input(x))
        p = torch.softmax(logits, dim=1)[:, 1] * self.tail.valid
        k = self.pool_size
        if k > 1:
            p = F.avg_pool2d(p[:, None], k, stride=1, padding=k // 2)[:, 0]
        return self.tail(p)


CPU_RECIPE = {
    "image_size": (96, 128), "recon_width": 16, "disc_width": 16, "lr": 1e-3, "epochs": None,
    "max_iters": 600, "train_batch": 4, "pool_size": 11,
}  # fmt: skip


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
    schedules = {
        # The paper's (a GPU's): 256 x 256, widths 128 and 64, 700 epochs of batch 8 at lr 1e-4.
        "paper": {
            "image_size": (256, 256), "recon_width": 128, "disc_width": 64, "lr": 1e-4, "epochs": 700,
            "max_iters": None, "train_batch": 8, "pool_size": 21,
        },
        # A CPU's (see the module doc): a fixed number of iterations, not a time budget, so a fit is the
        # same on a quiet and on a busy machine.
        "cpu": CPU_RECIPE,
    }  # fmt: skip
    params = {
        "schedule": P.schedule(("paper", "cpu")),
        # DRAEM pools five times: smaller images have no cell left.
        "image_size": P.size(None, low=32, optional=True),
        "resize_mode": P.choice("stretch", ("stretch", "pad")),
        "recon_width": P.integer(None, 1, optional=True),
        "disc_width": P.integer(None, 1, optional=True),
        "anomaly_ratio": P.number(0.5, 0.0, 1.0),
        "beta_max": P.number(0.8, 0.0, 1.0),
        "perlin_max_exponent": P.integer(6, 1, 12),
        "perlin_threshold": P.number(0.5, 0.0, 1.0),
        "textures": P.integer(200, 1),
        "focal_gamma": P.number(2.0, 0.0),
        "lr": P.number(None, 0.0, low_open=True, optional=True),
        "lr_milestones": P.pair((0.8, 0.9), 0.0, 1.0),
        "lr_gamma": P.number(0.2, 0.0, 1.0, low_open=True),
        **P.training_params(train_batch=None, val_every=50, scheduled=True),
        "pool_size": P.integer(None, 1, 255, odd=True, optional=True),
        **P.run_params(batch_size=8),
    }

    # Opaque simulated anomalies on every sample: the tiny U-Net learns to segment in 100 steps.
    quick_params = dict(
        image_size=(48, 64), recon_width=8, disc_width=8, textures=4, anomaly_ratio=1.0, beta_max=0.0,
        max_iters=100, train_batch=4, lr=2e-3, pool_size=1, device="cpu",
    )  # fmt: skip

    def _build_nets(self, for_loading: bool) -> dict[str, nn.Module]:
        recon, disc = (
            self._loaded_widths
            if for_loading and self._loaded_widths
            else (int(self.setting("recon_width")), int(self.setting("disc_width")))
        )
        nets = {"reconstructive": ReconstructiveNet(recon), "discriminative": DiscriminativeNet(disc)}
        for net in nets.values():
            _init_weights(net)
        return nets

    _loaded_widths: tuple[int, int] | None = None

    def load_state_dict(self, state):
        # The widths a run was fitted with are in its weights (the recipe in effect may differ here).
        try:
            self._loaded_widths = (
                int(np.shape(state["net.reconstructive.out.weight"])[1]),
                int(np.shape(state["net.discriminative.out.weight"])[1]),
            )
        except KeyError:
            self._loaded_widths = None
        return super().load_state_dict(state)

    def _forward(self, nets: dict[str, nn.Module], data: FitData | None) -> DraemForward:
        return DraemForward(nets, self._valid(data), self._fill(), int(self.setting("pool_size")))

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

    def _loss(self, fwd: DraemForward, clean, altered, masks, valid, device) -> torch.Tensor:
        """L2 + (1 - SSIM) of the reconstruction against the clean images, + focal loss of the segmentation."""
        target = fwd.input(torch.from_numpy(clean).to(device))
        rec, logits = fwd.segment(fwd.input(torch.from_numpy(altered).to(device)))
        v = torch.from_numpy(valid).to(device)
        l2 = masked_mean((rec - target).pow(2).mean(1), v)
        ssim = 1.0 - masked_mean(ssim_map(rec, target), v)
        focal = masked_mean(
            focal_loss_map(logits, torch.from_numpy(masks).to(device), float(self.focal_gamma)), v
        )
        return l2 + ssim + focal

    def _prepare(self, nets: dict[str, nn.Module], data: FitData):
        next_batch = self._sampler(data)
        textures = procedural_images(
            int(self.textures), data.work.shape[1:3], seed=self.seed, photos=sample_photos()
        )
        fwd = self._live_forward(nets, data)
        if (
            data.val is not None and data.val[2] is None
        ):  # one fixed set of anomalies: comparable between evaluations
            work, valid, _ = data.val
            data.extra["val_altered"] = self._simulate(
                np.random.default_rng(int(self.seed) + 1), work, valid, textures
            )
        params = [p for net in nets.values() for p in net.parameters()]
        lr = float(self.setting("lr"))
        opt = torch.optim.Adam(params, lr=lr)

        def loss_of(frac: float) -> torch.Tensor:
            drops = sum(frac >= float(m) for m in self.lr_milestones)
            for g in opt.param_groups:
                g["lr"] = lr * float(self.lr_gamma) ** drops
            idx = next_batch()
            altered, masks = self._simulate(data.rng, data.work[idx], data.valid[idx], textures)
            data.cancel.raise_if_cancelled()
            return self._loss(fwd, data.work[idx], altered, masks, data.valid[idx], data.device)

        return optimizer_step(nets, opt, loss_of)

    def _val_loss(self, nets: dict[str, nn.Module], data: FitData, rows: slice) -> float:
        work, valid, _ = data.val
        altered, masks = data.extra["val_altered"]
        fwd = data.extra["forward"]
        return float(self._loss(fwd, work[rows], altered[rows], masks[rows], valid[rows], data.device))
