"""What every trained model shares: a budgeted training loop with loss history, validation early stop,
and state as numpy arrays (``net.<network>.<tensor>`` plus the model's own ``*_`` arrays).

The loop stops at ``max_iters`` or ``time_budget_s`` (whichever comes first), streams the loss
through ``progress`` (the numbers as ``iteration``/``loss``/``val`` values of a structured event,
see :func:`workbench.core.progress.report`) and a structured ``history_`` list, checks
``cancel`` every iteration, and with validation images evaluates every ``val_every`` iterations,
keeps the best weights and stops after ``patience`` evaluations without improvement.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress, report
from workbench.models.backbones import FeatureExtractor
from workbench.models.base import AnomalyModel, NotFittedError, check_images, check_roi, resolve_device
from workbench.models.components.working import check_resize_mode, grid_mask, maps_to_inputs, prepare_working

StepFn = Callable[[int, float], float]


def check_budget(max_iters: int, time_budget_s: float | None, val_every: int, patience: int) -> None:
    if int(max_iters) < 1:
        raise ValueError(f"max_iters: expected >= 1; found {max_iters}")
    if time_budget_s is not None and float(time_budget_s) <= 0:
        raise ValueError(
            f"time_budget_s: expected a positive number of seconds or None; found {time_budget_s}"
        )
    if int(val_every) < 1 or int(patience) < 1:
        raise ValueError(f"val_every and patience: expected >= 1; found {val_every}, {patience}")


def train_loop(
    step: StepFn,
    max_iters: int,
    time_budget_s: float | None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
    validate: Callable[[], float] | None = None,
    val_every: int = 100,
    patience: int = 5,
    snapshot: Callable[[], Any] | None = None,
    restore: Callable[[Any], None] | None = None,
    report_every_s: float = 0.5,
) -> list[dict[str, float]]:
    """Run ``step(iteration, fraction_done)`` -> loss until the budget ends; returns the history.

    ``fraction_done`` in [0, 1) is the larger of the iteration and time fractions, for learning-rate
    schedules. ``validate()`` returns a value where lower is better; the best weights (``snapshot``)
    are put back (``restore``) at the end.
    """
    history: list[dict[str, float]] = []
    t0 = time.perf_counter()
    last_report = -1e9
    best, best_state, bad = np.inf, None, 0
    it = 0
    while it < max_iters:
        cancel.raise_if_cancelled()
        elapsed = time.perf_counter() - t0
        if time_budget_s is not None and elapsed >= time_budget_s:
            break
        frac = it / max_iters
        if time_budget_s is not None:
            frac = max(frac, elapsed / time_budget_s)
        loss = float(step(it, min(frac, 1.0)))
        it += 1
        if not np.isfinite(loss):
            raise FloatingPointError(
                f"training diverged at iteration {it}: loss {loss}; lower the learning rate"
            )
        entry = {"iter": it, "loss": loss, "seconds": round(time.perf_counter() - t0, 3)}
        history.append(entry)
        stop = False
        if validate is not None and (it % val_every == 0 or it == max_iters):
            cancel.raise_if_cancelled()
            value = float(validate())
            entry["val"] = value
            if value < best:
                best, bad = value, 0
                best_state = snapshot() if snapshot is not None else None
            else:
                bad += 1
                stop = bad >= patience
        now = time.perf_counter()
        if now - last_report >= report_every_s or it == max_iters or stop:
            last_report = now
            done = it / max_iters
            if time_budget_s is not None:
                done = max(done, (now - t0) / time_budget_s)
            msg = f"iter {it}/{max_iters} loss {loss:.4f}" + (
                f" val {entry['val']:.4f}" if "val" in entry else ""
            )
            extra = {"val": entry["val"]} if "val" in entry else {}
            report(progress, min(done, 1.0), msg, iteration=it, loss=loss, **extra)
        if stop:
            break
    if best_state is not None and restore is not None:
        restore(best_state)
    return history


def snapshots(nets: dict[str, nn.Module], names: tuple[str, ...] | None = None):
    """(snapshot, restore) callables for ``train_loop``: copies of the named networks' weights."""
    names = tuple(nets) if names is None else names

    def snapshot() -> dict[str, dict[str, torch.Tensor]]:
        return {k: {a: b.detach().clone() for a, b in nets[k].state_dict().items()} for k in names}

    def restore(state: dict[str, dict[str, torch.Tensor]]) -> None:
        for k, v in state.items():
            nets[k].load_state_dict(v)

    return snapshot, restore


