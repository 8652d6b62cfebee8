"""FastFlow: the flow's invertibility and log-determinant."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.models.checks import factory_for, tiny_images
from workbench.models.components.flow import CouplingStep, Flow2d

torch.set_num_threads(2)

factory = factory_for("fastflow")


def _trained_flow(conv3x3_only: bool = False) -> Flow2d:
    """A tiny flow with non-trivial coupling weights (as after training), in float64."""
    torch.manual_seed(0)
    flow = Flow2d(5, steps=4, hidden_ratio=1.0, conv3x3_only=conv3x3_only, clamp=2.0, seed=3).double()
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.5 * torch.randn_like(p))
    return flow


@pytest.mark.parametrize("conv3x3_only", [False, True])
def test_flow_is_exactly_invertible(conv3x3_only):
    flow = _trained_flow(conv3x3_only)
    x = torch.randn(2, 5, 6, 7, dtype=torch.float64)
    z, _ = flow(x)
    assert not torch.allclose(z, x, atol=1e-3)  # it does transform
    torch.testing.assert_close(flow.inverse(z), x, rtol=0, atol=1e-12)


def test_log_determinant_matches_the_numerical_jacobian():
    flow = _trained_flow().requires_grad_(False)
    x = torch.randn(1, 5, 3, 4, dtype=torch.float64)
    _, log_det = flow(x)

    def f(flat: torch.Tensor) -> torch.Tensor:
        return flow(flat.view_as(x))[0].reshape(-1)

    # Central differences of the whole map: an independent check of the analytic per-position sums.
    eps = 1e-6
    flat = x.reshape(-1)
    cols = []
    for i in range(flat.numel()):
        d = torch.zeros_like(flat)
        d[i] = eps
        cols.append((f(flat + d) - f(flat - d)) / (2 * eps))
    jac = torch.stack(cols, dim=1)
    sign, logabs = torch.linalg.slogdet(jac)
    assert float(sign) != 0
    assert abs(float(logabs) - float(log_det.sum())) < 1e-5
    assert abs(float(log_det.sum())) > 0.1  # a volume-preserving flow would make this test vacuous


def test_coupling_log_determinant_is_local_to_each_position():
    torch.manual_seed(1)
    step = CouplingStep(4, 1, 1.0, 2.0, torch.randperm(4)).double()
    with torch.no_grad():
        for p in step.parameters():
            p.add_(0.5 * torch.randn_like(p))
    x = torch.randn(1, 4, 3, 3, dtype=torch.float64)
    _, ld = step(x)
    x2 = x.clone()
    x2[0, :, 0, 0] += 1.0  # a 1x1 subnet: only position (0, 0) may change its log-determinant
    _, ld2 = step(x2)
    changed = (ld2 - ld).abs() > 1e-12
    assert changed[0, 0, 0] and changed.sum() == 1


def test_training_lowers_the_loss():
    model = factory(max_iters=25).fit(tiny_images(4))
    losses = [h["loss"] for h in model.history_]
    assert np.mean(losses[-3:]) < np.mean(losses[:3])


def test_likelihood_map_is_bounded_and_ranks_like_the_log_likelihood():
    images = tiny_images(4)
    test = tiny_images(1, seed=5)
    bad = test[0].copy()
    bad[16:28, 24:36] = (255, 0, 255)
    test.append(bad)
    s_log, m_log = factory(map_kind="log_likelihood").fit(images).predict(test)
    s_lik, m_lik = factory().fit(images).predict(test)
    assert m_lik.min() >= 0 and m_lik.max() <= 1
    assert s_log[1] > s_log[0] and s_lik[1] > s_lik[0]


def test_bad_parameters_are_rejected_with_their_name():
    with pytest.raises(ValueError, match="map_kind"):
        factory(map_kind="prob").fit(tiny_images(2))
    with pytest.raises(ValueError, match="flow_steps"):
        factory(flow_steps=0).fit(tiny_images(2))
