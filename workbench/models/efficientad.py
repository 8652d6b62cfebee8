"""EfficientAD (-S and -M): fast student-teacher plus autoencoder anomaly maps, structural and logical.

Batzner et al. 2024. A frozen PDN teacher describes each 33 x 33 patch; a student PDN learns to
imitate it on normal images (hard feature loss: only the worst 0.1 % of feature errors count) and is
kept from imitating it elsewhere by a penalty on generated images; an autoencoder and the student's
second half learn the teacher's features of the whole image (logical anomalies). The local
(student-teacher) and global (autoencoder-student) maps are each scaled by their 0.9 and 0.995
quantiles on the whole training set (seed 003: better than the paper's 5 % sample) and averaged.

The teacher is distilled offline from EfficientNet-Lite0 on generated images
(``scripts/make_efficientad_teacher.py``), not from a WideResNet on ImageNet as in the paper.
Two training schedules (``schedule``; 'auto' picks 'paper' on CUDA and 'cpu' otherwise):
- 'paper' (seed 000): 256 x 256, Adam lr 1e-4, 70,000 iterations of batch 1, lr x 0.1 after 95 %.
- 'cpu': 128 x 128, lr 1e-3, 300 s per fit. One step at 256 x 256 takes about 1.6 s on two CPU
  cores (the student's pass dominates), so the paper's schedule would need some 30 hours; at
  128 x 128 a step takes 0.4 s and the larger rate gets what it can out of a few hundred steps
  (demo station, back view, 60 s: pixel AUROC 0.48 with the paper's size and rate, 0.94 with these).
Explicit ``image_size``, ``lr`` or ``time_budget_s`` override the schedule's.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.metrics import auroc
from workbench.models.backbones import MissingWeightsError, load_weights_file
from workbench.models.base import resolve_device
from workbench.models.components.pdn import PDN_SIZES, Autoencoder, pdn
from workbench.models.components.procedural import procedural_images
from workbench.models.components.training import TrainedModel, check_budget, seeded, snapshots, train_loop
from workbench.models.components.working import grid_mask

TEACHER_DIR = Path(__file__).resolve().parents[2] / "resources" / "efficientad"
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
C = 384  # teacher channels
SCHEDULES: dict[str, dict[str, Any]] = {
    "paper": {"image_size": (256, 256), "lr": 1e-4, "time_budget_s": None},
    "cpu": {"image_size": (128, 128), "lr": 1e-3, "time_budget_s": 300.0},
}


def teacher_path(pdn_size: str) -> Path:
    """Where the packaged distilled teacher of a PDN size lives."""
    return TEACHER_DIR / f"teacher_{pdn_size}.safetensors"


def load_teacher(pdn_size: str, weights: str | Path | None = None) -> nn.Module:
    """The distilled PDN teacher of ``pdn_size`` from ``weights`` (None: the packaged file), on CPU."""
    teacher = pdn(pdn_size, C)
    path = Path(weights) if weights else teacher_path(pdn_size)
    if not path.is_file():
        raise MissingWeightsError(
            f"efficientad: no teacher weights at {str(path)!r}. Create them with "
            f"'python scripts/make_efficientad_teacher.py --size {pdn_size}', pass "
            f"teacher_weights='file.safetensors', or pretrained_teacher=False (random teacher, "
            f"much weaker)"
        )
    state = load_weights_file(path)
    try:
        teacher.load_state_dict({k: v.float() for k, v in state.items()})
    except RuntimeError as exc:
        raise MissingWeightsError(f"efficientad: {path} is not a PDN-{pdn_size} teacher: {exc}") from exc
    return teacher


class EfficientAD(TrainedModel):
    """EfficientAD anomaly detection: student-teacher (local) plus autoencoder (global) maps, fast at inference.

    Parameters: ``pdn_size`` ('small' = EfficientAD-S, 'medium' = -M); ``teacher_weights`` (a
    .safetensors/.pth teacher; None: the packaged distilled one); ``pretrained_teacher`` (False: a
    random teacher, tests and comparisons only); ``schedule`` ('auto', 'paper' or 'cpu': the
    defaults of ``image_size``, ``lr`` and ``time_budget_s``, see the module doc); ``image_size``
    (working (H, W)); ``resize_mode`` ('stretch' or 'pad'); ``max_iters`` / ``time_budget_s``
    (training budget, whichever ends first); ``lr``, ``weight_decay``, ``lr_step_at`` (fraction
    of the budget after which the lr is multiplied by ``lr_step_factor``); ``train_batch`` (images per step); ``hard_quantile``
    (hard feature loss); ``penalty`` (generated-image penalty on/off) and ``penalty_images``;
    ``quantiles`` (map normalization); ``val_every`` / ``patience`` (early stop with validation
    images); ``batch_size`` (inference); ``device``; ``seed``.
    """

    name = "efficientad"
    meta_keys = ("roi_", "image_size_", "teacher_mean_", "teacher_std_", "q_local_", "q_global_")

    def __init__(
        self,
        pdn_size: str = "small",
        teacher_weights: str | None = None,
        pretrained_teacher: bool = True,
        schedule: str = "auto",
        image_size: tuple[int, int] | None = None,
        resize_mode: str = "stretch",
        max_iters: int = 70_000,
        time_budget_s: float | None = None,
        lr: float | None = None,
        weight_decay: float = 1e-5,
        lr_step_at: float = 0.95,
        lr_step_factor: float = 0.1,
        train_batch: int = 1,
        hard_quantile: float = 0.999,
        penalty: bool = True,
        penalty_images: int = 64,
        penalty_size: int = 64,
        separate_passes: bool = False,
        quantiles: tuple[float, float] = (0.9, 0.995),
        val_every: int = 500,
        patience: int = 5,
        batch_size: int = 8,
        device: str = "auto",
        seed: int = 0,
    ) -> None:
        self.pdn_size = pdn_size
        self.teacher_weights = teacher_weights
        self.pretrained_teacher = pretrained_teacher
        self.schedule = schedule
        self.image_size = image_size
        self.resize_mode = resize_mode
        self.max_iters = max_iters
        self.time_budget_s = time_budget_s
        self.lr = lr
        self.weight_decay = weight_decay
        self.lr_step_at = lr_step_at
        self.lr_step_factor = lr_step_factor
        self.train_batch = train_batch
        self.hard_quantile = hard_quantile
        self.penalty = penalty
        self.penalty_images = penalty_images
        self.penalty_size = penalty_size
        self.separate_passes = separate_passes
        self.quantiles = quantiles
        self.val_every = val_every
        self.patience = patience
        self.batch_size = batch_size
        self.device = device
        self.seed = seed
        self.nets_ = None
        self.history_: list[dict[str, float]] = []

    # -- schedule ---------------------------------------------------------------------------------
    def resolved(self) -> dict[str, Any]:
        """The schedule's name and its ``image_size``, ``lr`` and ``time_budget_s``, explicit values first."""
        name = self.schedule
        if name == "auto":
            name = "paper" if resolve_device(self.device).type == "cuda" else "cpu"
        if name not in SCHEDULES:
            raise ValueError(
                f"schedule: expected 'auto' or one of {tuple(SCHEDULES)}; found {self.schedule!r}"
            )
        out = {"schedule": name, **SCHEDULES[name]}
        for key in ("image_size", "lr", "time_budget_s"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    def _configured_size(self) -> Any:
        return self.resolved()["image_size"]

    # -- networks ---------------------------------------------------------------------------------
    def _build_nets(self, for_loading: bool) -> dict[str, nn.Module]:
        if self.pdn_size not in PDN_SIZES:
            raise ValueError(f"pdn_size: expected one of {PDN_SIZES}; found {self.pdn_size!r}")
        if not for_loading and self.pretrained_teacher:
            teacher = load_teacher(self.pdn_size, self.teacher_weights)
        else:
            teacher = pdn(self.pdn_size, C)
        return {"teacher": teacher, "student": pdn(self.pdn_size, 2 * C), "autoencoder": Autoencoder(C)}

    @staticmethod
    def _normalize(x: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
        if isinstance(x, np.ndarray):
            x = torch.from_numpy(x).to(device).permute(0, 3, 1, 2).float().div(255.0)
        return (x - MEAN.to(device)) / STD.to(device)

    def _fill(self) -> tuple[int, int, int]:
        return (124, 116, 104)  # the ImageNet mean: zero after normalization

    def _raw_maps(self, nets: dict[str, nn.Module], x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor):
        """Local and global (B, gh, gw) maps before quantile scaling."""
        t = (nets["teacher"](x) - mean) / std
        s = nets["student"](x)
        a = nets["autoencoder"](x, t.shape[-2:])
        local = (t - s[:, :C]).pow(2).mean(1)
        glob = (a - s[:, C:]).pow(2).mean(1)
        return local, glob

    def _maps(self, x: np.ndarray, valid: np.ndarray, cancel: CancelToken) -> np.ndarray:
        device = next(self.nets_["student"].parameters()).device
        mean = torch.from_numpy(self.teacher_mean_).to(device).view(1, -1, 1, 1)
        std = torch.from_numpy(self.teacher_std_).to(device).view(1, -1, 1, 1)
        local, glob = self._raw_maps(self.nets_, self._normalize(x, device), mean, std)
        (la, lb), (ga, gb) = self.q_local_, self.q_global_
        local = 0.1 * (local - float(la)) / max(float(lb - la), 1e-12)
        glob = 0.1 * (glob - float(ga)) / max(float(gb - ga), 1e-12)
        m = 0.5 * local + 0.5 * glob
        m = F.interpolate(m[:, None], size=x.shape[1:3], mode="bilinear", align_corners=False)[:, 0]
        return m.float().cpu().numpy()

    # -- fit ----------------------------------------------------------------------------------------
    def fit(
        self,
        images: Any,
        roi: Any = None,
        progress: ProgressFn = no_progress,
        cancel: CancelToken = NEVER_CANCEL,
        val_images: Any = None,
        val_labels: Any = None,
    ) -> EfficientAD:
        """Train on normal images ((H, W, 3) uint8 RGB); ``val_images`` (+ ``val_labels``, 1 = defective)
        enable early stopping on image AUROC (or on the validation loss without labels). Returns self."""
        plan = self.resolved()
        lr, time_budget_s = float(plan["lr"]), plan["time_budget_s"]
        if not lr > 0.0:
            raise ValueError(f"lr: expected a positive learning rate; found {lr}")
        check_budget(self.max_iters, time_budget_s, self.val_every, self.patience)
        if not 0.0 < float(self.hard_quantile) < 1.0:
            raise ValueError(f"hard_quantile: expected a fraction in (0, 1); found {self.hard_quantile}")
        qa, qb = (float(v) for v in self.quantiles)
        if not 0.0 <= qa < qb <= 1.0:
            raise ValueError(
                f"quantiles: expected (low, high) with 0 <= low < high <= 1; found {self.quantiles}"
            )
        t_fit = time.perf_counter()
        images, roi_u8, work, valid = self._prepare_fit(images, roi)
        val = self._prepare_val(val_images, val_labels, roi_u8)
        device = resolve_device(self.device)
        n = len(work)
        rng = np.random.default_rng(self.seed)
        with seeded(self.seed, device):
            nets = {k: v.to(device) for k, v in self._build_nets(for_loading=False).items()}
            teacher, student, ae = nets["teacher"], nets["student"], nets["autoencoder"]
            teacher.eval()
            for p in teacher.parameters():
                p.requires_grad_(False)

            # Teacher channel statistics over the training set, inside the ROI only.
            t_stats = time.perf_counter()
            acc = torch.zeros(3, C, dtype=torch.float64, device=device)
            grid = None
            for i in range(0, n, max(1, int(self.batch_size))):
                cancel.raise_if_cancelled()
                with torch.no_grad():
                    t = teacher(self._normalize(work[i : i + self.batch_size], device))
                grid = tuple(t.shape[-2:])
                w = torch.from_numpy(grid_mask(valid[i : i + self.batch_size], grid)).to(device)[:, None]
                acc[0] += w.sum(dim=(0, 2, 3)).double().expand(C)
                acc[1] += (t * w).sum(dim=(0, 2, 3)).double()
                acc[2] += (t.pow(2) * w).sum(dim=(0, 2, 3)).double()
            count = acc[0].clamp_min(1.0)
            mean = acc[1] / count
            std = (acc[2] / count - mean.pow(2)).clamp_min(1e-12).sqrt()
            mean, std = mean.float().view(1, C, 1, 1), std.float().view(1, C, 1, 1)
            masks = torch.from_numpy(grid_mask(valid, grid)).to(device)[:, None]  # (N, 1, gh, gw)
            stats_s = time.perf_counter() - t_stats
            pen = None
            if self.penalty:
                # The penalty is a mean over the student's output: any size of generated image serves,
                # and a small one costs a fraction of a full-size pass (1/16 at 64 vs 256 pixels).
                side = [min(int(self.penalty_size), int(v)) for v in work.shape[1:3]]
                pen = procedural_images(int(self.penalty_images), (side[0], side[1]), seed=self.seed)

            params = list(student.parameters()) + list(ae.parameters())
            opt = torch.optim.Adam(params, lr=lr, weight_decay=float(self.weight_decay))

            def step(it: int, frac: float) -> float:
                for g in opt.param_groups:
                    g["lr"] = lr * (float(self.lr_step_factor) if frac >= self.lr_step_at else 1.0)
                student.train()
                ae.train()
                idx = rng.integers(0, n, size=int(self.train_batch))
                m = masks[idx]
                # The autoencoder's input is augmented (paper); by default the same augmented image also
                # trains the local branch, so one teacher and one student pass serve both losses.
                xa = self._augment(work[idx], rng, device)
                with torch.no_grad():
                    ta = (teacher(xa) - mean) / std
                sa = student(xa)
                if self.separate_passes:  # the paper: the local loss on the plain image
                    x = self._normalize(work[idx], device)
                    with torch.no_grad():
                        t = (teacher(x) - mean) / std
                    s = student(x)[:, :C]
                else:
                    t, s = ta, sa[:, :C]
                d = (t - s).pow(2)
                d_in = d[m.expand_as(d) > 0]
                d_hard = torch.quantile(d_in[:16_000_000], float(self.hard_quantile))
                loss = d_in[d_in >= d_hard].mean()
                cancel.raise_if_cancelled()
                if pen is not None:
                    j = int(rng.integers(len(pen)))
                    p = self._normalize(pen[j : j + 1], device)
                    loss = loss + student(p)[:, :C].pow(2).mean()
                cancel.raise_if_cancelled()
                a = ae(xa, ta.shape[-2:])
                denom = (m.sum() * C).clamp_min(1.0)
                loss = loss + ((ta - a).pow(2) * m).sum() / denom + ((a - sa[:, C:]).pow(2) * m).sum() / denom
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                return float(loss.detach())

            validate = snapshot = restore = None
            if val is not None:
                validate = self._validator(nets, val, mean, std, device)
                snapshot, restore = snapshots(nets, ("student", "autoencoder"))
            budget = None  # time_budget_s covers the whole fit: the loop gets the rest, less the time the
            if time_budget_s is not None:  # final quantile pass needs (teacher + student + AE ~ 3x)
                used = time.perf_counter() - t_fit + 3.0 * stats_s
                budget = max(float(time_budget_s) - used, 1e-3)
            history = train_loop(
                step, int(self.max_iters), budget, progress, cancel,
                validate, int(self.val_every), int(self.patience), snapshot, restore,
            )  # fmt: skip
            student.eval()
            ae.eval()

            # Quantiles of both maps over the whole training set (seed 003), inside the ROI.
            locs, globs = [], []
            for i in range(0, n, max(1, int(self.batch_size))):
                cancel.raise_if_cancelled()
                with torch.no_grad():
                    lo, gl = self._raw_maps(
                        nets, self._normalize(work[i : i + self.batch_size], device), mean, std
                    )
                keep = masks[i : i + self.batch_size, 0] > 0
                locs.append(lo[keep].cpu())
                globs.append(gl[keep].cpu())
            q_local = np.quantile(torch.cat(locs).double().numpy(), [qa, qb]).astype(np.float32)
            q_global = np.quantile(torch.cat(globs).double().numpy(), [qa, qb]).astype(np.float32)

        self.teacher_mean_ = mean.view(C).cpu().numpy()
        self.teacher_std_ = std.view(C).cpu().numpy()
        self.q_local_, self.q_global_ = q_local, q_global
        self.roi_ = roi_u8
        self.image_size_ = np.asarray(work.shape[1:3], np.int64)
        self.history_ = history
        for net in nets.values():
            net.eval()
        self.nets_ = nets
        return self

    @staticmethod
    def _augment(x: np.ndarray, rng: np.random.Generator, device: torch.device) -> torch.Tensor:
        """One of brightness, contrast or saturation by a factor in [0.8, 1.2] (the paper's AE input)."""
        t = torch.from_numpy(x).to(device).permute(0, 3, 1, 2).float().div(255.0)
        f = float(rng.uniform(0.8, 1.2))
        kind = int(rng.integers(3))
        gray = (0.299 * t[:, 0] + 0.587 * t[:, 1] + 0.114 * t[:, 2])[:, None]
        if kind == 0:
            t = t * f
        elif kind == 1:
            t = gray.mean(dim=(2, 3), keepdim=True) + f * (t - gray.mean(dim=(2, 3), keepdim=True))
        else:
            t = gray + f * (t - gray)
        return EfficientAD._normalize(t.clamp(0, 1), device)

    def _validator(self, nets, val, mean, std, device):
        work, valid, labels = val

        def validate() -> float:
            for k in ("student", "autoencoder"):
                nets[k].eval()
            scores, losses = [], []
            with torch.no_grad():
                for i in range(0, len(work), max(1, int(self.batch_size))):
                    lo, gl = self._raw_maps(
                        nets, self._normalize(work[i : i + self.batch_size], device), mean, std
                    )
                    m = torch.from_numpy(grid_mask(valid[i : i + self.batch_size], lo.shape[-2:])).to(device)
                    both = (lo + gl) * m
                    scores.append(both.flatten(1).max(1).values.cpu().numpy())
                    losses.append(float(both.sum() / m.sum().clamp_min(1.0)))
            if labels is not None:
                return -auroc(labels, np.concatenate(scores))
            return float(np.mean(losses))

        return validate
