"""Reverse Distillation: plus its own behaviour."""

from __future__ import annotations

import torch

from workbench.models.checks import factory_for, tiny_images
from workbench.models.reverse_distillation import Bottleneck, Decoder

torch.set_num_threads(2)

factory = factory_for("reverse_distillation")


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
