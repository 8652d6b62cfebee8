"""A stored run's model, rebuilt from its parameters and weights: the one way jobs load a trained model."""

from __future__ import annotations

from typing import Any

from workbench.models import registry


def load_model(project: Any, run: Any, device: str | None = None) -> Any:
    """The fitted model of ``run`` (a RunInfo or a run id) in ``project``, never re-trained.

    ``device`` ('cpu', 'cuda', 'auto') replaces the device stored with the run, for models that take one.
    """
    if isinstance(run, str):
        run = project.run(run)
    params = dict(run.params)
    if device is not None and "device" in registry.get(run.model).param_defaults():
        params["device"] = device
    model = registry.create(run.model, **params)
    return model.load_state_dict(project.run_state(run.id))
