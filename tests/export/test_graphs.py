"""The line runtime runs a model's exported forward with predict's own steps around it: same maps, same scores."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from workbench.core.working import resize_mask, to_working
from workbench.line.runtime import ViewRuntime, open_session
from workbench.models import registry
from workbench.models.base import AnomalyModel
from workbench.models.onnx import ExportError, export_module, export_onnx


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


MODELS = {
    # Working size differs from the crop: the map comes back through the runtime's resize.
    "padim": dict(backbone="resnet18", pretrained=False, image_size=(48, 64), n_features=16, device="cpu"),
    # Letterboxed ('pad') working images: the runtime undoes the padding as predict does.
    "simplenet": {**registry.get("simplenet").quick_params, "image_size": (64, 64), "resize_mode": "pad"},
}


@pytest.mark.parametrize("name", list(MODELS))
def test_the_line_runtime_gives_the_maps_and_scores_of_predict(name, tmp_path):
    model = registry.create(name, **MODELS[name]).fit(_images(6, 0), roi=_roi())
    test = _images(3, 1)
    scores, maps = model.predict(test)
    work, mode = model.working_size(), model.resize_mode
    example = torch.from_numpy(to_working(test[0], work, mode))[None]
    done = export_onnx(export_module(model), example, tmp_path / "m.onnx", name)
    assert done.exporter == "dynamo", done.fallback_reason
    roi = resize_mask(model.fitted_roi, (72, 90)).astype(np.uint8) * 255
    rt = ViewRuntime(
        name, open_session(tmp_path / "m.onnx", device="cpu"), (72, 90), work, mode, "image", roi
    )
    span = float(maps.max() - maps.min())
    for img, s, m in zip(test, scores, maps):
        score, amap = rt.infer(img)
        assert amap.shape == (72, 90)
        assert np.abs(amap - m).max() < 1e-3 * span
        assert abs(score - s) < 1e-3 * span
        assert (amap[roi == 0] == 0).all()
    grey_score, grey_map = rt.infer(test[0][..., 1])  # a monochrome camera's crop
    assert grey_map.shape == (72, 90) and np.isfinite(grey_score)
    with pytest.raises(ValueError, match="expected a crop of 90x72 px .* found 80x60 px"):
        rt.infer(np.zeros((60, 80, 3), np.uint8))


class _Opaque(AnomalyModel):
    name = "opaque"
    state_keys = ("value_",)

    def __init__(self, k: int = 1) -> None:
        self.k = k
        self.value_ = np.zeros(1)


def test_a_model_without_a_forward_says_why_it_cannot_export():
    with pytest.raises(ExportError, match="no forward_module"):
        export_module(_Opaque())
    unfitted = registry.create("padim", **MODELS["padim"])
    with pytest.raises(ExportError, match="not fitted"):
        export_module(unfitted)
