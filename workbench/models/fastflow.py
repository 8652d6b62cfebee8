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

Two recipes (``schedule``; 'auto' picks 'paper' on CUDA and 'cpu' otherwise; explicit values win):
- 'paper': 256 x 256, 500 epochs of batch 32 (the paper's training above).
- 'cpu': 128 x 128, 300 iterations of batch 16 at the paper's rate, a fixed amount of work (not a
  time budget) so a fit is the same on a quiet and on a busy machine. The flows train on cached
  features: on the demo station (14 training images per view) pixel AUROC was 0.975 after 50
  iterations and 0.983-0.986 from 100 to 400; the measured figures are in the README.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from workbench.models import params as P
from workbench.models.backbones import FeatureExtractor, UsesBackbone
from workbench.models.components.flow import Flow2d, negative_log_likelihood
from workbench.models.components.forward import BackboneForward, upsample
from workbench.models.components.training import optimizer_step
from workbench.models.components.working import roi_to_grid
from workbench.models.trained import FitData, TrainedModel

MAP_KINDS = ("likelihood", "log_likelihood")


class FastFlowForward(BackboneForward):
    """(B, h, w, 3) uint8 -> (scores, maps): how unlikely the flows find each scale's backbone features."""

    def __init__(
        self, extractor: FeatureExtractor, nets: dict[str, nn.Module], valid: np.ndarray, map_kind: str
    ):
        super().__init__(extractor, valid)
        self.norms, self.flows = nets["norm"], nets["flow"]
        self.log_likelihood = map_kind == "log_likelihood"

    def flow(self, feats: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per scale (z (B, C, h, w), log|det J| (B, h, w)) of the normalized features."""
        return [flow(norm(f)) for f, norm, flow in zip(feats, self.norms, self.flows)]

    def combine(self, outs: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """(B, h, w): one minus the mean per-scale likelihood (or the mean negative log-likelihood)."""
        total = 0.0
        for z, _ in outs:
            nll = 0.5 * z.pow(2).mean(1)
            total = total + upsample(nll if self.log_likelihood else torch.exp(-nll), self.tail.size)
        mean = total / len(outs)
        return mean if self.log_likelihood else 1.0 - mean

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.tail(self.combine(self.flow(self.features(x))))


def flow_loss(outs: list[tuple[torch.Tensor, torch.Tensor]], masks: list[torch.Tensor]) -> torch.Tensor:
    """Negative log-likelihood per feature dimension inside the ROI, summed over scales."""
    total = 0.0
    for (z, log_det), m in zip(outs, masks):
        nll = negative_log_likelihood(z, log_det)
        total = total + (nll * m).sum() / (m.sum() * z.shape[1]).clamp_min(1.0)
    return total


CPU_RECIPE = {"image_size": (128, 128), "lr": 1e-3, "epochs": None, "max_iters": 300, "train_batch": 16}


class FastFlow(UsesBackbone, TrainedModel):
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
    schedules = {
        "paper": {"image_size": (256, 256), "lr": 1e-3, "epochs": 500, "max_iters": None, "train_batch": 32},
        # A fixed amount of work (not a time budget): the same fit on a quiet and on a busy machine.
        "cpu": CPU_RECIPE,
    }
    params = {
        **P.backbone_params(("layer1", "layer2", "layer3")),
        "schedule": P.schedule(("paper", "cpu")),
        "image_size": P.size(None, optional=True),
        "resize_mode": P.choice("stretch", ("stretch", "pad")),
        "flow_steps": P.integer(8, 1),
        "hidden_ratio": P.number(1.0, 0.0, low_open=True),
        "conv3x3_only": P.flag(False),
        "clamp": P.number(2.0, 0.0, low_open=True),
        "lr": P.number(None, 0.0, low_open=True, optional=True),
        "weight_decay": P.number(1e-5, 0.0),
        **P.training_params(train_batch=None, val_every=50, scheduled=True),
        "map_kind": P.choice("likelihood", MAP_KINDS),
        **P.run_params(batch_size=8),
    }

    # Tiny CPU settings for workbench.models.checks (random weights: the checks are about the engine).
    quick_params = dict(
        backbone="resnet18", layers=("layer1", "layer2"), pretrained=False, image_size=(48, 64),
        flow_steps=4, max_iters=20, train_batch=4, device="cpu",
    )  # fmt: skip

    def _feature_shapes(self, for_loading: bool = False) -> list[tuple[int, int, int]]:
        """(C, h, w) of each layer at the working size (a loaded run's own): the LayerNorms are built for them."""
        extractor = self._backbone()
        fitted = for_loading and getattr(self, "image_size_", None) is not None
        h, w = (int(v) for v in (self.image_size_ if fitted else self._configured_size()))
        device = next(extractor.parameters()).device
        with torch.no_grad():
            feats = extractor(torch.zeros(1, 3, h, w, device=device))
        return [tuple(int(v) for v in f.shape[1:]) for f in feats]

    def _build_nets(self, for_loading: bool) -> dict[str, nn.Module]:
        shapes = self._feature_shapes(for_loading)
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
                )  # fmt: skip
                for i, s in enumerate(shapes)
            ]
        )
        return {"norm": norms, "flow": flows}

    def _forward(self, nets: dict[str, nn.Module], data: FitData | None) -> FastFlowForward:
        return FastFlowForward(self._backbone(), nets, self._valid(data), self.map_kind)

    def _cache(self, fwd: FastFlowForward, work: np.ndarray, valid: np.ndarray, data: FitData):
        """Per layer: every image's frozen features (N, C, h, w) float16 and ROI cells (N, h, w), on the CPU."""
        parts: list[list[torch.Tensor]] = []
        bs = max(1, int(self.batch_size))
        for i in range(0, len(work), bs):
            data.cancel.raise_if_cancelled()
            with torch.no_grad():
                feats = fwd.features(torch.from_numpy(work[i : i + bs]).to(data.device))
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

    def _loss(self, fwd: FastFlowForward, cached, rows, device: torch.device) -> torch.Tensor:
        feats, masks = cached
        outs = fwd.flow([f[rows].to(device).float() for f in feats])
        return flow_loss(outs, [m[rows].to(device) for m in masks])

    def _prepare(self, nets: dict[str, nn.Module], data: FitData):
        next_batch, fwd = self._sampler(data), self._live_forward(nets, data)
        # The backbone is frozen and nothing augments the images: features are computed once.
        cached = self._cache(fwd, data.work, data.valid, data)
        if data.val is not None:
            data.extra["val_cache"] = self._cache(fwd, data.val[0], data.val[1], data)
        params = [p for net in nets.values() for p in net.parameters()]
        opt = torch.optim.Adam(params, lr=float(self.setting("lr")), weight_decay=float(self.weight_decay))

        def loss_of(frac: float) -> torch.Tensor:
            data.cancel.raise_if_cancelled()
            return self._loss(fwd, cached, torch.from_numpy(next_batch()), data.device)

        return optimizer_step(nets, opt, loss_of)

    def _val_loss(self, nets: dict[str, nn.Module], data: FitData, rows: slice) -> float:
        return float(self._loss(data.extra["forward"], data.extra["val_cache"], rows, data.device))
