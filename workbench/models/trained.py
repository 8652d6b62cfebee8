"""The template every trained model follows: one ``fit`` (checks, working images, budget, loop, early stop,
state), filled in by a few hooks, and one inference forward built from the trained networks.

A subclass provides:

* ``_build_nets(for_loading)`` -> {name: nn.Module}: the networks that are trained and stored;
* ``_prepare(nets, data)`` -> ``step(iteration, fraction) -> loss``: caches, statistics and the
  optimizer, then the training step (``data`` is a :class:`FitData`; keep what the forward or the
  finish needs in ``data.extra``);
* ``_forward(nets, data)`` -> the inference ``nn.Module`` (``data`` is None once fitted: then the
  learned arrays are read from the model; during training, provisional values come from ``data``);
* ``_val_loss(nets, data, rows)`` -> float: the validation loss on ``data.val`` rows, for early stop
  without labels (with labels the forward's image AUROC is used);
* optionally ``_finish(nets, data)`` -> {attribute: array} learned after the loop (statistics,
  quantiles), and ``_reserve_s(data)``: seconds of the budget to keep for it.

The time budget (``time_budget_s``) counts everything ``fit`` does, preparation included.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from workbench.core.progress import CancelToken, ProgressFn
from workbench.metrics import auroc
from workbench.models.base import AnomalyModel, resolve_device
from workbench.models.components.training import (
    batch_sampler,
    distance_loss,
    load_module_arrays,
    module_arrays,
    optimizer_step,
    seeded,
    snapshots,
    train_loop,
)
from workbench.models.components.working import prepare_working, valid_mask

StepFn = Callable[[int, float], float]


@dataclass
class FitData:
    """What the training hooks work on: (N, h, w, 3) uint8 working images blanked outside the ROI, (N, h, w)
    bool valid masks, the (H, W) uint8 ROI to store, the device, a seeded generator, the cancel token,
    validation data ``(work, valid, labels or None)`` or None, and ``extra`` for the model's own things."""

    work: np.ndarray
    valid: np.ndarray
    roi: np.ndarray
    device: torch.device
    rng: np.random.Generator
    cancel: CancelToken
    val: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class TrainedModel(AnomalyModel):
    """Base of models with trained networks: the fit template, networks as state, the forward from the nets.

    Learned state: the networks (``self.nets_``, a dict name -> nn.Module, stored as
    ``net.<name>.<tensor>``) and the arrays named in ``meta_keys`` (always ``roi_``: (H, W) uint8 at
    the fit images' size; ``image_size_``: (2,) working size).
    """

    meta_keys: ClassVar[tuple[str, ...]] = ("roi_", "image_size_")
    trained_nets: ClassVar[tuple[str, ...] | None] = None  # whose weights early stop keeps (None: all)
    # Training recipes: {name: {parameter: value}}; a parameter left at None takes the chosen recipe's
    # value ('auto': 'paper' on CUDA, 'cpu' otherwise). The recipe a fit used is stored with its state
    # (``schedule_``), so a run reloaded on another device computes what it computed when it was fitted.
    schedules: ClassVar[dict[str, dict[str, Any]]] = {}
    nets_: dict[str, nn.Module] | None = None
    schedule_: np.ndarray | None = None

    def _reset(self) -> None:
        self.nets_ = None
        self.schedule_ = None
        self.history_: list[dict[str, float]] = []
        self._inference = None

    # -- hooks ----------------------------------------------------------------------------------------
    def _build_nets(self, for_loading: bool) -> dict[str, nn.Module]:
        raise NotImplementedError

    def _prepare(self, nets: dict[str, nn.Module], data: FitData) -> StepFn:
        raise NotImplementedError

    def _forward(self, nets: dict[str, nn.Module], data: FitData | None) -> nn.Module:
        raise NotImplementedError

    def _val_loss(self, nets: dict[str, nn.Module], data: FitData, rows: slice) -> float:
        raise NotImplementedError

    def _finish(self, nets: dict[str, nn.Module], data: FitData) -> dict[str, np.ndarray]:
        return {}

    def _reserve_s(self, data: FitData) -> float:
        return 0.0

    def _fill(self) -> tuple[int, int, int]:
        """The uint8 RGB colour blanked pixels get (the ImageNet mean: about zero after normalization)."""
        return (124, 116, 104)

    # -- schedules -----------------------------------------------------------------------------------
    def _schedule_name(self) -> str | None:
        """The recipe in use: the fitted one once fitted, else the ``schedule`` parameter ('auto' by device)."""
        if not self.schedules:
            return None
        names = list(self.schedules)
        if self.schedule_ is not None and 0 <= int(self.schedule_) < len(names):
            return names[int(self.schedule_)]
        name = getattr(self, "schedule", "auto")
        if name == "auto":
            name = "paper" if resolve_device(self.device).type == "cuda" else "cpu"
        if name not in self.schedules:
            raise ValueError(f"schedule={name!r}: expected 'auto' or one of {', '.join(names)}")
        return name

    def setting(self, key: str) -> Any:
        """A parameter's value in effect: the explicit value, else the recipe's, else None."""
        value = getattr(self, key, None)
        name = self._schedule_name() if value is None else None
        return self.schedules[name].get(key) if name is not None else value

    def resolved(self) -> dict[str, Any]:
        """The recipe's name and the values in effect of every parameter it sets, explicit values first."""
        name = self._schedule_name()
        if name is None:
            return {}
        return {"schedule": name, **{k: self.setting(k) for k in self.schedules[name]}}

    def _configured_size(self) -> Any:
        """The (H, W) the model was asked to work at (the recipe's when the parameter is None)."""
        return self.setting("image_size")

    def _time_budget(self) -> float | None:
        return self.setting("time_budget_s")

    def _sampler(self, data: FitData) -> Callable[[], np.ndarray]:
        """Indices of the next training batch: shuffled passes, ``train_batch`` (at most all) images at a time."""
        n = len(data.work)
        return batch_sampler(data.rng, n, max(1, min(int(self.setting("train_batch")), n)))

    def _live_forward(self, nets: dict[str, nn.Module], data: FitData) -> nn.Module:
        """The forward on the networks being trained, on the training device (kept as ``data.extra['forward']``)."""
        data.extra["forward"] = self._forward(nets, data).to(data.device)
        return data.extra["forward"]

    def _max_iters(self, n: int) -> int:
        """``max_iters`` when set, else ``epochs`` passes over n images in batches of ``train_batch``
        (neither set: the recipe's, a fixed number of iterations or of passes)."""
        iters, epochs = getattr(self, "max_iters", None), getattr(self, "epochs", None)
        if iters is None and epochs is None:
            iters, epochs = self.setting("max_iters"), self.setting("epochs")
        if iters is not None:
            return int(iters)
        return int(epochs) * math.ceil(n / max(1, min(int(self.setting("train_batch")), n)))

    # -- state ----------------------------------------------------------------------------------------
    @property
    def state_keys(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.meta_keys

    @property
    def is_fitted(self) -> bool:
        return self.nets_ is not None and all(getattr(self, k, None) is not None for k in self.meta_keys)

    def state_dict(self) -> dict[str, np.ndarray]:
        self._check_fitted()
        out = {k: np.array(getattr(self, k), copy=True, order="C") for k in self.meta_keys}
        if self.schedule_ is not None:
            out["schedule_"] = np.array(self.schedule_, np.int64)
        for name, net in self.nets_.items():
            out.update(module_arrays(f"net.{name}", net))
        return out

    def load_state_dict(self, state: dict[str, Any]) -> TrainedModel:
        missing = [k for k in self.meta_keys if k not in state]
        if missing:
            raise ValueError(f"{self.name}: state is missing {missing}; found {sorted(state)[:8]}...")
        self.check_params()
        for k in self.meta_keys:
            setattr(self, k, np.array(state[k], copy=True, order="C"))
        # States saved before recipes were stored resolve the recipe as the parameters say.
        self.schedule_ = np.array(state["schedule_"], np.int64) if "schedule_" in state else None
        device = resolve_device(self.device)
        with seeded(self.seed, device):
            nets = self._build_nets(for_loading=True)
        for name, net in nets.items():
            load_module_arrays(f"net.{name}", net, state, self.name)
            net.to(device).eval()
        self.nets_ = nets
        self._after_load()
        return self

    # -- the forward --------------------------------------------------------------------------------------
    def forward_module(self) -> nn.Module:
        self._check_fitted()
        return self._forward(self.nets_, None).to(resolve_device(self.device)).eval()

    def _valid(self, data: FitData | None = None) -> np.ndarray:
        """(h, w) bool: where working images hold ROI pixels (the fitted ROI, or the one being fitted)."""
        roi = self.roi_ if data is None else data.roi
        size = tuple(int(v) for v in (self.image_size_ if data is None else data.work.shape[1:3]))
        return valid_mask(roi, size, self.resize_mode)

    # -- fit ------------------------------------------------------------------------------------------
    def _fit(
        self, images: list[np.ndarray], roi: np.ndarray, progress: ProgressFn, cancel: CancelToken,
        val: tuple[list[np.ndarray], Any] | None,
    ) -> None:  # fmt: skip
        """Train on the checked images: the working images, the hooks' preparation and the loop within the
        budget, early stop on ``val``, then the learned state (set only when training ran to its end)."""
        t0 = time.perf_counter()
        self.schedule_ = None
        name = self._schedule_name()
        size = tuple(int(v) for v in self._configured_size())
        work, valid = prepare_working(images, roi, size, self.resize_mode, self._fill())
        progress(0.0, f"preparing {len(work)} images at {size[1]}x{size[0]}")
        device = resolve_device(self.device)
        data = FitData(work, valid, roi, device, np.random.default_rng(self.seed), cancel)
        data.val = None if val is None else self._prepare_val(*val, roi, size)
        with seeded(self.seed, device):
            nets = {k: v.to(device) for k, v in self._build_nets(for_loading=False).items()}
            step = self._prepare(nets, data)
            validate = None if data.val is None else self._validator(nets, data)
            snapshot, restore = snapshots(nets, self.trained_nets) if validate else (None, None)
            budget = self._time_budget()
            if budget is not None:
                used = time.perf_counter() - t0 + self._reserve_s(data)
                budget = max(float(budget) - used, 1e-3)
            history = train_loop(
                step, self._max_iters(len(work)), budget, progress, cancel,
                validate, int(self.val_every), int(self.patience), snapshot, restore,
            )  # fmt: skip
            for net in nets.values():
                net.eval()
            learned = self._finish(nets, data)
        for k, v in learned.items():
            setattr(self, k, v)
        self.roi_ = roi
        self.image_size_ = np.asarray(size, np.int64)
        self.schedule_ = None if name is None else np.array(list(self.schedules).index(name), np.int64)
        self.history_ = history
        self.nets_ = nets
        # Predict from the stored state, exactly as a reloaded run will: live training tensors can take
        # another (not bit-identical) kernel path than the C-ordered arrays a state is read back as.
        self.load_state_dict(self.state_dict())

    def _prepare_val(
        self, val_images: list[np.ndarray], val_labels: Any, roi_u8: np.ndarray, size: tuple[int, int]
    ):
        work, valid = prepare_working(val_images, roi_u8, size, self.resize_mode, self._fill())
        labels = None
        if val_labels is not None:
            labels = np.asarray(val_labels).astype(bool).ravel()
            if labels.shape[0] != len(val_images):
                raise ValueError(f"val_labels: expected {len(val_images)} labels; found {labels.shape[0]}")
            if labels.all() or not labels.any():
                labels = None  # one class only: fall back to the validation loss
        return work, valid, labels

    def _validator(self, nets: dict[str, nn.Module], data: FitData) -> Callable[[], float]:
        """Lower is better: minus the image AUROC of the forward with labels, else the mean validation loss."""
        work, _, labels = data.val
        bs = max(1, int(self.batch_size))

        def validate() -> float:
            for net in nets.values():
                net.eval()
            with torch.no_grad():
                if labels is None:
                    losses = [self._val_loss(nets, data, slice(i, i + bs)) for i in range(0, len(work), bs)]
                    return float(np.mean(losses))
                module = self._forward(nets, data).to(data.device).eval()
                scores = [
                    module(torch.from_numpy(work[i : i + bs]).to(data.device))[0].float().cpu().numpy()
                    for i in range(0, len(work), bs)
                ]
            return -auroc(y_true=labels, y_score=np.concatenate(scores))

        return validate


class DistillationModel(TrainedModel):
    """Trained models whose forward gives per-layer teacher-student ``distances`` (STFPM, Reverse
    Distillation): the loss is their mean inside the ROI; a subclass gives the optimizer."""

    def _optimizer(self, nets: dict[str, nn.Module]) -> torch.optim.Optimizer:
        raise NotImplementedError

    def _prepare(self, nets: dict[str, nn.Module], data: FitData) -> StepFn:
        next_batch, fwd = self._sampler(data), self._live_forward(nets, data)

        def loss_of(frac: float) -> torch.Tensor:
            idx = next_batch()
            return distance_loss(fwd, data.work[idx], data.valid[idx], data.device)

        return optimizer_step(nets, self._optimizer(nets), loss_of)

    def _val_loss(self, nets: dict[str, nn.Module], data: FitData, rows: slice) -> float:
        work, valid, _ = data.val
        return float(distance_loss(data.extra["forward"], work[rows], valid[rows], data.device))
