"""STFPM: a student network learns the pretrained teacher's feature pyramid on normal images; anomalies are where it fails.

Wang et al. 2021 (student-teacher feature pyramid matching; seed 001's best model on glue lines).
Teacher = the pretrained backbone, student = the same architecture randomly initialized; the loss
is, per layer, half the squared distance of the channel-normalized features averaged over positions
(positions outside the ROI excluded); the map multiplies the per-layer distances upsampled to the
input (the paper's product), the image score is its maximum. Paper training: SGD, lr 0.4, momentum
0.9, weight decay 1e-4, 100 epochs, batch 32.
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
from workbench.models.components.training import TrainedModel, batch_sampler, roi_mean_loss, seeded

OPTIMIZERS = ("sgd", "adam")


def layer_distances(teacher: list[torch.Tensor], student: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per layer (B, h, w): 0.5 * squared distance of the L2-normalized (channel axis) features."""
    return [
        0.5 * (F.normalize(t, dim=1) - F.normalize(s, dim=1)).pow(2).sum(1) for t, s in zip(teacher, student)
    ]


class Stfpm(TrainedModel):
    """STFPM anomaly detection: feature-pyramid distance between a pretrained teacher and a student trained on normal images.

    Parameters: ``backbone``, ``layers``, ``weights``, ``pretrained`` (teacher; default
    EfficientNet-Lite0 because its weights are installable, the paper uses resnet18); ``image_size``,
    ``resize_mode``; ``optimizer`` ('sgd' as the paper, or 'adam'), ``lr``, ``momentum``,
    ``weight_decay``; ``epochs`` capped by ``max_iters`` / ``time_budget_s``; ``train_batch``;
    ``val_every``, ``patience``; ``batch_size`` (inference); ``device``; ``seed``.
    """

    name = "stfpm"
    meta_keys = ("roi_", "image_size_")

    def __init__(
        self,
        backbone: str = "efficientnet_lite0",
        layers: tuple[str, ...] = ("layer1", "layer2", "layer3"),
        weights: str | None = None,
        pretrained: bool = True,
        image_size: tuple[int, int] = (256, 256),
        resize_mode: str = "stretch",
        optimizer: str = "sgd",
        lr: float = 0.4,
        momentum: float = 0.9,
        weight_decay: float = 1e-4,
        epochs: int = 100,
        max_iters: int | None = None,
        time_budget_s: float | None = None,
        train_batch: int = 32,
        val_every: int = 50,
        patience: int = 5,
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
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.max_iters = max_iters
        self.time_budget_s = time_budget_s
        self.train_batch = train_batch
        self.val_every = val_every
        self.patience = patience
        self.batch_size = batch_size
        self.device = device
        self.seed = seed
        self.nets_ = None
        self._teacher: FeatureExtractor | None = None
        self.history_: list[dict[str, float]] = []

    def _build_nets(self, for_loading: bool) -> dict[str, nn.Module]:
        # Another seed than the teacher's: with pretrained=False the two must still differ.
        student = FeatureExtractor(self.backbone, self.layers, pretrained=False, seed=int(self.seed) + 1)
        for p in student.parameters():
            p.requires_grad_(True)
        return {"student": student}

    def _fill(self) -> tuple[int, int, int]:
        return self._get_teacher(torch.device("cpu")).fill_value

    def _distances(self, nets, x: np.ndarray, device, cancel) -> list[torch.Tensor]:
        teacher = self._get_teacher(device)
        inp = teacher.normalize(torch.from_numpy(x).to(device))
        with torch.no_grad():
            t = teacher(inp, cancel=cancel)
        return layer_distances(t, nets["student"](inp, cancel=cancel))

    def _combine(self, dists: list[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
        m = None
        for d in dists:
            up = F.interpolate(d[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
            m = up if m is None else m * up
        return m

    def _maps(self, x: np.ndarray, valid: np.ndarray, cancel: CancelToken) -> np.ndarray:
        device = next(self.nets_["student"].parameters()).device
        dists = self._distances(self.nets_, x, device, cancel)
        return self._combine(dists, x.shape[1:3]).float().cpu().numpy()

    def fit(
        self,
        images: Any,
        roi: Any = None,
        progress: ProgressFn = no_progress,
        cancel: CancelToken = NEVER_CANCEL,
        val_images: Any = None,
        val_labels: Any = None,
    ) -> Stfpm:
        """Train the student on normal images ((H, W, 3) uint8 RGB); returns self.

        ``val_images`` (+ ``val_labels``, 1 = defective) enable early stopping on image AUROC (on the
        validation loss without labels); the best student is kept.
        """
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: expected one of {OPTIMIZERS}; found {self.optimizer!r}")
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
            student = nets["student"]
            params = [p for p in student.parameters() if p.requires_grad]
            if self.optimizer == "sgd":
                opt = torch.optim.SGD(
                    params,
                    lr=float(self.lr),
                    momentum=float(self.momentum),
                    weight_decay=float(self.weight_decay),
                )
            else:
                opt = torch.optim.Adam(params, lr=float(self.lr), weight_decay=float(self.weight_decay))

            def step(it: int, frac: float) -> float:
                idx = next_batch()
                student.train()
                loss = roi_mean_loss(self._distances(nets, work[idx], device, cancel), valid[idx], device)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                return float(loss.detach())

            validate = None
            if val is not None:
                vwork, vvalid, labels = val

                def validate() -> float:
                    student.eval()
                    scores, losses = [], []
                    with torch.no_grad():
                        for i in range(0, len(vwork), max(1, int(self.batch_size))):
                            d = self._distances(nets, vwork[i : i + self.batch_size], device, cancel)
                            losses.append(float(roi_mean_loss(d, vvalid[i : i + self.batch_size], device)))
                            mm = self._combine(d, vwork.shape[1:3]).cpu().numpy()
                            mm[~vvalid[i : i + self.batch_size]] = 0
                            scores.append(mm.reshape(len(mm), -1).max(1))
                    if labels is not None:
                        return -auroc(labels, np.concatenate(scores))
                    return float(np.mean(losses))

            history = self._run_training(nets, step, max_iters, progress, cancel, validate)
        self._set_fitted(nets, roi_u8, work, history)
        return self
