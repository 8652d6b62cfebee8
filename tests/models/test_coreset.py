"""The lazy greedy coreset selects what textbook greedy k-center selects, and nearest neighbours are exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.progress import Cancelled, CancelToken
from workbench.models.components.coreset import exact_greedy_coreset, greedy_coreset
from workbench.models.components.nearest import nearest_neighbors


def clustered(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((12, d)) * 4
    return (centres[rng.integers(12, size=n)] + rng.standard_normal((n, d))).astype(np.float32)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(50, 600), d=st.integers(2, 40), frac=st.floats(0.01, 0.5), seed=st.integers(0, 10_000))
def test_lazy_greedy_equals_textbook_greedy(n, d, frac, seed):
    x = clustered(n, d, seed)
    k = max(1, int(n * frac))
    a = greedy_coreset(x, k, projection_dim=None, seed=seed, candidates=16)
    b = exact_greedy_coreset(x, k, projection_dim=None, seed=seed)
    # Same coverage radius (selection may differ only at float ties).
    radius = lambda idx: np.sqrt(((x[:, None] - x[idx][None]) ** 2).sum(-1)).min(1).max()  # noqa: E731
    assert radius(a) == pytest.approx(radius(b), rel=1e-4)
    assert len(set(a.tolist())) == k


def test_coreset_is_cancellable():
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        greedy_coreset(clustered(20_000, 16, 0), 2000, cancel=token)


def test_bad_coreset_size_is_explained():
    with pytest.raises(ValueError, match="n_select"):
        greedy_coreset(clustered(10, 4, 0), 11)


def test_chunked_nearest_neighbours_match_brute_force():
    rng = np.random.default_rng(1)
    q = torch.from_numpy(rng.standard_normal((300, 20)).astype(np.float32))
    bank = torch.from_numpy(rng.standard_normal((1000, 20)).astype(np.float32))
    d, i = nearest_neighbors(q, bank, k=3, query_chunk=64, bank_chunk=128)
    full = torch.cdist(q, bank)
    dd, ii = full.topk(3, largest=False)
    assert torch.equal(i, ii)
    assert torch.allclose(d, dd, atol=1e-4)
