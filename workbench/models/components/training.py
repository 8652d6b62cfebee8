"""The pieces of training every trained model shares: a budgeted loop with loss history and validation early
stop, weight snapshots, batch sampling, the ROI-weighted loss, seeding, and networks as numpy arrays.

The loop stops at ``max_iters`` or ``time_budget_s`` (whichever comes first), streams the loss
through ``progress`` (the numbers as ``iteration``/``loss``/``val`` values of a structured event,
see :func:`workbench.core.progress.report`) and a structured ``history_`` list, checks
``cancel`` every iteration, and with validation images evaluates every ``val_every`` iterations,
keeps the best weights and stops after ``patience`` evaluations without improvement.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress, report
from workbench.models.components.working import grid_mask

StepFn = Callable[[int, float], float]


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


def optimizer_step(
    nets: dict[str, nn.Module], opt: torch.optim.Optimizer, loss_of: Callable[[float], torch.Tensor]
) -> Callable[[int, float], float]:
    """A training step for ``train_loop``: networks in train mode, ``loss_of(fraction)``, backward, update."""

    def step(it: int, frac: float) -> float:
        for net in nets.values():
            net.train()
        loss = loss_of(frac)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


def distance_loss(
    forward: nn.Module, work: np.ndarray, valid: np.ndarray, device: torch.device
) -> torch.Tensor:
    """``roi_mean_loss`` of ``forward.distances`` on (B, h, w, 3) uint8 working images (distillation models)."""
    return roi_mean_loss(forward.distances(torch.from_numpy(work).to(device)), valid, device)
