"""DRAEM: its simulated anomalies, losses and sub-networks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from workbench.models.checks import factory_for, tiny_images, tiny_roi
from workbench.models.components.losses import focal_loss_map, masked_mean, ssim_map
from workbench.models.components.procedural import procedural_images
from workbench.models.draem import DiscriminativeNet, Draem, ReconstructiveNet

torch.set_num_threads(2)

factory = factory_for("draem")


def test_simulated_anomaly_masks_are_exactly_the_altered_pixels_inside_the_roi():
    model = Draem(anomaly_ratio=0.5, beta_max=0.8)
    work = np.stack(tiny_images(16))
    valid = np.broadcast_to(tiny_roi() > 0, work.shape[:3]).copy()
    textures = procedural_images(3, work.shape[1:3], seed=1)
    altered, masks = model._simulate(np.random.default_rng(0), work, valid, textures)
    changed = (altered != work).any(-1)
    assert not (changed & ~masks).any()  # nothing outside a mask changes
    assert not (masks & ~valid).any()  # anomalies stay inside the ROI
    assert changed[masks].mean() > 0.95  # a masked pixel equals the original only by coincidence
    with_anomaly = masks.any((1, 2))
    assert 0 < with_anomaly.sum() < len(work)  # about half the samples get one
    again, masks2 = model._simulate(np.random.default_rng(0), work, valid, textures)
    assert np.array_equal(again, altered) and np.array_equal(masks2, masks)  # seeded


def test_training_lowers_the_loss():
    model = factory(max_iters=30).fit(tiny_images(4), roi=tiny_roi())
    losses = [h["loss"] for h in model.history_]
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])


def test_sub_networks_keep_odd_input_sizes():
    x = torch.rand(2, 3, 40, 56)
    rec = ReconstructiveNet(4)(x)
    assert rec.shape == x.shape
    assert DiscriminativeNet(4)(torch.cat([rec, x], 1)).shape == (2, 2, 40, 56)


def test_ssim_is_one_for_equal_images_and_drops_with_noise():
    a = torch.rand(1, 3, 24, 24)
    torch.testing.assert_close(ssim_map(a, a), torch.ones(1, 24, 24))
    noisy = (a + 0.3 * torch.randn_like(a)).clamp(0, 1)
    assert float(ssim_map(a, noisy).mean()) < 0.8


def test_focal_loss_is_cross_entropy_at_gamma_zero_and_discounts_easy_pixels():
    logits = torch.randn(2, 2, 5, 6)
    target = torch.randint(0, 2, (2, 5, 6))
    ce = F.cross_entropy(logits, target, reduction="none")
    torch.testing.assert_close(focal_loss_map(logits, target, gamma=0.0), ce)
    easy = torch.zeros(1, 2, 1, 1)
    easy[0, 0] = 4.0  # confidently normal
    zero = torch.zeros(1, 1, 1, dtype=torch.long)
    assert float(focal_loss_map(easy, zero, 2.0)) < 0.01 * float(focal_loss_map(easy, zero, 0.0))
    valid = torch.zeros(2, 5, 6)
    valid[:, :2] = 1
    torch.testing.assert_close(masked_mean(ce, valid), ce[:, :2].mean())


def test_bad_parameters_are_rejected_with_their_name():
    with pytest.raises(ValueError, match="pool_size"):
        factory(pool_size=4).fit(tiny_images(2))
    with pytest.raises(ValueError, match="image_size"):
        factory(image_size=(16, 48)).fit(tiny_images(2))
    with pytest.raises(ValueError, match="anomaly_ratio"):
        factory(anomaly_ratio=1.5).fit(tiny_images(2))
