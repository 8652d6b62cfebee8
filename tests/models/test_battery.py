"""Every registered model passes the shared battery on tiny CPU data."""

from __future__ import annotations

import functools

import pytest
from model_battery import CHECKS

from workbench.models import registry

# Tiny, random-init settings per built-in: the battery is about the engine, not the weights.
TINY = {
    "patchcore": dict(backbone="resnet18", pretrained=False, coreset_ratio=0.25, device="cpu", embed_dim=64),
    "padim": dict(backbone="resnet18", pretrained=False, n_features=24, device="cpu"),
    "efficientad": dict(
        pretrained_teacher=False,
        image_size=(24, 32),
        max_iters=3,
        penalty_images=2,
        batch_size=16,
        device="cpu",
    ),
    "simplenet": dict(
        backbone="resnet18",
        pretrained=False,
        image_size=(48, 64),
        embed_dim=64,
        hidden=32,
        max_iters=15,
        device="cpu",
    ),
    "stfpm": dict(
        backbone="resnet18",
        layers=("layer1", "layer2"),
        pretrained=False,
        image_size=(48, 64),
        max_iters=12,
        train_batch=4,
        optimizer="adam",
        lr=1e-3,
        device="cpu",
    ),
    "reverse_distillation": dict(
        backbone="resnet18",
        pretrained=False,
        embed_channels=16,
        image_size=(48, 64),
        max_iters=20,
        train_batch=4,
        lr=0.005,
        device="cpu",
    ),
    "fastflow": dict(
        backbone="resnet18",
        layers=("layer1", "layer2"),
        pretrained=False,
        image_size=(48, 64),
        flow_steps=4,
        max_iters=20,
        train_batch=4,
        device="cpu",
    ),
    # Opaque simulated anomalies on every sample: the tiny U-Net learns to segment in 100 steps.
    "draem": dict(
        image_size=(48, 64),
        recon_width=8,
        disc_width=8,
        textures=4,
        anomaly_ratio=1.0,
        beta_max=0.0,
        max_iters=100,
        train_batch=4,
        lr=2e-3,
        pool_size=1,
        device="cpu",
    ),
    # Large Perlin blobs on every sample: the decoder learns to segment in 30 steps.
    "memseg": dict(
        backbone="efficientnet_lite0",
        pretrained=False,
        image_size=(48, 64),
        memory_size=4,
        anomaly_ratio=1.0,
        texture_count=4,
        perlin_scale=3,
        perlin_min_scale=1,
        max_iters=30,
        train_batch=4,
        device="cpu",
    ),
}


def factory_for(name: str):
    return functools.partial(registry.create, name, **TINY.get(name, {}))


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", registry.names())
def test_model_passes_battery(name, check):
    check(factory_for(name))
