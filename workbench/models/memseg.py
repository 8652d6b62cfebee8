"""MemSeg: a segmentation network trained on pasted synthetic anomalies, told where an image differs from its closest normal memory.

Yang et al. 2023 (seed 000: 256 x 256, ResNet18, 30 memory images, grid 8, Perlin-noise anomaly
synthesis with transparency 0.8-1.0, loss 0.7 focal + 0.3 L1, AdamW lr 0.003 with cosine warm-up,
15,000 iterations of batch 8). A frozen encoder gives multi-scale features (layers 1-3, and layer 4
for the decoder's start); the memory holds the layer 1-3 features of ``memory_size`` normal
training images. For an input, the memory image with the smallest mean squared feature distance
(summed over the levels) is chosen and the squared differences are concatenated with the input's
features (MemSeg's "concatenated information"). A multi-scale feature fusion (3 x 3 convolution
times coordinate attention per level, then top-down addition) follows, each level weighted by a
spatial attention map (the channel mean of the differences, multiplied coarse to fine), and a
U-Net-like decoder with a shallow image branch predicts normal/anomalous logits. Training images get
synthetic anomalies (:mod:`components.anomaly_synthesis`: Perlin mask inside the ROI, procedural
texture or scrambled-grid structure source) and their exact masks are the targets. Map: the
anomalous-class probability, blurred (``sigma``); image score: its maximum.

Deviations, each for the workbench's setting: the encoder is frozen entirely (the paper fine-tunes
its last stage) so the memory stays valid while the decoder trains; features are standardized with
the memory's channel statistics and differences enter as log(1 + d^2), the attention factors as
d / (1 + d) (backbones differ by orders of magnitude in feature scale, and the attention multiplies
three levels: unbounded, a real defect far stronger than the synthetic ones lands where the decoder
never learned anything); a training image never matches itself in the memory (its differences
would be zero outside the pasted anomaly, which never happens on a new image); the logits come at
half resolution and are upsampled (a full-resolution convolution costs most of a CPU step and the
map is blurred anyway). The seed's texture probability 0.9 is ``texture_prob`` (texture rather than
structure source); ``anomaly_ratio`` 0.5 is the reference code's one anomalous sample in two.

Two recipes (``schedule``; 'auto' picks 'paper' on CUDA and 'cpu' otherwise; explicit values win):
- 'paper': 256 x 256, lr 0.003, 15,000 iterations of batch 8 (the seed's training above).
- 'cpu': 128 x 128, 500 iterations of batch 8 at the seed's rate (the same warm-up and cosine), a
  fixed amount of work (not a time budget) so a fit is the same on a quiet and on a busy machine.
  A step costs about 0.2 CPU s on two cores; on the demo station (14 training images per view) pixel
  AUROC was 0.96 after 100 iterations and 0.98 at 200-300 of a 500-iteration schedule; the measured
  figures are in the README.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from workbench.models import params as P
from workbench.models.backbones import BACKBONES, FeatureExtractor, UsesBackbone
from workbench.models.components.anomaly_synthesis import AnomalySynthesizer
from workbench.models.components.forward import BackboneForward, InputStage, const
from workbench.models.components.procedural import procedural_images, sample_photos
from workbench.models.components.training import optimizer_step
from workbench.models.memseg_net import (
    MEMORY_LEVELS,
    Memory,
    MemSegHead,
    channel_stats,
    focal_l1_loss,
    memory_differences,
    resize,
    standardize,
)
from workbench.models.trained import FitData, TrainedModel


def warmup_cosine(frac: float, lr: float, min_lr: float, warmup: float) -> float:
    """Learning rate at ``frac`` of training: linear from ``min_lr`` to ``lr`` over ``warmup``, then cosine back."""
    if frac < warmup:
        return min_lr + (lr - min_lr) * frac / warmup
    t = (frac - warmup) / max(1e-12, 1.0 - warmup)
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * min(1.0, t)))


CPU_RECIPE = {"image_size": (128, 128), "lr": 0.003, "epochs": None, "max_iters": 500, "train_batch": 8}


class MemSegForward(BackboneForward):
    """(B, h, w, 3) uint8 -> (scores, maps): the decoder's anomalous-class probability given the closest memory
    image's differences, blurred, 0 outside the ROI."""

    def __init__(
        self, encoder: FeatureExtractor, head: nn.Module, memory: Memory, valid: np.ndarray, sigma: float
    ):
        super().__init__(encoder, valid, sigma)
        self.head = head
        self.levels, self.layers = len(memory.features), len(memory.stats)
        for i, m in enumerate(memory.features):
            self.register_buffer(f"memory{i}", m)
        for i, st in enumerate(memory.stats):
            self.register_buffer(f"stats{i}", st)

    def memory(self) -> Memory:
        return Memory(
            [getattr(self, f"memory{i}") for i in range(self.levels)],
            [getattr(self, f"stats{i}") for i in range(self.layers)],
        )

    def logits(self, x: torch.Tensor, exclude: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 2, h, w) normal/anomalous logits of a (B, h, w, 3) uint8 batch (``exclude``: memory slot per input)."""
        memory = self.memory()
        image = self.input(x)
        feats = standardize(self.backbone(image), memory.stats)
        diffs = memory_differences(feats[: self.levels], memory.features, exclude)
        return resize(self.head(image, feats, diffs), self.tail.size)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.tail(self.logits(x).softmax(1)[:, 1])


class MemSeg(UsesBackbone, TrainedModel):
    """MemSeg anomaly segmentation: a decoder trained on synthetic anomalies, guided by the closest normal memory image.

    Parameters: ``backbone``, ``weights``, ``pretrained`` (the frozen encoder; default
    EfficientNet-Lite0 because its weights install with the workbench; the seed's configuration is
    ``backbone='resnet18', weights='resnet18.pth'``, a torchvision state dict, or
    ``pretrained=False`` for its untrained encoder); ``image_size``, ``resize_mode``;
    ``memory_size`` (normal images in the memory); the anomaly synthesis: ``anomaly_ratio``
    (training images given an anomaly), ``texture_prob`` (texture rather than structure source),
    ``texture_count`` (procedural texture images), ``grid_size`` (structure cells),
    ``transparency`` (opacity range), ``perlin_scale``/``perlin_min_scale`` (2**k noise cells, k in
    [min, scale)), ``perlin_threshold``; the loss: ``focal_weight``, ``l1_weight``,
    ``focal_gamma``; AdamW ``lr``, ``weight_decay`` with a cosine schedule down to ``min_lr`` after
    ``warmup_ratio`` of the budget; ``max_iters`` / ``time_budget_s``; ``train_batch``;
    ``val_every``, ``patience``; ``sigma`` (map smoothing); ``batch_size`` (inference);
    ``device``; ``seed``.
    """

    name = "memseg"
    schedules = {
        "paper": {
            "image_size": (256, 256),
            "lr": 0.003,
            "epochs": None,
            "max_iters": 15000,
            "train_batch": 8,
        },
        # A fixed amount of work (not a time budget): the same fit on a quiet and on a busy machine.
        "cpu": CPU_RECIPE,
    }
    # The encoder's layers (read by UsesBackbone._backbone): fixed by the architecture.
    layers = MEMORY_LEVELS + ("layer4",)
    meta_keys = (
        ("roi_", "image_size_")
        + tuple(f"memory_{level}_" for level in MEMORY_LEVELS)
        + tuple(f"stats_{level}_" for level in layers)
    )
    params = {
        "backbone": P.choice("efficientnet_lite0", BACKBONES),
        "weights": P.path(None),
        "pretrained": P.flag(True),
        "schedule": P.schedule(("paper", "cpu")),
        "image_size": P.size(None, optional=True),
        "resize_mode": P.choice("stretch", ("stretch", "pad")),
        "memory_size": P.integer(30, 1),
        "anomaly_ratio": P.number(0.5, 0.0, 1.0),
        "texture_prob": P.number(0.9, 0.0, 1.0),
        "texture_count": P.integer(64, 1),
        "grid_size": P.integer(8, 1),
        "transparency": P.pair((0.8, 1.0), 0.0, 1.0),
        "perlin_scale": P.integer(5, 1, 12),
        "perlin_min_scale": P.integer(3, 0, 11),
        "perlin_threshold": P.number(0.5, 0.0, 1.0),
        "focal_weight": P.number(0.7, 0.0),
        "l1_weight": P.number(0.3, 0.0),
        "focal_gamma": P.number(4.0, 0.0),
        "lr": P.number(None, 0.0, low_open=True, optional=True),
        "weight_decay": P.number(5e-4, 0.0),
        "min_lr": P.number(1e-4, 0.0, low_open=True),
        "warmup_ratio": P.number(0.2, 0.0, 1.0),
        **P.training_params(train_batch=None, val_every=100, scheduled=True),
        "sigma": P.number(4.0, 0.0, 64.0),
        **P.run_params(batch_size=8),
    }

    # Large Perlin blobs on every sample: the decoder learns to segment in 30 steps.
    quick_params = dict(
        backbone="efficientnet_lite0", pretrained=False, image_size=(48, 64), memory_size=4,
        anomaly_ratio=1.0, texture_count=4, perlin_scale=3, perlin_min_scale=1, max_iters=30, train_batch=4,
        device="cpu",
    )  # fmt: skip

    def _check_more(self) -> None:
        if not int(self.perlin_min_scale) < int(self.perlin_scale):
            raise ValueError(
                f"perlin_min_scale={self.perlin_min_scale}, perlin_scale={self.perlin_scale}: expected min < scale"
            )
        lr = self.setting("lr")
        if not float(self.warmup_ratio) < 1.0 or not float(self.min_lr) <= float(lr):
            raise ValueError(
                f"warmup_ratio={self.warmup_ratio}, min_lr={self.min_lr}, lr={lr}: expected warmup < 1 "
                f"and min_lr <= lr"
            )

    # -- parts ------------------------------------------------------------------------------------
    def _build_nets(self, for_loading: bool) -> dict[str, nn.Module]:
        return {"head": MemSegHead(self._backbone().channels)}

    def _forward(self, nets: dict[str, nn.Module], data: FitData | None) -> MemSegForward:
        if data is not None:
            memory = data.extra["memory"]
        else:
            memory = Memory(
                [const(getattr(self, f"memory_{lv}_")) for lv in MEMORY_LEVELS],
                [const(getattr(self, f"stats_{lv}_")) for lv in self.layers],
            )
        return MemSegForward(self._backbone(), nets["head"], memory, self._valid(data), float(self.sigma))

    def _synthesizer(self, size: tuple[int, int]) -> AnomalySynthesizer:
        textures = procedural_images(
            int(self.texture_count), size, seed=int(self.seed), photos=sample_photos()
        )
        return AnomalySynthesizer(
            textures,
            texture_prob=float(self.texture_prob),
            grid=int(self.grid_size),
            transparency=tuple(float(v) for v in self.transparency),
            min_scale=int(self.perlin_min_scale),
            max_scale=int(self.perlin_scale),
            threshold=float(self.perlin_threshold),
        )

    def _with_anomalies(
        self, rng: np.random.Generator, synth: AnomalySynthesizer, work: np.ndarray, valid: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(B, h, w, 3) uint8 images, ``anomaly_ratio`` of them with a pasted anomaly, and (B, h, w) float32 masks."""
        out, masks = work.copy(), np.zeros(work.shape[:3], np.float32)
        for i in range(len(work)):
            if rng.random() < float(self.anomaly_ratio):
                out[i], m = synth(rng, work[i], valid[i])
                masks[i] = m
        return out, masks

    def _build_memory(self, data: FitData) -> tuple[Memory, dict[int, int]]:
        """The memory of ``memory_size`` random training images, and {image index: memory slot}."""
        n = len(data.work)
        chosen = np.sort(data.rng.choice(n, size=min(int(self.memory_size), n), replace=False))
        encoder = self._backbone(data.device)
        inp = InputStage(encoder.mean, encoder.std, None, encoder.fill_value).to(data.device)
        parts: list[list[torch.Tensor]] = [[] for _ in self.layers]
        bs = max(1, int(self.batch_size))
        for start in range(0, len(chosen), bs):
            data.cancel.raise_if_cancelled()
            with torch.no_grad():
                feats = encoder(inp(torch.from_numpy(data.work[chosen[start : start + bs]]).to(data.device)))
            for part, f in zip(parts, feats):
                part.append(f)
        feats = [torch.cat(p) for p in parts]
        stats = [channel_stats(f) for f in feats]
        # C-ordered float32 copies, as a stored state is read back: the encoder's channels-last outputs
        # would take another (not bit-identical) matmul path.
        memory = Memory(
            [const(f.float().cpu().numpy()).to(data.device) for f in standardize(feats[:3], stats)],
            [const(st.float().cpu().numpy()).to(data.device) for st in stats],
        )
        return memory, {int(i): k for k, i in enumerate(chosen)}

    def _focal_l1(self, logits: torch.Tensor, masks: np.ndarray, valid: np.ndarray) -> torch.Tensor:
        device = logits.device
        return focal_l1_loss(
            logits,
            torch.from_numpy(masks).to(device),
            torch.from_numpy(valid.astype(np.float32)).to(device),
            float(self.focal_gamma),
            float(self.focal_weight),
            float(self.l1_weight),
        )

    # -- training -----------------------------------------------------------------------------------
    def _prepare(self, nets: dict[str, nn.Module], data: FitData):
        memory, slots = self._build_memory(data)
        data.extra["memory"] = memory
        fwd = self._live_forward(nets, data)
        data.cancel.raise_if_cancelled()
        synth = self._synthesizer(data.work.shape[1:3])
        if data.val is not None and data.val[2] is None:  # the same synthetic anomalies at every evaluation
            work, valid, _ = data.val
            data.extra["val_altered"] = self._with_anomalies(
                np.random.default_rng(int(self.seed) + 1), synth, work, valid
            )
        lr = float(self.setting("lr"))
        opt = torch.optim.AdamW(nets["head"].parameters(), lr=lr, weight_decay=float(self.weight_decay))
        next_batch = self._sampler(data)

        def loss_of(frac: float) -> torch.Tensor:
            for g in opt.param_groups:
                g["lr"] = warmup_cosine(frac, lr, float(self.min_lr), float(self.warmup_ratio))
            idx = next_batch()
            x, masks = self._with_anomalies(data.rng, synth, data.work[idx], data.valid[idx])
            exclude = torch.tensor([slots.get(int(i), -1) for i in idx], device=data.device)
            logits = fwd.logits(torch.from_numpy(x).to(data.device), exclude)
            return self._focal_l1(logits, masks, data.valid[idx])

        return optimizer_step(nets, opt, loss_of)

    def _val_loss(self, nets: dict[str, nn.Module], data: FitData, rows: slice) -> float:
        work, masks = data.extra["val_altered"]
        logits = data.extra["forward"].logits(torch.from_numpy(work[rows]).to(data.device))
        return float(self._focal_l1(logits, masks[rows], data.val[1][rows]))

    def _finish(self, nets: dict[str, nn.Module], data: FitData) -> dict[str, np.ndarray]:
        memory = data.extra["memory"]
        out = {f"memory_{lv}_": m.cpu().numpy() for lv, m in zip(MEMORY_LEVELS, memory.features)}
        out.update({f"stats_{lv}_": st.cpu().numpy() for lv, st in zip(self.layers, memory.stats)})
        return out
