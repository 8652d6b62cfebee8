"""A trained model's cost measured on a few images: preparation, one training step, one forward, memory.

``probe_trained(model, params, size)`` builds the model's networks and runs its own preparation and
two training steps (the template's hooks, :mod:`workbench.models.trained`) on ``train_batch`` plain
textures at the working size, and one inference forward: seconds per step, per prepared image and per
predicted image, and the bytes training holds (weights, gradients and optimizer state, the
activations kept for the backward pass, counted as they are saved) and the caches it keeps per image.
The planner scales these to the real fit. Seconds are the machine's now (a busy machine is slower).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from workbench.models import registry

F32 = 4


def _saved_bytes() -> tuple[Any, dict[str, int]]:
    """A saved_tensors_hooks context counting the distinct bytes autograd keeps for the backward pass."""
    seen: dict[str, int] = {"bytes": 0}
    ptrs: set[int] = set()

    def pack(t: torch.Tensor) -> torch.Tensor:
        try:
            ptr = t.untyped_storage().data_ptr()
            if ptr not in ptrs:
                ptrs.add(ptr)
                seen["bytes"] += t.untyped_storage().nbytes()
        except (RuntimeError, NotImplementedError):
            seen["bytes"] += t.numel() * t.element_size()
        return t

    return torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), seen


def _nbytes(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, torch.Tensor):
        return int(value.numel() * value.element_size())
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(_nbytes(v) for v in value)
    return 0


def _textures(n: int, size: tuple[int, int], seed: int = 0) -> list[np.ndarray]:
    import cv2

    rng = np.random.default_rng(seed)
    return [
        cv2.GaussianBlur(rng.integers(0, 256, (size[0], size[1], 3), dtype=np.uint8), (0, 0), 2.0)
        for _ in range(n)
    ]


def probe_trained(
    model_name: str, params: dict[str, Any], size: tuple[int, int] | None = None
) -> dict[str, Any]:
    """{'step_s', 'step_cpu_s' (the process's CPU seconds of that step, all threads), 'prepare_s_per_image',
    'predict_s_per_image', 'train_bytes', 'predict_bytes', 'cache_bytes_per_image', 'working_size',
    'time_budget_s', 'max_iters' (n -> iterations)}."""
    from workbench.models.base import resolve_device
    from workbench.models.components.training import seeded
    from workbench.models.components.working import prepare_working
    from workbench.models.trained import FitData

    model = registry.create(model_name, **params)
    model.check_params()
    work_size = tuple(int(v) for v in (model._configured_size() if size is None else size))
    batch = model.setting("train_batch") if hasattr(model, "setting") else getattr(model, "train_batch", 4)
    k = max(1, min(int(batch), 32))
    images = _textures(k, work_size)
    roi = np.ones(work_size, np.uint8)
    device = resolve_device(model.device)
    work, valid = prepare_working(images, roi, work_size, model.resize_mode, model._fill())
    data = FitData(work, valid, roi, device, np.random.default_rng(0), _never())
    with seeded(int(model.seed), device):
        nets = {name: net.to(device) for name, net in model._build_nets(for_loading=False).items()}
        t = time.perf_counter()
        step = model._prepare(nets, data)
        prepare_s = time.perf_counter() - t
        hooks, saved = _saved_bytes()
        with hooks:
            step(0, 0.0)
        t, c = time.perf_counter(), time.process_time()
        step(1, 0.01)
        step_s, step_cpu_s = time.perf_counter() - t, time.process_time() - c
        for net in nets.values():
            net.eval()
        module = model._forward(nets, data).to(device).eval()
        batch = torch.from_numpy(work[: max(1, min(k, int(model.batch_size)))]).to(device)
        with torch.no_grad():
            module(batch)
            t = time.perf_counter()
            module(batch)
            predict_s = (time.perf_counter() - t) / batch.shape[0]
        hooks, saved_fwd = _saved_bytes()
        with hooks, torch.enable_grad():
            batch_f = batch
            module(batch_f)
    weights = sum(p.numel() * p.element_size() for net in nets.values() for p in net.parameters())
    trainable = sum(
        p.numel() * p.element_size() for net in nets.values() for p in net.parameters() if p.requires_grad
    )
    cache = _nbytes({key: v for key, v in data.extra.items() if key != "forward"})
    return {
        "working_size": work_size,
        "step_s": step_s,
        "step_cpu_s": step_cpu_s,
        "prepare_s_per_image": prepare_s / k,
        "predict_s_per_image": predict_s,
        # weights, and for what is trained: gradients and two Adam moments; the backward's activations
        "train_bytes": int(weights + 3 * trainable + saved["bytes"]),
        "predict_bytes": int(weights + saved_fwd["bytes"]),
        "cache_bytes_per_image": int(cache / k),
        "time_budget_s": model._time_budget(),
        "max_iters": model._max_iters,
    }


def _never():
    from workbench.core.progress import NEVER_CANCEL

    return NEVER_CANCEL
