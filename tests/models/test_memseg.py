"""MemSeg: its anomaly synthesis, memory, loss and training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.models import registry
from workbench.models.checks import factory_for, tiny_images, tiny_roi
from workbench.models.components.anomaly_synthesis import (
    AnomalySynthesizer,
    perlin_mask,
    perlin_noise,
    shuffle_grid,
)
from workbench.models.memseg import warmup_cosine
from workbench.models.memseg_net import MemSegHead, focal_l1_loss, nearest_memory

torch.set_num_threads(2)

factory = factory_for("memseg")


# -- anomaly synthesis ----------------------------------------------------------------------------------


def test_perlin_noise_is_seeded_bounded_and_works_for_any_size():
    a = perlin_noise(np.random.default_rng(1), (37, 53), (3, 5))
    b = perlin_noise(np.random.default_rng(1), (37, 53), (3, 5))
    assert a.shape == (37, 53) and a.dtype == np.float32 and np.array_equal(a, b)
    assert np.abs(a).max() <= 1.0 + 1e-6 and a.std() > 0.05
    # Smooth: neighbours differ far less than the range (it is noise with a lattice, not white noise).
    assert np.abs(np.diff(a, axis=1)).mean() < 0.1 * np.ptp(a)
    mask = perlin_mask(np.random.default_rng(2), (64, 64), 1, 3, 0.5)
    assert mask.dtype == bool and 0.0 < mask.mean() < 0.5


def test_shuffled_grid_keeps_every_cell_and_moves_some():
    img = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
    out = shuffle_grid(np.random.default_rng(0), img, 4)
    cells = lambda x: sorted(x[i : i + 2, j : j + 2].tobytes() for i in (0, 2, 4, 6) for j in (0, 2, 4, 6))  # noqa: E731
    assert cells(out) == cells(img) and not np.array_equal(out, img)


@pytest.mark.parametrize("texture_prob", [1.0, 0.0], ids=["texture", "structure"])
def test_synthetic_mask_is_exactly_the_pasted_region_inside_the_foreground(texture_prob):
    image = np.full((48, 64, 3), 100, np.uint8)
    image[:, ::2] = 90  # a fine pattern, so shuffled structure cells differ from where they came from
    textures = np.zeros((2, 48, 64, 3), np.uint8)
    textures[..., 0] = 255  # pure red: every pasted pixel differs from the image
    foreground = tiny_roi() > 0
    synth = AnomalySynthesizer(
        textures, texture_prob=texture_prob, transparency=(1.0, 1.0), min_scale=1, max_scale=3
    )
    rng = np.random.default_rng(0)
    for _ in range(5):
        out, mask = synth(rng, image, foreground)
        changed = (out != image).any(-1)
        assert mask.any() and not (mask & ~foreground).any()
        assert not (changed & ~mask).any()  # nothing outside the mask moved
        if texture_prob == 1.0:
            assert np.array_equal(changed, mask)
            assert (out[mask] == (255, 0, 0)).all()


def test_transparency_blends_source_and_image():
    image = np.full((32, 32, 3), 100, np.uint8)
    textures = np.full((1, 32, 32, 3), 200, np.uint8)
    synth = AnomalySynthesizer(textures, texture_prob=1.0, transparency=(0.8, 0.8), min_scale=1, max_scale=2)
    out, mask = synth(np.random.default_rng(3), image, np.ones((32, 32), bool))
    assert mask.any() and (out[mask] == 180).all() and (out[~mask] == 100).all()


# -- memory, network and loss ---------------------------------------------------------------------------


def test_the_closest_memory_image_is_chosen_unless_excluded():
    memory = [torch.stack([torch.full((2, 3, 3), v) for v in (0.0, 1.0, 5.0)])]
    feats = [torch.stack([torch.full((2, 3, 3), 0.9), torch.full((2, 3, 3), 4.0)])]
    assert nearest_memory(feats, memory).tolist() == [1, 2]
    # A training image that is memory slot 1 must look elsewhere, as a new image would.
    assert nearest_memory(feats, memory, torch.tensor([1, -1])).tolist() == [0, 2]


def test_head_predicts_two_logits_at_half_the_input_size():
    head = MemSegHead([8, 16, 24, 32])
    feats = [
        torch.randn(2, c, s, t) for c, (s, t) in zip([8, 16, 24, 32], [(12, 16), (6, 8), (3, 4), (2, 2)])
    ]
    diffs = [torch.rand_like(f) for f in feats[:3]]
    assert head(torch.randn(2, 3, 48, 64), feats, diffs).shape == (2, 2, 24, 32)


def test_focal_l1_loss_is_zero_when_right_and_counts_only_weighted_pixels():
    target = torch.zeros(1, 4, 4)
    target[0, :2] = 1
    right = torch.stack([(1 - target) * 20, target * 20], 1)
    w = torch.ones(1, 4, 4)
    assert float(focal_l1_loss(right, target, w, 4.0, 0.7, 0.3)) < 1e-6
    wrong = -right
    assert float(focal_l1_loss(wrong, target, w, 4.0, 0.7, 0.3)) > 0.5
    w_top = torch.zeros(1, 4, 4)
    w_top[0, :2] = 1
    half = right.clone()
    half[:, :, 2:] = wrong[:, :, 2:]  # wrong only where the weight is zero
    assert float(focal_l1_loss(half, target, w_top, 4.0, 0.7, 0.3)) < 1e-6
    # gamma 0 without L1 is plain cross-entropy
    logits = torch.randn(1, 2, 4, 4)
    ce = torch.nn.functional.cross_entropy(logits, target.long())
    assert torch.allclose(focal_l1_loss(logits, target, w, 0.0, 1.0, 0.0), ce, atol=1e-6)


def test_learning_rate_warms_up_then_decays_to_the_minimum():
    lrs = [warmup_cosine(f, 0.003, 1e-4, 0.2) for f in (0.0, 0.1, 0.2, 0.6, 1.0)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[2] == pytest.approx(0.003)
    assert lrs[0] < lrs[1] < lrs[2] > lrs[3] > lrs[4] and lrs[4] == pytest.approx(1e-4)


# -- training -------------------------------------------------------------------------------------------


def test_training_lowers_the_loss():
    model = factory(max_iters=20).fit(tiny_images(4))
    losses = [h["loss"] for h in model.history_]
    assert np.mean(losses[-4:]) < np.mean(losses[:4])


def test_validation_images_enable_early_stopping_on_fixed_synthetic_anomalies():
    model = factory(max_iters=12, val_every=4, patience=1).fit(
        tiny_images(4), val_images=tiny_images(2, seed=4)
    )
    vals = [h["val"] for h in model.history_ if "val" in h]
    assert 1 <= len(vals) <= 3 and all(np.isfinite(vals))


def test_describe_lists_the_seed_defaults_for_the_train_form():
    params = registry.describe("memseg")["params"]
    assert params["memory_size"]["default"] == 30 and params["grid_size"]["default"] == 8
    assert params["transparency"]["default"] == [0.8, 1.0]
    assert params["focal_weight"]["default"] == 0.7 and params["l1_weight"]["default"] == 0.3


def test_bad_parameters_are_named():
    for bad, word in [
        (dict(transparency=(0.9, 0.2)), "transparency"),
        (dict(anomaly_ratio=1.5), "anomaly_ratio"),
        (dict(perlin_min_scale=5, perlin_scale=3), "perlin"),
        (dict(memory_size=0), "memory_size"),
        (dict(min_lr=0.1, lr=0.01), "min_lr"),
    ]:
        with pytest.raises(ValueError, match=word):
            factory(**bad).fit(tiny_images(2))
