"""SimpleNet with RADL options: the shared battery on a tiny random-backbone set-up, plus its own behaviour."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from model_battery import CHECKS, tiny_images

from workbench.models import registry
from workbench.models.simplenet import SimpleNet, hce_loss, margin_loss

torch.set_num_threads(2)

TINY = dict(
    backbone="resnet18",
    pretrained=False,
    image_size=(48, 64),
    embed_dim=64,
    hidden=32,
    max_iters=15,
    device="cpu",
)
factory = functools.partial(SimpleNet, **TINY)


@pytest.mark.skipif(
    "simplenet" in registry.names(), reason="registered: tests/models/test_battery.py runs it"
)
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_simplenet_passes_battery(check):
    check(factory)


def test_hce_temperature_sharpens_the_penalty_on_hard_samples():
    true, fake = torch.tensor([0.2]), torch.tensor([-0.2])
    # tau < 1 scales the logits up: easy samples cost less, and tau = 1 is plain cross-entropy.
    assert hce_loss(true, fake, 0.5) < hce_loss(true, fake, 1.0)
    plain = torch.nn.functional.binary_cross_entropy_with_logits
    expected = plain(true, torch.ones(1)) + plain(fake, torch.zeros(1))
    assert torch.allclose(hce_loss(true, fake, 1.0), expected)
    assert float(margin_loss(torch.tensor([1.0]), torch.tensor([-1.0]), 0.5)) == 0.0


def test_padding_keeps_the_whole_wide_image_and_maps_come_back_at_input_size():
    wide = [np.pad(img, ((0, 0), (0, 64), (0, 0)), mode="edge") for img in tiny_images(4)]  # 48 x 128
    model = factory(resize_mode="pad", image_size=(32, 32)).fit(wide)
    bad = wide[0].copy()
    bad[16:28, 110:122] = (255, 0, 255)  # near the right border: a centre crop would cut it away
    scores, maps = model.predict([wide[0], bad])
    assert maps.shape == (2, 48, 128)
    assert scores[1] > scores[0]


def test_fixed_noise_and_margin_loss_give_plain_simplenet():
    model = factory(noise_low=0.015, noise_high=0.015, loss="margin").fit(tiny_images())
    assert len(model.history_) == 15 and model.is_fitted


def test_epochs_set_the_default_iteration_count():
    model = factory(max_iters=None, epochs=2, train_batch=2).fit(tiny_images(4))
    assert len(model.history_) == 4  # 2 epochs x 4 images / batch 2


def test_time_budget_stops_training():
    model = factory(max_iters=10_000_000, time_budget_s=0.5).fit(tiny_images())
    assert 1 <= len(model.history_) < 10_000_000


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="loss"):
        factory(loss="l2").fit(tiny_images())
    with pytest.raises(ValueError, match="resize_mode"):
        factory(resize_mode="crop").fit(tiny_images())
    with pytest.raises(ValueError, match="noise"):
        factory(noise_low=0.1, noise_high=0.01).fit(tiny_images())
