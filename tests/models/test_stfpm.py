"""STFPM: its own behaviour, and the shared training loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.core.progress import Cancelled, CancelToken
from workbench.models.checks import factory_for, tiny_images
from workbench.models.components.training import train_loop
from workbench.models.stfpm import layer_distances

torch.set_num_threads(2)

factory = factory_for("stfpm")


def test_layer_distance_is_zero_for_equal_features_and_one_for_opposite():
    t = [torch.randn(2, 8, 4, 4)]
    assert float(layer_distances(t, t)[0].abs().max()) < 1e-6
    assert torch.allclose(layer_distances(t, [-t[0]])[0], torch.full((2, 4, 4), 2.0), atol=1e-5)


def test_training_lowers_the_loss():
    model = factory(max_iters=15).fit(tiny_images(4))
    losses = [h["loss"] for h in model.history_]
    assert np.mean(losses[-3:]) < np.mean(losses[:3])


def test_student_starts_different_from_teacher_even_without_pretrained_weights():
    model = factory()
    nets = model._build_nets(for_loading=False)
    teacher = model._backbone()
    w_t = next(teacher.parameters())
    w_s = next(nets["student"].parameters())
    assert not torch.equal(w_t, w_s) and w_s.requires_grad and not w_t.requires_grad


# -- the shared training loop ---------------------------------------------------------------------------


def test_loop_stops_at_max_iters_and_reports_loss():
    seen = []
    hist = train_loop(lambda it, frac: 1.0 / (it + 1), 5, None, lambda f, m: seen.append(m))
    assert [h["iter"] for h in hist] == [1, 2, 3, 4, 5]
    assert "loss 0.2000" in seen[-1]


def test_loop_fraction_feeds_schedules_and_time_budget_stops():
    fracs = []
    train_loop(lambda it, frac: fracs.append(frac) or 0.0, 4, None)
    assert fracs == [0.0, 0.25, 0.5, 0.75]
    hist = train_loop(lambda it, frac: 0.0, 10**9, 0.2)
    assert 1 <= len(hist) < 10**9


def test_loop_early_stop_restores_the_best_weights():
    values = iter([3.0, 1.0, 2.0, 2.5, 4.0, 5.0])
    state = {"w": 0}
    restored = []

    def step(it, frac):
        state["w"] = it
        return 0.0

    hist = train_loop(
        step, 100, None, validate=lambda: next(values), val_every=1, patience=2,
        snapshot=lambda: state["w"], restore=restored.append,
    )  # fmt: skip
    assert len(hist) == 4  # best at iteration 2, then two evaluations without improvement
    assert restored == [1]


def test_loop_cancel_and_divergence():
    token = CancelToken()
    with pytest.raises(Cancelled):
        train_loop(lambda it, frac: token.cancel() or 0.0, 100, None, cancel=token)
    with pytest.raises(FloatingPointError, match="diverged"):
        train_loop(lambda it, frac: float("nan"), 10, None)
