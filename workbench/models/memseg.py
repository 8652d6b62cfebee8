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
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.metrics import auroc
from workbench.models.backbones import FeatureExtractor
from workbench.models.base import resolve_device
from workbench.models.components.anomaly_map import gaussian_blur
from workbench.models.components.anomaly_synthesis import AnomalySynthesizer
from workbench.models.components.procedural import procedural_images, sample_photos
from workbench.models.components.training import TrainedModel, check_budget, seeded, snapshots, train_loop
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


def warmup_cosine(frac: float, lr: float, min_lr: float, warmup: float) -> float:
    """Learning rate at ``frac`` of training: linear from ``min_lr`` to ``lr`` over ``warmup``, then cosine back."""
    if frac < warmup:
        return min_lr + (lr - min_lr) * frac / warmup
    t = (frac - warmup) / max(1e-12, 1.0 - warmup)
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * min(1.0, t)))


class MemSeg(TrainedModel):
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
    # The encoder's layers (read by TrainedModel._get_teacher): fixed by the architecture.
    layers = MEMORY_LEVELS + ("layer4",)
    meta_keys = (
        ("roi_", "image_size_")
        + tuple(f"memory_{level}_" for level in MEMORY_LEVELS)
        + tuple(f"stats_{level}_" for level in layers)
    )

    def __init__(
        self,
        backbone: str = "efficientnet_lite0",
        weights: str | None = None,
        pretrained: bool = True,
        image_size: tuple[int, int] = (256, 256),
        resize_mode: str = "stretch",
        memory_size: int = 30,
        anomaly_ratio: float = 0.5,
        texture_prob: float = 0.9,
        texture_count: int = 64,
        grid_size: int = 8,
        transparency: tuple[float, float] = (0.8, 1.0),
        perlin_scale: int = 5,
        perlin_min_scale: int = 3,
        perlin_threshold: float = 0.5,
        focal_weight: float = 0.7,
        l1_weight: float = 0.3,
        focal_gamma: float = 4.0,
        lr: float = 0.003,
        weight_decay: float = 5e-4,
        min_lr: float = 1e-4,
        warmup_ratio: float = 0.2,
        max_iters: int = 15000,
        time_budget_s: float | None = None,
        train_batch: int = 8,
        val_every: int = 100,
        patience: int = 5,
        sigma: float = 4.0,
        batch_size: int = 8,
        device: str = "auto",
        seed: int = 0,
    ) -> None:
        self.backbone = backbone
        self.weights = weights
        self.pretrained = pretrained
        self.image_size = image_size
        self.resize_mode = resize_mode
        self.memory_size = memory_size
        self.anomaly_ratio = anomaly_ratio
        self.texture_prob = texture_prob
        self.texture_count = texture_count
        self.grid_size = grid_size
        self.transparency = transparency
        self.perlin_scale = perlin_scale
        self.perlin_min_scale = perlin_min_scale
        self.perlin_threshold = perlin_threshold
        self.focal_weight = focal_weight
        self.l1_weight = l1_weight
        self.focal_gamma = focal_gamma
        self.lr = lr
        self.weight_decay = weight_decay
        self.min_lr = min_lr
        self.warmup_ratio = warmup_ratio
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
        self._memory_cache: Memory | None = None
        self.history_: list[dict[str, float]] = []

    # -- parts ------------------------------------------------------------------------------------
    def _check_params(self) -> None:
        pair = list(self.transparency) if isinstance(self.transparency, list | tuple) else []
        if len(pair) != 2 or not 0.0 <= float(pair[0]) <= float(pair[1]) <= 1.0:
            raise ValueError(
                f"transparency: expected (low, high) with 0 <= low <= high <= 1; found {self.transparency}"
            )
        for key in ("anomaly_ratio", "texture_prob"):
            if not 0.0 <= float(getattr(self, key)) <= 1.0:
                raise ValueError(f"{key}: expected a probability in [0, 1]; found {getattr(self, key)}")
        for key in ("memory_size", "texture_count", "grid_size"):
            if int(getattr(self, key)) < 1:
                raise ValueError(f"{key}: expected >= 1; found {getattr(self, key)}")
        if not 0 <= int(self.perlin_min_scale) < int(self.perlin_scale):
            raise ValueError(
                f"perlin_min_scale/perlin_scale: expected 0 <= min < scale; found {self.perlin_min_scale}, {self.perlin_scale}"
            )
        if not 0.0 <= float(self.warmup_ratio) < 1.0 or not 0.0 < float(self.min_lr) <= float(self.lr):
            raise ValueError(
                f"warmup_ratio/min_lr/lr: expected 0 <= warmup < 1 and 0 < min_lr <= lr; "
                f"found {self.warmup_ratio}, {self.min_lr}, {self.lr}"
            )

    def _encoder_info(self) -> FeatureExtractor:
        # Channels and fill colour without moving an encoder that already sits on the GPU.
        return self._teacher if self._teacher is not None else self._get_teacher(torch.device("cpu"))

    def _build_nets(self, for_loading: bool) -> dict[str, nn.Module]:
        return {"head": MemSegHead(self._encoder_info().channels)}

    def _fill(self) -> tuple[int, int, int]:
        return self._encoder_info().fill_value

    def _after_load(self) -> None:
        self._memory_cache = None

    def _memory(self, device: torch.device) -> Memory:
        """The fitted memory as tensors on ``device`` (cached)."""
        cache = self._memory_cache
        if cache is None or cache.features[0].device != device:
            cache = Memory(
                [torch.from_numpy(getattr(self, f"memory_{lv}_")).to(device) for lv in MEMORY_LEVELS],
                [torch.from_numpy(getattr(self, f"stats_{lv}_")).to(device) for lv in self.layers],
            )
            self._memory_cache = cache
        return cache

    def _encode(
        self, x: np.ndarray, device: torch.device, cancel: CancelToken
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(B, h, w, 3) uint8 -> normalized images and the frozen encoder's four feature maps."""
        encoder = self._get_teacher(device)
        image = encoder.normalize(torch.from_numpy(x).to(device))
        with torch.no_grad():
            return image, encoder(image, cancel=cancel)

    def _logits(self, head, memory: Memory, x, device, cancel, exclude=None) -> torch.Tensor:
        image, feats = self._encode(x, device, cancel)
        feats = standardize(feats, memory.stats)
        diffs = memory_differences(feats[:3], memory.features, exclude)
        return resize(head(image, feats, diffs), tuple(x.shape[1:3]))

    def _probability_maps(self, head, memory, x, device, cancel) -> np.ndarray:
        """(B, h, w) float32 blurred anomalous-class probability of (B, h, w, 3) uint8 working images."""
        p = self._logits(head, memory, x, device, cancel).softmax(1)[:, 1]
        return gaussian_blur(p.float().cpu().numpy(), float(self.sigma))

    def _maps(self, x: np.ndarray, valid: np.ndarray, cancel: CancelToken) -> np.ndarray:
        head = self.nets_["head"]
        device = next(head.parameters()).device
        return self._probability_maps(head, self._memory(device), x, device, cancel)

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

    def _build_memory(
        self, work: np.ndarray, rng: np.random.Generator, device: torch.device, cancel: CancelToken
    ) -> tuple[Memory, dict[int, int]]:
        """The memory of ``memory_size`` random training images, and {image index: memory slot}."""
        n = len(work)
        chosen = np.sort(rng.choice(n, size=min(int(self.memory_size), n), replace=False))
        parts: list[list[torch.Tensor]] = [[] for _ in self.layers]
        bs = max(1, int(self.batch_size))
        for start in range(0, len(chosen), bs):
            cancel.raise_if_cancelled()
            _, feats = self._encode(work[chosen[start : start + bs]], device, cancel)
            for part, f in zip(parts, feats):
                part.append(f)
        feats = [torch.cat(p) for p in parts]
        stats = [channel_stats(f) for f in feats]
        memory = Memory(standardize(feats[:3], stats), stats)
        return memory, {int(i): k for k, i in enumerate(chosen)}

    # -- fit ----------------------------------------------------------------------------------------
    def fit(
        self,
        images: Any,
        roi: Any = None,
        progress: ProgressFn = no_progress,
        cancel: CancelToken = NEVER_CANCEL,
        val_images: Any = None,
        val_labels: Any = None,
    ) -> MemSeg:
        """Fill the memory and train the decoder on normal images ((H, W, 3) uint8 RGB) with synthetic anomalies; returns self.

        ``val_images`` (+ ``val_labels``, 1 = defective) enable early stopping on image AUROC
        (without labels: on the loss over fixed synthetic anomalies on them); the best weights are kept.
        """
        self._check_params()
        images, roi_u8, work, valid = self._prepare_fit(images, roi)
        n = len(work)
        bs = max(1, int(self.train_batch))
        max_iters = int(self.max_iters)
        check_budget(max_iters, self.time_budget_s, self.val_every, self.patience)
        val = self._prepare_val(val_images, val_labels, roi_u8)
        device = resolve_device(self.device)
        rng = np.random.default_rng(self.seed)
        self._get_teacher(device)
        with seeded(self.seed, device):
            nets = {k: v.to(device) for k, v in self._build_nets(for_loading=False).items()}
            head = nets["head"]
            memory, slots = self._build_memory(work, rng, device, cancel)
            cancel.raise_if_cancelled()
            synth = self._synthesizer(work.shape[1:3])
            opt = torch.optim.AdamW(
                head.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay)
            )
            order: list[int] = []

            def loss_of(logits: torch.Tensor, masks: np.ndarray, valid_b: np.ndarray) -> torch.Tensor:
                return focal_l1_loss(
                    logits,
                    torch.from_numpy(masks).to(device),
                    torch.from_numpy(valid_b.astype(np.float32)).to(device),
                    float(self.focal_gamma),
                    float(self.focal_weight),
                    float(self.l1_weight),
                )

            def step(it: int, frac: float) -> float:
                for g in opt.param_groups:
                    g["lr"] = warmup_cosine(
                        frac, float(self.lr), float(self.min_lr), float(self.warmup_ratio)
                    )
                while len(order) < bs:
                    order.extend(rng.permutation(n).tolist())
                idx = np.array([order.pop(0) for _ in range(bs)])
                x, masks = self._with_anomalies(rng, synth, work[idx], valid[idx])
                exclude = torch.tensor([slots.get(int(i), -1) for i in idx], device=device)
                head.train()
                loss = loss_of(self._logits(head, memory, x, device, cancel, exclude), masks, valid[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                return float(loss.detach())

            validate = snapshot = restore = None
            if val is not None:
                validate = self._validator(head, memory, val, synth, device, cancel, loss_of)
                snapshot, restore = snapshots(nets)
            history = train_loop(
                step, max_iters, self.time_budget_s, progress, cancel,
                validate, int(self.val_every), int(self.patience), snapshot, restore,
            )  # fmt: skip
        head.eval()
        self.roi_ = roi_u8
        self.image_size_ = np.asarray(work.shape[1:3], np.int64)
        # C-ordered arrays, read back by _memory() exactly as after load_state_dict: the encoder's
        # channels-last outputs would take another (not bit-identical) matmul path.
        for level, m in zip(MEMORY_LEVELS, memory.features):
            setattr(self, f"memory_{level}_", np.ascontiguousarray(m.float().cpu().numpy()))
        for level, st in zip(self.layers, memory.stats):
            setattr(self, f"stats_{level}_", np.ascontiguousarray(st.float().cpu().numpy()))
        self._memory_cache = None
        self.history_ = history
        self.nets_ = nets
        return self

    def _validator(self, head, memory, val, synth, device, cancel, loss_of):
        work, valid, labels = val
        bs = max(1, int(self.batch_size))
        if labels is None:  # the same synthetic anomalies at every evaluation
            work, masks = self._with_anomalies(np.random.default_rng(int(self.seed) + 1), synth, work, valid)

        def validate() -> float:
            head.eval()
            scores, losses = [], []
            with torch.no_grad():
                for i in range(0, len(work), bs):
                    x, v = work[i : i + bs], valid[i : i + bs]
                    if labels is not None:
                        m = self._probability_maps(head, memory, x, device, cancel)
                        m[~v] = 0.0
                        scores.append(m.reshape(len(m), -1).max(1))
                    else:
                        logits = self._logits(head, memory, x, device, cancel)
                        losses.append(float(loss_of(logits, masks[i : i + bs], v)) * len(x))
            if labels is not None:
                return -auroc(labels, np.concatenate(scores))
            return float(np.sum(losses) / len(work))

        return validate
