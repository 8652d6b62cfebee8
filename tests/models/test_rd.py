"""Reverse Distillation: the shared battery on a tiny random-backbone set-up, plus its own behaviour."""

from __future__ import annotations

import functools

import pytest
import torch
from model_battery import CHECKS, tiny_images

from workbench.models import registry
from workbench.models.reverse_distillation import Bottleneck, Decoder, ReverseDistillation

torch.set_num_threads(2)

TINY = dict(
    backbone="resnet18",
    pretrained=False,
    embed_channels=16,
    image_size=(48, 64),
    max_iters=20,
    train_batch=4,
    lr=0.005,
    device="cpu",
)
factory = functools.partial(ReverseDistillation, **TINY)


@pytest.mark.skipif(
    "reverse_distillation" in registry.names(), reason="registered: tests/models/test_battery.py runs it"
)
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_reverse_distillation_passes_battery(check):
    check(factory)


def test_decoder_rebuilds_every_teacher_grid_from_a_coarser_code():
    feats = [torch.randn(2, 8, 12, 16), torch.randn(2, 16, 6, 8), torch.randn(2, 32, 3, 4)]
    z = Bottleneck([8, 16, 32], 24)(feats)
    assert z.shape == (2, 24, 2, 2)
    outs = Decoder([8, 16, 32], 24)(z, [tuple(f.shape[-2:]) for f in feats])
    assert [tuple(o.shape) for o in outs] == [tuple(f.shape) for f in feats]


def test_training_lowers_the_loss():
    model = factory(max_iters=12).fit(tiny_images(4))
    losses = [h["loss"] for h in model.history_]
    assert sum(losses[-3:]) < sum(losses[:3])
