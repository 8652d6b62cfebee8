"""Memory planner: how much RAM (and GPU memory) fitting a model will take, before running it.

``estimate_memory(model_name, params, n_images, image_size)``: the peak of the fit (and of predicting
as many images), from the planner (:mod:`workbench.models.plan`), which counts what the fit holds at
its peak: the process baseline, the images, backbone weights, the activations of one batch, the
coreset's chunk and selection (PatchCore), the per-position statistics (PaDiM), or for trained models
the weights, gradients, optimizer state and saved activations measured on a few images.
"""

from __future__ import annotations

from typing import Any

from workbench.models import registry
from workbench.models.plan import BASE_RSS_BYTES, can_plan, plan_fit

__all__ = ["BASE_RSS_BYTES", "estimate_memory"]


def estimate_memory(
    model_name: str, params: dict[str, Any], n_images: int, image_size: tuple[int, int]
) -> dict[str, int]:
    """{'peak_ram_bytes', 'peak_gpu_bytes'} to fit ``model_name`` with ``params`` on n (H, W) RGB images.

    On CPU everything is RAM and ``peak_gpu_bytes`` is 0; with a CUDA device the backbone,
    activations and per-batch work count as GPU memory instead.
    """
    if model_name not in registry.names() or not can_plan(model_name):
        raise ValueError(f"estimate_memory: no memory model for {model_name!r}")
    plan = plan_fit(
        model_name, params, int(n_images), (int(image_size[0]), int(image_size[1]), 3), timed=False
    )
    return {"peak_ram_bytes": plan.peak_ram_bytes, "peak_gpu_bytes": plan.peak_gpu_bytes}