def batch_sampler(rng: np.random.Generator, n: int, batch: int) -> Callable[[], np.ndarray]:
    """A callable giving the next (batch,) int64 indices: shuffled passes over range(n), one after another."""
    order: list[int] = []

    def next_batch() -> np.ndarray:
        while len(order) < batch:
            order.extend(rng.permutation(n).tolist())
        idx = np.array(order[:batch], np.int64)
        del order[:batch]
        return idx

    return next_batch


def roi_mean_loss(dists: list[torch.Tensor], valid: np.ndarray, device: torch.device) -> torch.Tensor:
    """Sum over feature levels of each (B, h, w) distance map's mean inside the ROI (``valid`` (B, H, W))."""
    total = torch.zeros((), device=device)
    for d in dists:
        w = torch.from_numpy(grid_mask(valid, d.shape[-2:])).to(device)
        total = total + (d * w).sum() / w.sum().clamp_min(1.0)
    return total


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Global torch RNG seeded inside the block (weight init, dropout) and restored afterwards."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield


def module_arrays(prefix: str, module: nn.Module) -> dict[str, np.ndarray]:
    """A module's parameters and buffers as {prefix.name: numpy copy}."""
    return {f"{prefix}.{k}": v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def load_module_arrays(prefix: str, module: nn.Module, state: dict[str, Any], model: str) -> None:
    own = module.state_dict()
    missing = [f"{prefix}.{k}" for k in own if f"{prefix}.{k}" not in state]
    if missing:
        raise ValueError(f"{model}: state is missing {len(missing)} weights such as {missing[:3]}")
    loaded = {}
    for k, v in own.items():
        arr = np.asarray(state[f"{prefix}.{k}"])
        if tuple(arr.shape) != tuple(v.shape):
            raise ValueError(
                f"{model}: weight {prefix}.{k} has shape {arr.shape}, expected {tuple(v.shape)} "
                f"(were the parameters changed since training?)"
            )
        loaded[k] = torch.from_numpy(arr.copy()).to(v.dtype)
    module.load_state_dict(loaded)


class TrainedModel(AnomalyModel):
    """Base of models with trained networks; subclasses build ``nets`` and fill ``_fit_nets``/``_maps``.

    Learned state: the networks (``self.nets_``, a dict name -> nn.Module) and the arrays named in
    ``meta_keys`` (always ``roi_``: (H, W) uint8 at the fit images' size; ``image_size_``: (2,)).
    """

    def _get_teacher(self, device: torch.device) -> FeatureExtractor:
        """The frozen pretrained feature extractor of distillation models, built once from their parameters."""
        if getattr(self, "_teacher", None) is None:
            self._teacher = FeatureExtractor(
                self.backbone, self.layers, weights=self.weights, pretrained=self.pretrained, seed=self.seed
            )
        return self._teacher.to(device)

    meta_keys: ClassVar[tuple[str, ...]] = ("roi_", "image_size_")
    nets_: dict[str, nn.Module] | None = None

    # -- subclass hooks ---------------------------------------------------------------------------
    def _build_nets(self, for_loading: bool) -> dict[str, nn.Module]:
        raise NotImplementedError

    def _fill(self) -> tuple[int, int, int]:
        """The uint8 RGB colour blanked pixels get (normalizes to about zero)."""
        return (124, 116, 104)

    def _maps(self, x: np.ndarray, valid: np.ndarray, cancel: CancelToken) -> np.ndarray:
        """(B, h, w) float32 working-size maps of (B, h, w, 3) uint8 working images."""
        raise NotImplementedError

    # -- state --------------------------------------------------------------------------------------
    @property
    def state_keys(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.meta_keys

    @property
    def is_fitted(self) -> bool:
        return self.nets_ is not None and all(getattr(self, k, None) is not None for k in self.meta_keys)

    def state_dict(self) -> dict[str, np.ndarray]:
        self._check_fitted()
        out = {k: np.array(getattr(self, k), copy=True, order="C") for k in self.meta_keys}
        for name, net in self.nets_.items():
            out.update(module_arrays(f"net.{name}", net))
        return out

    def load_state_dict(self, state: dict[str, Any]) -> TrainedModel:
        missing = [k for k in self.meta_keys if k not in state]
        if missing:
            raise ValueError(f"{self.name}: state is missing {missing}; found {sorted(state)[:8]}...")
        device = resolve_device(self.device)
        with seeded(self.seed, device):
            nets = self._build_nets(for_loading=True)
        for name, net in nets.items():
            load_module_arrays(f"net.{name}", net, state, self.name)
            net.to(device).eval()
        for k in self.meta_keys:
            setattr(self, k, np.array(state[k], copy=True, order="C"))
        self.nets_ = nets
        self._after_load()
        return self

    # -- shared fit/predict plumbing ----------------------------------------------------------------
    def _configured_size(self) -> Any:
        """The (H, W) the model was asked to work at (subclasses with schedules resolve it there)."""
        return self.image_size

    def _working_size(self) -> tuple[int, int]:
        size = self._configured_size()
        if size is None or len(size) != 2 or min(int(v) for v in size) < 16:
            raise ValueError(f"image_size: expected (height, width) of at least 16 pixels; found {size}")
        return int(size[0]), int(size[1])

    def _prepare_fit(
        self, images: Any, roi: Any
    ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
        """Checked images, the (H, W) uint8 ROI to store, working images and valid masks."""
        check_resize_mode(self.resize_mode)
        images = check_images(images)
        mask = check_roi(roi, images[0].shape[:2])
        roi_u8 = np.ones(images[0].shape[:2], np.uint8) if mask is None else mask.astype(np.uint8)
        work, valid = prepare_working(images, roi_u8, self._working_size(), self.resize_mode, self._fill())
        return images, roi_u8, work, valid

    def _prepare_val(self, val_images: Any, val_labels: Any, roi_u8: np.ndarray) -> tuple | None:
        if val_images is None:
            return None
        val_images = check_images(val_images, "val_images")
        work, valid = prepare_working(
            val_images, roi_u8, self._working_size(), self.resize_mode, self._fill()
        )
        labels = None
        if val_labels is not None:
            labels = np.asarray(val_labels).astype(bool).ravel()
            if labels.shape[0] != len(val_images):
                raise ValueError(f"val_labels: expected {len(val_images)} labels; found {labels.shape[0]}")
            if labels.all() or not labels.any():
                labels = None  # one class only: fall back to the validation loss
        return work, valid, labels

    def _iterations(self, n: int, batch: int) -> int:
        """Training iterations: ``max_iters`` when set, else ``epochs`` passes over n images; budget checked."""
        if self.max_iters is not None:
            max_iters = int(self.max_iters)
        else:
            max_iters = int(self.epochs) * math.ceil(n / max(1, batch))
        check_budget(max_iters, self.time_budget_s, self.val_every, self.patience)
        return max_iters

    def _run_training(
        self,
        nets: dict[str, nn.Module],
        step: StepFn,
        max_iters: int,
        progress: ProgressFn,
        cancel: CancelToken,
        validate: Callable[[], float] | None = None,
    ) -> list[dict[str, float]]:
        """``train_loop`` with this model's budget and early stop; the best weights of ``nets`` are kept."""
        snapshot, restore = snapshots(nets) if validate is not None else (None, None)
        return train_loop(
            step, max_iters, self.time_budget_s, progress, cancel,
            validate, int(self.val_every), int(self.patience), snapshot, restore,
        )  # fmt: skip

    def _set_fitted(
        self, nets: dict[str, nn.Module], roi_u8: np.ndarray, work: np.ndarray, history: list
    ) -> None:
        """Networks to eval mode and the learned state in place (only after training ran to its end)."""
        for net in nets.values():
            net.eval()
        self.roi_ = roi_u8
        self.image_size_ = np.asarray(work.shape[1:3], np.int64)
        self.history_ = history
        self.nets_ = nets

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"{self.name}: call fit() or load_state_dict() first")

    def predict(
        self, images: Any, progress: ProgressFn = no_progress, cancel: CancelToken = NEVER_CANCEL
    ) -> tuple[np.ndarray, np.ndarray]:
        """Image scores (N,) float32 (map maximum) and maps (N, H, W) float32, 0 outside the ROI."""
        self._check_fitted()
        images = check_images(images)
        size = tuple(int(v) for v in self.image_size_)
        roi = self.roi_
        n = len(images)
        out = np.zeros((n, size[0], size[1]), np.float32)
        bs = max(1, int(self.batch_size))
        for start in range(0, n, bs):
            cancel.raise_if_cancelled()
            work, valid = prepare_working(
                images[start : start + bs], roi, size, self.resize_mode, self._fill()
            )
            with torch.inference_mode():
                m = self._maps(work, valid, cancel)
            m[~valid] = 0.0
            out[start : start + len(work)] = m
            progress(min(1.0, (start + len(work)) / n), f"scored {start + len(work)}/{n} images")
        maps = maps_to_inputs(out, images, roi, self.resize_mode)
        scores = np.array([float(m.max()) for m in maps], dtype=np.float32)
        return scores, maps
