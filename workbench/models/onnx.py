"""A fitted model's one forward as an ONNX file: the dynamo exporter first, TorchScript only as a logged fall-back.

What is exported is the module ``predict`` runs (``model.forward_module()``): (1, h, w, 3) uint8 RGB at
the model's working size in, ``score`` (1,) and ``map`` (1, h, w) float32 out. The crop's resize to
the working size and the map's way back stay outside the graph, in :mod:`workbench.core.working`,
which ``predict`` and the line runtime share (uint8 rounding of a resize cannot be reproduced in
ONNX exactly).
"""

from __future__ import annotations

import copy
import io
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)

OPSET = 18
INPUT_NAME = "image"
OUTPUT_NAMES = ("score", "map")


class ExportError(RuntimeError):
    """A model (or one of its settings) that cannot become an ONNX graph; the message says why."""


def export_module(model: Any) -> nn.Module:
    """The fitted model's inference forward, on CPU in eval mode: what ``predict`` runs, ready for ONNX."""
    if not model.is_fitted:
        raise ExportError(
            f"{model.name}: the model is not fitted; train it (or load its state) before export"
        )
    try:
        module = model.forward_module()
    except NotImplementedError as exc:
        raise ExportError(
            f"model {model.name!r} cannot be exported: it has no forward_module() (a torch nn.Module: uint8 "
            f"working images -> (scores, maps)); see 'Writing a model plugin' in docs/ARCHITECTURE.md"
        ) from exc
    if not isinstance(module, nn.Module):
        raise ExportError(
            f"{model.name}: forward_module() returned {type(module).__name__}, expected a torch nn.Module"
        )
    if any(t.device.type != "cpu" for t in [*module.parameters(), *module.buffers()]):
        module = copy.deepcopy(module).cpu()  # the model keeps its own device
    return module.eval()


@dataclass
class OnnxExport:
    """Which exporter wrote the file, and why the preferred one was not used (empty when it was)."""

    path: str
    exporter: str  # "dynamo" or "torchscript"
    fallback_reason: str = ""


def export_onnx(
    module: nn.Module, example: torch.Tensor, path: str | os.PathLike, name: str = "model"
) -> OnnxExport:
    """``module(example)`` -> (score, map) written to ``path`` (one file, weights inside), opset 18.

    The dynamo exporter (``torch.onnx.export(dynamo=True)``, needs onnxscript) is tried first; if it
    fails for this model the TorchScript exporter is used and the reason logged and returned.
    """
    path = Path(path)
    module = module.eval()
    try:
        _export_dynamo(module, example, path)
        return OnnxExport(str(path), "dynamo")
    except Exception as exc:  # noqa: BLE001 - any exporter failure leads to the documented fall-back
        reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[:500]
        log.warning(
            "%s: the dynamo ONNX exporter failed (%s); falling back to the TorchScript exporter", name, reason
        )
    path.unlink(missing_ok=True)
    _export_torchscript(module, example, path)
    return OnnxExport(str(path), "torchscript", reason)


def _export_dynamo(module: nn.Module, example: torch.Tensor, path: Path) -> None:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module,
            (example,),
            dynamo=True,
            opset_version=OPSET,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            optimize=True,
            verbose=False,
            report=False,
        )
    if program is None:
        raise RuntimeError("torch.onnx.export returned no program")
    # Weights inside the one file: a bundle is copied as a folder of self-describing files.
    program.save(str(path), external_data=False)


def _export_torchscript(module: nn.Module, example: torch.Tensor, path: Path) -> None:
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            buffer,
            dynamo=False,
            opset_version=OPSET,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
        )
    path.write_bytes(buffer.getvalue())
