"""SimpleNet with RADL options: plus its own behaviour."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.models.checks import factory_for, tiny_images
from workbench.models.simplenet import SimpleNet, hce_loss, margin_loss

torch.set_num_threads(2)

factory = factory_for("simplenet")


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


class _Times(torch.nn.Module):
    def __init__(self, inner: torch.nn.Module, factor: float) -> None:
        super().__init__()
        self.inner, self.factor = inner, factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x) * self.factor


class _ScaledFeatures(SimpleNet):
    """SimpleNet whose backbone features come out ``factor`` times larger (another backbone's scale)."""

    factor = 1.0

    def _features(self, valid):
        return _Times(super()._features(valid), self.factor)


def test_noise_is_relative_to_the_feature_scale():
    # Features standardized before the noise: a backbone with 50x larger features learns the same
    # discriminator, and the adaptor folded after training takes the raw features.
    test = tiny_images(2, seed=9)
    bad = test[0].copy()
    bad[20:30, 24:36] = (255, 0, 255)
    plain = _ScaledFeatures(**SimpleNet.quick_params).fit(tiny_images())
    scaled = _ScaledFeatures(**SimpleNet.quick_params)
    scaled.factor = 50.0
    scaled.fit(tiny_images())
    s1, m1 = plain.predict(test + [bad])
    s2, m2 = scaled.predict(test + [bad])
    np.testing.assert_allclose(m2, m1, rtol=1e-3, atol=1e-3 * float(np.abs(m1).max()))
    assert s1[2] > s1[:2].max()


def test_feature_stats_count_only_cells_inside_the_mask():
    emb = torch.zeros(2, 3, 4, 4)
    emb[:, :, :2] = 10.0  # outside the mask
    emb[:, 0, 2:] = torch.tensor([1.0, 3.0])[:, None, None]  # channel 0: 1 in image 0, 3 in image 1
    mask = torch.zeros(2, 4, 4)
    mask[:, 2:] = 1.0
    mean, std = SimpleNet._feature_stats(emb, mask, torch.device("cpu"))
    assert torch.allclose(mean, torch.tensor([2.0, 0.0, 0.0]))
    assert float(std[0]) == 1.0 and float(std[1]) > 0  # constant channels get a floor, not zero


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


def test_time_budget_counts_feature_extraction_too():
    # A budget already spent extracting features still runs one step, then stops.
    model = factory(max_iters=50, time_budget_s=1e-6).fit(tiny_images())
    assert len(model.history_) == 1 and model.is_fitted
