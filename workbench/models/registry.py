"""Find and build anomaly models by name: built-ins plus plugins from the `workbench.models` entry points.

Plugins are discovered lazily (importlib.metadata, read on every call so a freshly installed
package shows up) and imported only when created or described.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import logging
from typing import Any

from workbench.models.base import AnomalyModel

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "workbench.models"

_BUILTIN = {  # name -> "module:class"
    "patchcore": "workbench.models.patchcore:PatchCore", "padim": "workbench.models.padim:Padim",
    "efficientad": "workbench.models.efficientad:EfficientAD", "simplenet": "workbench.models.simplenet:SimpleNet",
    "stfpm": "workbench.models.stfpm:Stfpm",
    "reverse_distillation": "workbench.models.reverse_distillation:ReverseDistillation",
    "fastflow": "workbench.models.fastflow:FastFlow", "draem": "workbench.models.draem:Draem",
    "memseg": "workbench.models.memseg:MemSeg",
}  # fmt: skip


def _plugin_targets() -> dict[str, str]:
    targets = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _BUILTIN:  # built-ins cannot be shadowed by a plugin
            targets[ep.name] = ep.value
    return targets


def _targets() -> dict[str, str]:
    return {**_BUILTIN, **_plugin_targets()}


def names() -> list[str]:
    """Names of every registered model, built-ins first, then plugins (alphabetical)."""
    plugins = sorted(_plugin_targets())
    return list(_BUILTIN) + plugins


def get(name: str) -> type[AnomalyModel]:
    """The model class registered under ``name``."""
    targets = _targets()
    if name not in targets:
        raise ValueError(f"unknown model {name!r}; registered models: {', '.join(names())}")
    module_name, _, attr = targets[name].partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ImportError(f"model {name!r}: cannot load {targets[name]!r}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, AnomalyModel)):
        raise TypeError(
            f"model {name!r}: {targets[name]!r} is not a workbench.models.base.AnomalyModel subclass"
        )
    return cls


def create(name: str, **params: Any) -> AnomalyModel:
    """A new, unfitted model ``name`` with the given constructor parameters."""
    cls = get(name)
    known = cls.param_defaults()
    retired = [k for k in params if k in cls.retired_params and k not in known]
    if retired:
        log.info("model %s: parameter(s) %s no longer exist and are ignored", name, ", ".join(retired))
        params = {k: v for k, v in params.items() if k not in retired}
    unknown = [k for k in params if k not in known]
    if unknown:
        raise ValueError(
            f"model {name!r} has no parameter {', '.join(map(repr, unknown))}; its parameters: {', '.join(known)}"
        )
    model = cls(**params)
    model.check_params()  # a bad value fails here, before anything is loaded or computed
    return model


def describe(name: str) -> dict[str, Any]:
    """{'name', 'doc', 'params': {param: {'default', 'type'}}} for a registered model (JSON-able)."""
    from workbench.models.base import _jsonable

    cls = get(name)
    sig = inspect.signature(cls.__init__)
    params = {}
    for p in sig.parameters.values():
        if p.name == "self" or p.kind not in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD):
            continue
        ann = p.annotation
        params[p.name] = {
            "default": _jsonable(p.default),
            "type": ann if isinstance(ann, str) else getattr(ann, "__name__", str(ann)),
        }
        if p.name in cls.params:
            params[p.name]["expects"] = cls.params[p.name].kind
    doc = inspect.getdoc(cls) or ""
    return {"name": name, "doc": doc, "params": params}
