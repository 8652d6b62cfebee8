"""The memory planner scales as the fit does, and `workbench models` lists every model with defaults."""

from __future__ import annotations

import json

import pytest

from workbench.cli.main import main
from workbench.models.memory import estimate_memory


def test_streamed_patchcore_needs_far_less_than_holding_every_patch():
    params = dict(backbone="wide_resnet50_2", coreset_ratio=0.1, device="cpu")
    streamed = estimate_memory("patchcore", params, 300, (480, 848))
    naive = estimate_memory("patchcore", {**params, "chunk_patches": 10**12}, 300, (480, 848))
    assert streamed["peak_gpu_bytes"] == 0
    assert streamed["peak_ram_bytes"] < 4 * 2**30 < 10 * 2**30 < naive["peak_ram_bytes"]


def test_estimate_grows_with_images_and_resolution():
    small = estimate_memory("patchcore", dict(backbone="resnet18", device="cpu"), 10, (240, 424))
    more = estimate_memory("patchcore", dict(backbone="resnet18", device="cpu"), 100, (240, 424))
    larger = estimate_memory("patchcore", dict(backbone="resnet18", device="cpu"), 10, (480, 848))
    assert small["peak_ram_bytes"] < more["peak_ram_bytes"]
    assert small["peak_ram_bytes"] < larger["peak_ram_bytes"]
    assert estimate_memory("padim", dict(device="cpu"), 10, (240, 424))["peak_ram_bytes"] > 0


def test_unknown_model_has_no_memory_model():
    with pytest.raises(ValueError):
        estimate_memory("no_such_model", {}, 1, (64, 64))


def test_models_command_lists_params_and_defaults(capsys):
    assert main(["models", "--json"]) == 0
    infos = {i["name"]: i for i in json.loads(capsys.readouterr().out)}
    assert infos["patchcore"]["params"]["coreset_ratio"]["default"] == 0.05
    assert infos["patchcore"]["params"]["layers"]["default"] == ["layer2", "layer3"]
    assert infos["padim"]["params"]["n_features"]["default"] == 100
    assert main(["models"]) == 0
    assert "num_neighbors = 3" in capsys.readouterr().out


def test_check_weights_loads_the_packaged_weights_and_names_a_missing_teacher(tmp_path, monkeypatch, capsys):
    import workbench.models.efficientad as efficientad

    assert main(["models", "--check-weights", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows["efficientnet_lite0"].startswith("ok")
    assert rows["efficientad teacher small"].startswith("ok")
    # The teacher a default needs is gone: exit 1, and the line says how to make it.
    monkeypatch.setattr(efficientad, "TEACHER_DIR", tmp_path)
    assert main(["models", "--check-weights"]) == 1
    out = capsys.readouterr().out
    assert "efficientad teacher small: missing" in out
    assert "make_efficientad_teacher.py --size small" in out
