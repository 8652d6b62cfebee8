"""Exported graphs of every model give predict's maps and scores in onnxruntime (PatchCore, PaDiM, EfficientAD)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from workbench.export.graphs import ExportError, export_module
from workbench.export.onnx_export import export_onnx
from workbench.line.runtime import ViewRuntime, open_session, to_working
from workbench.models import registry
from workbench.models.base import AnomalyModel
from workbench.models.components.preprocess import prepare_batch


def _images(n: int, seed: int, h: int = 72, w: int = 90) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), (0, 0), 3)
    out = []
    for i in range(n):
        img = np.clip(base.astype(np.int16) + rng.integers(-6, 7, base.shape), 0, 255).astype(np.uint8)
        if i == n - 1:
            cv2.circle(img, (w // 2, h // 2), 6, (255, 0, 0), -1)  # an anomaly
        out.append(img)
    return out


def _roi(h: int = 72, w: int = 90) -> np.ndarray:
    roi = np.zeros((h, w), np.uint8)
    roi[8:-8, 6:-6] = 255
    return roi


def _efficientad():
    from workbench.models.efficientad import EfficientAD

    return EfficientAD(
        pretrained_teacher=False, image_size=(48, 64), max_iters=2, penalty_images=2, device="cpu"
    )


MODELS = {
    "patchcore": lambda: registry.create(
        "patchcore", backbone="resnet18", pretrained=False, image_size=(48, 64), embed_dim=32, device="cpu"
    ),
    "padim": lambda: registry.create(
        "padim", backbone="resnet18", pretrained=False, image_size=(48, 64), n_features=16, device="cpu"
    ),
    "efficientad": _efficientad,
}


@pytest.mark.parametrize("name", list(MODELS))
def test_onnx_graph_gives_the_maps_and_scores_of_predict(name, tmp_path):
    model = MODELS[name]().fit(_images(6, 0), roi=_roi())
    test = _images(3, 1)
    scores, maps = model.predict(test)
    module = export_module(model, (72, 90))
    work = tuple(int(v) for v in model.image_size_)
    mode = getattr(model, "resize_mode", "stretch")
    example = torch.from_numpy(to_working(test[0], work, mode))[None]
    done = export_onnx(module, example, tmp_path / "m.onnx", name)
    assert done.exporter == "dynamo", done.fallback_reason
    rt = ViewRuntime(name, open_session(tmp_path / "m.onnx", device="cpu"), (72, 90), work, mode)
    span = float(maps.max() - maps.min())
    for img, s, m in zip(test, scores, maps):
        score, amap = rt.infer(img)
        assert np.abs(amap - m).max() < 1e-3 * span
        assert abs(score - s) < 1e-3 * span
        assert (amap[m == 0] == 0).all()
    with pytest.raises(ValueError, match="expected a crop of 90x72 px .* found 80x60 px"):
        rt.infer(np.zeros((60, 80, 3), np.uint8))


def test_runtime_resizes_crops_as_the_models_do():
    img = _images(1, 2)[0]
    want = prepare_batch([img], (48, 64), None, (0, 0, 0))[0]
    assert np.array_equal(to_working(img, (48, 64), "stretch"), want)
    grow = prepare_batch([img], (96, 120), None, (0, 0, 0))[0]
    assert np.array_equal(to_working(img, (96, 120), "stretch"), grow)


class _Opaque(AnomalyModel):
    name = "opaque"
    state_keys = ("value_",)

    def __init__(self, k: int = 1) -> None:
        self.k = k
        self.value_ = np.zeros(1)


def test_a_model_without_a_graph_says_why_it_cannot_export():
    with pytest.raises(ExportError, match="no export_module\\(crop_hw\\) method"):
        export_module(_Opaque(), (32, 32))
    unfitted = MODELS["padim"]()
    with pytest.raises(ExportError, match="not fitted"):
        export_module(unfitted, (32, 32))
