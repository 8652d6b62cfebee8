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
from torch import nn

from workbench.models import params as P
from workbench.models.backbones import MissingWeightsError, load_weights_file
from workbench.models.components.forward import InputStage, MapTail, const
from workbench.models.components.pdn import PDN_SIZES, Autoencoder, pdn
from workbench.models.components.procedural import procedural_images
from workbench.models.components.training import optimizer_step
from workbench.models.components.working import grid_mask
from workbench.models.trained import FitData, TrainedModel

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


class EfficientADForward(nn.Module):
    """(B, h, w, 3) uint8 -> (scores, maps): quantile-scaled local (student-teacher) and global
    (autoencoder-student) maps, averaged and upsampled; 0 outside the ROI."""

    def __init__(self, nets: dict[str, nn.Module], valid: np.ndarray, fill, t_mean, t_std, q_local, q_global):
        super().__init__()
        self.input = InputStage(MEAN.view(3).numpy(), STD.view(3).numpy(), valid, fill)
        self.teacher, self.student, self.autoencoder = nets["teacher"], nets["student"], nets["autoencoder"]
        self.register_buffer("t_mean", const(t_mean).view(1, -1, 1, 1))
        self.register_buffer("t_std", const(t_std).view(1, -1, 1, 1))
        (la, lb), (ga, gb) = (float(v) for v in q_local), (float(v) for v in q_global)
        self.scale = (la, 0.1 / max(lb - la, 1e-12), ga, 0.1 / max(gb - ga, 1e-12))
        self.tail = MapTail(valid)

    def raw(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Local and global (B, gh, gw) maps of normalized images (B, 3, h, w), before quantile scaling."""
        t = (self.teacher(x) - self.t_mean) / self.t_std
        s = self.student(x)
        a = self.autoencoder(x, t.shape[-2:])
        local = (t - s[:, :C]).pow(2).mean(1)
        glob = (a - s[:, C:]).pow(2).mean(1)
        return local, glob

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        local, glob = self.raw(self.input(x))
        la, ls, ga, gs = self.scale
        return self.tail(0.5 * ((local - la) * ls) + 0.5 * ((glob - ga) * gs))


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
    trained_nets = ("student", "autoencoder")
    schedules = SCHEDULES
    params = {
        "pdn_size": P.choice("small", PDN_SIZES),
        "teacher_weights": P.path(None),
        "pretrained_teacher": P.flag(True),
        "schedule": P.schedule(SCHEDULES),
        **P.working_params(None, native=True),
        **P.training_params(max_iters=70_000, train_batch=1, val_every=500),
        "lr": P.number(None, 0.0, low_open=True, optional=True),
        "weight_decay": P.number(1e-5, 0.0),
        "lr_step_at": P.number(0.95, 0.0, 1.0),
        "lr_step_factor": P.number(0.1, 0.0, 1.0, low_open=True),
        "hard_quantile": P.number(0.999, 0.0, 1.0, low_open=True),
        "penalty": P.flag(True),
        "penalty_images": P.integer(64, 1),
        "penalty_size": P.integer(64, 16),
        "separate_passes": P.flag(False),
        "quantiles": P.pair((0.9, 0.995), 0.0, 1.0, strict=True),
        **P.run_params(batch_size=8),
    }

    # Tiny CPU settings for workbench.models.checks (random weights: the checks are about the engine).
    quick_params = dict(
        pretrained_teacher=False, image_size=(24, 32), max_iters=3, penalty_images=2, batch_size=16,
        device="cpu",
    )  # fmt: skip

    def _check_more(self) -> None:
        if not float(self.hard_quantile) < 1.0:
            raise ValueError(f"hard_quantile={self.hard_quantile}: expected a fraction in (0, 1)")

    # -- networks ---------------------------------------------------------------------------------
    def _build_nets(self, for_loading: bool) -> dict[str, nn.Module]:
        if not for_loading and self.pretrained_teacher:
            teacher = load_teacher(self.pdn_size, self.teacher_weights)
        else:
            teacher = pdn(self.pdn_size, C)
        return {"teacher": teacher, "student": pdn(self.pdn_size, 2 * C), "autoencoder": Autoencoder(C)}

    def _forward(self, nets: dict[str, nn.Module], data: FitData | None) -> EfficientADForward:
        if data is None:
            stats = self.teacher_mean_, self.teacher_std_, self.q_local_, self.q_global_
        else:  # during training: provisional scales (local + global, unscaled) for the validation AUROC
            stats = data.extra["t_mean"], data.extra["t_std"], (0.0, 0.1), (0.0, 0.1)
        return EfficientADForward(nets, self._valid(data), self._fill(), *stats)

    @staticmethod
    def _augment(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """One of brightness, contrast or saturation by a factor in [0.8, 1.2] on (B, 3, h, w) in [0, 1] (the paper's AE input)."""
        f = float(rng.uniform(0.8, 1.2))
        kind = int(rng.integers(3))
        gray = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[:, None]
        if kind == 0:
            x = x * f
        elif kind == 1:
            x = gray.mean(dim=(2, 3), keepdim=True) + f * (x - gray.mean(dim=(2, 3), keepdim=True))
        else:
            x = gray + f * (x - gray)
        return x.clamp(0, 1)

    def _raw_batches(self, fwd: EfficientADForward, work: np.ndarray, data: FitData):
        """Yield (rows, local, global) raw maps of ``work`` a batch at a time (no gradients)."""
        bs = max(1, int(self.batch_size))
        for i in range(0, len(work), bs):
            data.cancel.raise_if_cancelled()
            with torch.no_grad():
                lo, gl = fwd.raw(fwd.input(torch.from_numpy(work[i : i + bs]).to(data.device)))
            yield slice(i, i + bs), lo, gl

    # -- training -----------------------------------------------------------------------------------
    def _prepare(self, nets: dict[str, nn.Module], data: FitData):
        lr = float(self.resolved()["lr"])
        device, n = data.device, len(data.work)
        teacher, student, ae = nets["teacher"], nets["student"], nets["autoencoder"]
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        # Teacher channel statistics over the training set, inside the ROI only.
        t_stats = time.perf_counter()
        plain = InputStage(MEAN.view(3).numpy(), STD.view(3).numpy(), None, self._fill()).to(device)
        acc = torch.zeros(3, C, dtype=torch.float64, device=device)
        grid = None
        for i in range(0, n, max(1, int(self.batch_size))):
            data.cancel.raise_if_cancelled()
            with torch.no_grad():
                t = teacher(plain(torch.from_numpy(data.work[i : i + self.batch_size]).to(device)))
            grid = tuple(t.shape[-2:])
            w = torch.from_numpy(grid_mask(data.valid[i : i + self.batch_size], grid)).to(device)[:, None]
            acc[0] += w.sum(dim=(0, 2, 3)).double().expand(C)
            acc[1] += (t * w).sum(dim=(0, 2, 3)).double()
            acc[2] += (t.pow(2) * w).sum(dim=(0, 2, 3)).double()
        count = acc[0].clamp_min(1.0)
        mean = acc[1] / count
        std = (acc[2] / count - mean.pow(2)).clamp_min(1e-12).sqrt()
        data.extra["t_mean"], data.extra["t_std"] = mean.float().cpu().numpy(), std.float().cpu().numpy()
        mean, std = mean.float().view(1, C, 1, 1), std.float().view(1, C, 1, 1)
        masks = torch.from_numpy(grid_mask(data.valid, grid)).to(device)[:, None]  # (N, 1, gh, gw)
        data.extra["masks"] = masks
        data.extra["stats_s"] = time.perf_counter() - t_stats
        data.extra["forward"] = self._forward(nets, data).to(device)
        pen = None
        if self.penalty:
            # The penalty is a mean over the student's output: any size of generated image serves,
            # and a small one costs a fraction of a full-size pass (1/16 at 64 vs 256 pixels).
            side = [min(int(self.penalty_size), int(v)) for v in data.work.shape[1:3]]
            pen = procedural_images(int(self.penalty_images), (side[0], side[1]), seed=self.seed)
        opt = torch.optim.Adam(
            list(student.parameters()) + list(ae.parameters()), lr=lr, weight_decay=float(self.weight_decay)
        )
        trained = {"student": student, "autoencoder": ae}
        rng = data.rng

        def loss_of(frac: float) -> torch.Tensor:
            for g in opt.param_groups:
                g["lr"] = lr * (float(self.lr_step_factor) if frac >= self.lr_step_at else 1.0)
            idx = rng.integers(0, n, size=int(self.train_batch))
            m = masks[idx]
            # The autoencoder's input is augmented (paper); by default the same augmented image also
            # trains the local branch, so one teacher and one student pass serve both losses.
            x01 = torch.from_numpy(data.work[idx]).to(device).permute(0, 3, 1, 2).float().div(255.0)
            xa = (self._augment(x01, rng) - MEAN.to(device)) / STD.to(device)
            with torch.no_grad():
                ta = (teacher(xa) - mean) / std
            sa = student(xa)
            if self.separate_passes:  # the paper: the local loss on the plain image
                x = plain(torch.from_numpy(data.work[idx]).to(device))
                with torch.no_grad():
                    t = (teacher(x) - mean) / std
                s = student(x)[:, :C]
            else:
                t, s = ta, sa[:, :C]
            d = (t - s).pow(2)
            d_in = d[m.expand_as(d) > 0]
            d_hard = torch.quantile(d_in[:16_000_000], float(self.hard_quantile))
            loss = d_in[d_in >= d_hard].mean()
            data.cancel.raise_if_cancelled()
            if pen is not None:
                j = int(rng.integers(len(pen)))
                loss = loss + student(plain(torch.from_numpy(pen[j : j + 1]).to(device)))[:, :C].pow(2).mean()
            data.cancel.raise_if_cancelled()
            a = ae(xa, ta.shape[-2:])
            denom = (m.sum() * C).clamp_min(1.0)
            return loss + ((ta - a).pow(2) * m).sum() / denom + ((a - sa[:, C:]).pow(2) * m).sum() / denom

        return optimizer_step(trained, opt, loss_of)

    def _reserve_s(self, data: FitData) -> float:
        # The final quantile pass runs teacher, student and autoencoder (about 3x the statistics pass).
        return 3.0 * data.extra["stats_s"]

    def _val_loss(self, nets: dict[str, nn.Module], data: FitData, rows: slice) -> float:
        work, valid, _ = data.val
        _, lo, gl = next(self._raw_batches(data.extra["forward"], work[rows], data))
        m = torch.from_numpy(grid_mask(valid[rows], lo.shape[-2:])).to(data.device)
        return float(((lo + gl) * m).sum() / m.sum().clamp_min(1.0))

    def _finish(self, nets: dict[str, nn.Module], data: FitData) -> dict[str, np.ndarray]:
        """Teacher statistics, and the quantiles of both maps over the whole training set (seed 003), inside the ROI."""
        locs, globs = [], []
        for rows, lo, gl in self._raw_batches(data.extra["forward"], data.work, data):
            keep = data.extra["masks"][rows, 0] > 0
            locs.append(lo[keep].cpu())
            globs.append(gl[keep].cpu())
        qa, qb = (float(v) for v in self.quantiles)
        return {
            "teacher_mean_": data.extra["t_mean"],
            "teacher_std_": data.extra["t_std"],
            "q_local_": np.quantile(torch.cat(locs).double().numpy(), [qa, qb]).astype(np.float32),
            "q_global_": np.quantile(torch.cat(globs).double().numpy(), [qa, qb]).astype(np.float32),
        }
