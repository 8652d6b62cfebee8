"""The IVF nearest-neighbour index PatchCore uses on CPU (the exact search is tested in test_coreset.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from model_battery import run_battery, tiny_images

from workbench.models import registry
from workbench.models.components.nearest import IvfIndex, nearest_neighbors


def clustered(n: int, dim: int = 48, clusters: int = 40, seed: int = 0) -> torch.Tensor:
    """Rows around ``clusters`` random centres with uneven spreads, like patch features of a few textures."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (clusters, dim))
    which = rng.integers(clusters, size=n)
    spread = rng.uniform(0.3, 1.5, clusters)[which, None]
    return torch.from_numpy((centres[which] + rng.normal(0, 1, (n, dim)) * spread).astype(np.float32))


def test_ivf_probing_every_list_is_the_exact_search():
    bank, queries = clustered(2000), clustered(500, seed=1)
    d, i = IvfIndex(bank, probe=1.0).search(queries, query_chunk=128)
    ref_d, ref_i = nearest_neighbors(queries, bank, k=1)
    assert torch.equal(i, ref_i)
    assert torch.allclose(d, ref_d, atol=1e-4)


def test_ivf_finds_nearly_every_true_neighbour_and_reports_true_distances():
    bank, queries = clustered(6000), clustered(2000, seed=1)
    index = IvfIndex(bank, probe=0.1)
    assert index.n_probe < len(index.lists)  # it does skip most of the bank
    d, i = index.search(queries)
    ref_d, ref_i = nearest_neighbors(queries, bank, k=1)
    recall = float((i == ref_i).float().mean())
    assert recall >= 0.95
    # The distance given is the true distance to the row given, never below the exact nearest.
    true = (queries - bank[i[:, 0]]).norm(dim=1)
    assert torch.allclose(d[:, 0], true, rtol=1e-4, atol=1e-4)
    assert bool((d >= ref_d - 1e-4).all())
    assert float(((d - ref_d) / ref_d).mean()) < 0.01


def test_ivf_is_deterministic_and_refuses_bad_input():
    bank, queries = clustered(3000), clustered(400, seed=2)
    a = IvfIndex(bank, seed=3).search(queries)
    b = IvfIndex(bank, seed=3).search(queries)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(ValueError, match="probe"):
        IvfIndex(bank, probe=0.0)
    with pytest.raises(ValueError, match="bank"):
        IvfIndex(torch.zeros(0, 8))


def ivf_patchcore(**kw):
    params = dict(backbone="resnet18", pretrained=False, coreset_ratio=0.5, device="cpu", embed_dim=64)
    params.update(kw, nn_search="ivf", nn_probe=0.3)
    return registry.create("patchcore", **params)


def test_patchcore_with_the_ivf_search_passes_the_battery():
    run_battery(ivf_patchcore)


def test_patchcore_ivf_and_exact_searches_give_nearly_the_same_maps():
    train, test = tiny_images(6), tiny_images(3, seed=7)
    test[2][16:28, 24:36] = 255
    exact = registry.create(
        "patchcore", backbone="resnet18", pretrained=False, coreset_ratio=0.5, device="cpu", embed_dim=64,
        nn_search="exact",
    ).fit(train)
    ivf = ivf_patchcore().fit(train)
    s_exact, m_exact = exact.predict(test)
    s_ivf, m_ivf = ivf.predict(test)
    assert np.argmax(s_ivf) == np.argmax(s_exact) == 2
    assert bool((m_ivf >= m_exact - 1e-4).all())  # a miss can only raise a patch's score
    assert float(np.abs(m_ivf - m_exact).mean()) < 0.02 * float(m_exact.max())
