"""Write an exportable module as an ONNX file: the dynamo exporter first, TorchScript only as a logged fall-back."""

from __future__ import annotations

import io
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)

OPSET = 18
INPUT_NAME = "image"
OUTPUT_NAMES = ("score", "map")


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
