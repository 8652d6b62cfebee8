"""FastFlow: a 2D normalizing flow per feature scale maps normal backbone features to a standard normal.

Yu et al. 2021. Frozen pretrained backbone features of each scale pass a trainable LayerNorm over
(C, h, w) (the paper's choice for CNN backbones) and a flow of ``flow_steps`` affine coupling steps
whose subnets alternate 3x3 and 1x1 convolutions (:mod:`components.flow`). Loss: the negative
log-likelihood of the features (0.5 |z|^2 - log|det J| per position, every cell touching the
ROI counted). Map, as the public implementations compute it: each scale's likelihood
exp(-0.5 mean_c z^2), upsampled to the input and averaged over scales; the map is one minus that,
so 0 is normal and it stays >= 0 like the zeros outside the ROI. Bounded per scale, one scale's
extreme values (cells at the ROI border) cannot drown the others; ``map_kind='log_likelihood'``
averages 0.5 mean_c z^2 instead (unbounded). Image score: the map's maximum. Paper training: Adam,
lr 1e-3, weight decay 1e-5, 500 epochs, batch 32. The backbone is frozen and nothing augments the
images, so its features are computed once and the epochs only train the flows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.metrics import auroc
from workbench.models.backbones import FeatureExtractor
from workbench.models.base import resolve_device
from workbench.models.components.flow import Flow2d, negative_log_likelihood
from workbench.models.components.preprocess import roi_to_grid
from workbench.models.components.training import TrainedModel, batch_sampler, seeded

MAP_KINDS = ("likelihood", "log_likelihood")


class FastFlow(TrainedModel):
    """FastFlow anomaly detection: where a normalizing flow finds the backbone features unlikely.

    Parameters: ``backbone``, ``layers``, ``weights``, ``pretrained`` (frozen feature extractor;
    default EfficientNet-Lite0 because its weights are installable, the paper uses resnet18 or
    wide_resnet50_2 — pass their ImageNet weights file); ``image_size``, ``resize_mode``;
    ``flow_steps``, ``hidden_ratio``, ``conv3x3_only``, ``clamp`` (flow); ``lr``,
    ``weight_decay``; ``epochs`` capped by ``max_iters`` / ``time_budget_s``; ``train_batch``;
    ``val_every``, ``patience``; ``map_kind`` ('likelihood' or 'log_likelihood'); ``batch_size``
    (inference and feature extraction); ``device``; ``seed``.
    """

    name = "fastflow"
    meta_keys = ("roi_", "image_size_")

    def __init__(
        self,
        backbone: str = "efficientnet_lite0",
        layers: tuple[str, ...] = ("layer1", "layer2", "layer3"),
        weights: str | None = None,
        pretrained: bool = True,
        image_size: tuple[int, int] = (256, 256),
        resize_mode: str = "stretch",
        flow_steps: int = 8,
        hidden_ratio: float = 1.0,
        conv3x3_only: bool = False,
        clamp: float = 2.0,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        epochs: int = 500,
        max_iters: int | None = None,
        time_budget_s: float | None = None,
        train_batch: int = 32,
        val_every: int = 50,
        patience: int = 5,
        map_kind: str = "likelihood",
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
        self.flow_steps = flow_steps
        self.hidden_ratio = hidden_ratio
        self.conv3x3_only = conv3x3_only
        self.clamp = clamp
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.max_iters = max_iters
        self.time_budget_s = time_budget_s
        self.train_batch = train_batch
        self.val_every = val_every
        self.patience = patience
        self.map_kind = map_kind
        self.batch_size = batch_size
        self.device = device
        self.seed = seed
        self.nets_ = None
        self._teacher: FeatureExtractor | None = None
        self.history_: list[dict[str, float]] = []

    # -- networks ---------------------------------------------------------------------------------
    def _feature_shapes(self) -> list[tuple[int, int, int]]:
        """(C, h, w) of each layer at the working size: the LayerNorms are built for them."""
        extractor = self._get_teacher(torch.device("cpu"))
        h, w = self._working_size()
        with torch.no_grad():
            feats = extractor(torch.zeros(1, 3, h, w))
        return [tuple(int(v) for v in f.shape[1:]) for f in feats]

    def _build_nets(self, for_loading: bool) -> dict[str, nn.Module]:
        if int(self.flow_steps) < 1:
            raise ValueError(f"flow_steps: expected >= 1; found {self.flow_steps}")
        if float(self.hidden_ratio) <= 0 or float(self.clamp) <= 0:
            raise ValueError(
                f"hidden_ratio and clamp: expected positive numbers; found {self.hidden_ratio}, {self.clamp}"
            )
        shapes = self._feature_shapes()
        norms = nn.ModuleList([nn.LayerNorm(list(s), elementwise_affine=True) for s in shapes])
        flows = nn.ModuleList(
            [
                Flow2d(
                    s[0],
                    int(self.flow_steps),
                    float(self.hidden_ratio),
                    bool(self.conv3x3_only),
                    float(self.clamp),
                    seed=int(self.seed) + i,
                )
                for i, s in enumerate(shapes)
            ]
        )
        return {"norm": norms, "flow": flows}

    def _fill(self) -> tuple[int, int, int]:
        return self._get_teacher(torch.device("cpu")).fill_value

    def _features(self, x: np.ndarray, device: torch.device, cancel: CancelToken) -> list[torch.Tensor]:
        """(B, h, w, 3) uint8 -> the frozen backbone's feature maps, one per layer."""
        extractor = self._get_teacher(device)
        with torch.no_grad():
            return extractor(extractor.normalize(torch.from_numpy(x).to(device)), cancel=cancel)

    @staticmethod
    def _flow(
        nets: dict[str, nn.Module], feats: list[torch.Tensor]
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per scale (z (B, C, h, w), log|det J| (B, h, w)) of the normalized features."""
        return [flow(norm(f)) for f, norm, flow in zip(feats, nets["norm"], nets["flow"])]

    def _combine(self, outs: list[tuple[torch.Tensor, torch.Tensor]], size: tuple[int, int]) -> torch.Tensor:
        """(B, H, W) anomaly map from each scale's z: one minus the mean likelihood (or minus the mean log-likelihood)."""
        total = 0.0
        for z, _ in outs:
            nll = 0.5 * z.pow(2).mean(1, keepdim=True)
            per_scale = nll if self.map_kind == "log_likelihood" else torch.exp(-nll)
            total = total + F.interpolate(per_scale, size=size, mode="bilinear", align_corners=False)[:, 0]
        mean = total / len(outs)
        return mean if self.map_kind == "log_likelihood" else 1.0 - mean

    def _maps(self, x: np.ndarray, valid: np.ndarray, cancel: CancelToken) -> np.ndarray:
        device = next(self.nets_["flow"].parameters()).device
        outs = self._flow(self.nets_, self._features(x, device, cancel))
        return self._combine(outs, x.shape[1:3]).float().cpu().numpy()

    # -- fit ----------------------------------------------------------------------------------------
    def _cache(
        self, work: np.ndarray, valid: np.ndarray, device: torch.device, cancel: CancelToken
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per layer: every image's frozen features (N, C, h, w) float16 and ROI cells (N, h, w), on the CPU."""
        parts: list[list[torch.Tensor]] = []
        for i in range(0, len(work), max(1, int(self.batch_size))):
            cancel.raise_if_cancelled()
            feats = self._features(work[i : i + self.batch_size], device, cancel)
            parts.append([f.half().cpu() for f in feats])
        feats = [torch.cat([p[k] for p in parts]) for k in range(len(parts[0]))]
        # Every cell that touches the ROI shows in the map, so every one of them is trained: cells only
        # partly inside (at the ROI's border) would otherwise be unlikely on every image.
        masks = [
            torch.from_numpy(
                np.stack([roi_to_grid(v, tuple(f.shape[-2:])) for v in valid]).astype(np.float32)
            )
            for f in feats
        ]
        return feats, masks

    @staticmethod
    def _loss(outs: list[tuple[torch.Tensor, torch.Tensor]], masks: list[torch.Tensor]) -> torch.Tensor:
        """Negative log-likelihood per feature dimension inside the ROI, summed over scales."""
        total = 0.0
        for (z, log_det), m in zip(outs, masks):
            nll = negative_log_likelihood(z, log_det)
            total = total + (nll * m).sum() / (m.sum() * z.shape[1]).clamp_min(1.0)
        return total

    def fit(
        self,
        images: Any,
        roi: Any = None,
        progress: ProgressFn = no_progress,
        cancel: CancelToken = NEVER_CANCEL,
        val_images: Any = None,
        val_labels: Any = None,
    ) -> FastFlow:
        """Train the LayerNorms and flows on normal images ((H, W, 3) uint8 RGB); returns self.

        ``val_images`` (+ ``val_labels``, 1 = defective) enable early stopping on image AUROC (on the
        validation loss without labels); the best weights are kept.
        """
        if self.map_kind not in MAP_KINDS:
            raise ValueError(f"map_kind: expected one of {MAP_KINDS}; found {self.map_kind!r}")
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
            feats, masks = self._cache(work, valid, device, cancel)
            params = [p for net in nets.values() for p in net.parameters()]
            opt = torch.optim.Adam(params, lr=float(self.lr), weight_decay=float(self.weight_decay))

            def step(it: int, frac: float) -> float:
                idx = torch.from_numpy(next_batch())
                for net in nets.values():
                    net.train()
                cancel.raise_if_cancelled()
                outs = self._flow(nets, [f[idx].to(device).float() for f in feats])
                loss = self._loss(outs, [m[idx].to(device) for m in masks])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                return float(loss.detach())

            validate = None if val is None else self._validator(nets, val, device, cancel)
            history = self._run_training(nets, step, max_iters, progress, cancel, validate)
        self._set_fitted(nets, roi_u8, work, history)
        return self

    def _validator(self, nets, val, device, cancel):
        work, valid, labels = val
        feats, masks = self._cache(work, valid, device, cancel)
        valid_t = torch.from_numpy(valid)

        def validate() -> float:
            for net in nets.values():
                net.eval()
            scores, losses = [], []
            with torch.no_grad():
                for i in range(0, len(work), max(1, int(self.batch_size))):
                    sl = slice(i, i + max(1, int(self.batch_size)))
                    outs = self._flow(nets, [f[sl].to(device).float() for f in feats])
                    losses.append(float(self._loss(outs, [m[sl].to(device) for m in masks])))
                    m = self._combine(outs, work.shape[1:3]).cpu() * valid_t[sl]
                    scores.append(m.flatten(1).max(1).values.numpy())
            if labels is not None:
                return -auroc(labels, np.concatenate(scores))
            return float(np.mean(losses))

        return validate
