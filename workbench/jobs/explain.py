"""Why a memory-bank run flags a pixel: the normal training patch nearest to it, with its score.

``explain(project, run_id, sample_id, y, x)`` loads the run's stored weights (never re-trains), asks
the model's ``explain`` for the nearest normal patch and maps it back to the training sample it came
from, with that sample's crop. It is split in three so a caller can run the torch part elsewhere
(the GUI runs :func:`explain_model` in a helper process): :func:`explain_inputs` (project reads),
:func:`explain_model` (the model) and :func:`nearest_patch` (project reads).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.jobs.evaluate_data import as_rgb


def explains(model_name: str) -> bool:
    """True when the model can name the nearest normal patch (memory-bank models such as PatchCore)."""
    from workbench.models import registry

    return callable(getattr(registry.get(model_name), "explain", None))


def explain_inputs(project, run_id: str, sample_id: int) -> dict[str, Any]:
    """The run's model name, parameters, weights and the sample image: the arguments of :func:`explain_model`."""
    run = project.run(run_id)
    return {
        "model": run.model,
        "params": run.params,
        "state": project.run_state(run_id),
        "image": as_rgb(project.sample_image(sample_id)),
    }


def explain_model(
    model: str, params: dict, state: dict[str, np.ndarray], image: np.ndarray, y: int, x: int
) -> dict[str, Any]:
    """The model's nearest-patch answer for pixel (y, x) of ``image`` plus its working size (H, W)."""
    from workbench.models import registry

    est = registry.create(model, **params)
    if not callable(getattr(est, "explain", None)):
        raise ValueError(f"model {model!r} keeps no memory bank of normal patches; nothing to point at")
    est.load_state_dict(state)
    out = dict(est.explain(image, int(y), int(x)))
    size = getattr(est, "image_size_", None)
    out["working_size"] = [int(v) for v in size] if size is not None else list(image.shape[:2])
    return out


def nearest_patch(project, run_id: str, found: dict[str, Any]) -> dict[str, Any]:
    """``found`` plus 'train_sample_id', 'box_px' (y0, x0, y1, x1) in that sample's pixels and 'patch'
    (its (h, w, 3) uint8 crop); the sample id is None when the run did not record its training samples."""
    run = project.run(run_id)
    ids = run.meta.get("train_ids") or []
    k = int(found["sample_index"])
    out = dict(found)
    out["train_sample_id"] = int(ids[k]) if 0 <= k < len(ids) else None
    if out["train_sample_id"] is None:
        out["box_px"], out["patch"] = None, None
        return out
    image = as_rgb(project.sample_image(out["train_sample_id"]))
    h, w = image.shape[:2]
    wh, ww = found.get("working_size") or (h, w)
    y0, x0, y1, x1 = found["box"]
    sy, sx = h / float(wh), w / float(ww)
    box = (
        int(y0 * sy),
        int(x0 * sx),
        max(int(y0 * sy) + 1, int(round(y1 * sy))),
        max(int(x0 * sx) + 1, int(round(x1 * sx))),
    )
    out["box_px"] = box
    out["patch"] = np.ascontiguousarray(image[box[0] : box[2], box[1] : box[3]])
    return out


def explain(project, run_id: str, sample_id: int, y: int, x: int) -> dict[str, Any]:
    """The normal training patch nearest to pixel (y, x) of a sample under a run (see module doc)."""
    found = explain_model(**explain_inputs(project, run_id, sample_id), y=y, x=x)
    return nearest_patch(project, run_id, found)
