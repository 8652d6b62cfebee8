"""The greedy coreset selects what textbook greedy k-center selects (rounds, pruning and all), the chunked
two-stage selection keeps its budget where the variety is and certifies its coverage, and nearest
neighbours are exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.progress import Cancelled, CancelToken
from workbench.models.components.coreset import (
    StreamingCoreset,
    chunked_coreset,
    exact_greedy_coreset,
    greedy_coreset,
)
from workbench.models.components.nearest import nearest_neighbors


def clustered(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((12, d)) * 4
    return (centres[rng.integers(12, size=n)] + rng.standard_normal((n, d))).astype(np.float32)


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(50, 600),
    d=st.integers(2, 40),
    frac=st.floats(0.01, 0.5),
    seed=st.integers(0, 10_000),
    cell_size=st.sampled_from([0, 8, 32]),
)
def test_lazy_greedy_equals_textbook_greedy(n, d, frac, seed, cell_size):
    # cell_size 8 / 32: the triangle-inequality pruning runs for most of the selection.
    x = clustered(n, d, seed)
    k = max(1, int(n * frac))
    a = greedy_coreset(x, k, projection_dim=None, seed=seed, candidates=16, cell_size=cell_size)
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


def _radius(x: np.ndarray, idx: np.ndarray) -> float:
    d, _ = nearest_neighbors(torch.from_numpy(x), torch.from_numpy(x[idx]), k=1)
    return float(d.max())


def test_principal_projection_covers_nearly_as_well_as_greedy_on_every_dimension():
    # Features with most of their spread in a few directions and a little in many (as CNN patch
    # features): 16 principal directions plus residual norms nearly reproduce the full-dim selection.
    rng = np.random.default_rng(3)
    low = clustered(6000, 12, 3) @ rng.standard_normal((12, 200)).astype(np.float32)
    x = (low + 0.3 * rng.standard_normal((6000, 200))).astype(np.float32)
    k = 300
    full = _radius(x, greedy_coreset(x, k, projection_dim=None, seed=0))
    pca = greedy_coreset(x, k, projection_dim=16, seed=0)
    assert len(set(pca.tolist())) == k
    assert _radius(x, pca) <= 1.05 * full
    np.testing.assert_array_equal(pca, greedy_coreset(x, k, projection_dim=16, seed=0))  # seeded


def test_projected_selection_never_picks_a_point_twice_when_residuals_dominate():
    # Isotropic noise: two principal directions keep almost nothing, the residual norms are most of
    # every distance, and a chosen point's own estimated distance (twice its residual) is large.
    x = np.random.default_rng(5).standard_normal((3000, 64)).astype(np.float32)
    for greedy in (greedy_coreset, exact_greedy_coreset):
        idx = greedy(x, 500, projection_dim=2, seed=1)
        assert len(set(idx.tolist())) == 500


def _radius_np(x: np.ndarray, idx: np.ndarray) -> float:
    return _radius(x, np.asarray(idx))


def test_pruned_greedy_makes_the_textbook_selection_at_scale():
    x = clustered(8000, 8, 11)
    a = greedy_coreset(x, 1000, projection_dim=None, seed=2, candidates=64, cell_size=32)
    b = exact_greedy_coreset(x, 1000, projection_dim=None, seed=2)
    assert np.mean(a == b) > 0.99  # the same sequence, up to float ties late on
    assert _radius(x, a) == pytest.approx(_radius(x, b), rel=1e-5)


def test_one_chunk_is_the_greedy_coreset_and_pieces_do_not_matter():
    x = clustered(5000, 12, 4)
    whole = chunked_coreset(x, 400, chunk=8192, projection_dim=None, seed=3)
    assert sorted(whole.tolist()) == sorted(greedy_coreset(x, 400, projection_dim=None, seed=3).tolist())
    # Several chunks, fed in odd pieces: the same selection as the whole array at once.
    stream = StreamingCoreset(len(x), 400, chunk=1200, projection_dim=None, seed=3)
    for s in range(0, len(x), 333):
        stream.add(x[s : s + 333])
    pieces = stream.finish()
    np.testing.assert_array_equal(pieces, chunked_coreset(x, 400, chunk=1200, projection_dim=None, seed=3))
    assert len(set(pieces.tolist())) == 400 and np.all(np.diff(pieces) > 0)
    np.testing.assert_array_equal(stream.features, x[pieces])


def test_chunks_share_the_budget_by_variety_and_certify_their_coverage():
    # Three chunks widely spread, one a tight blob. Equal shares per chunk would spend a quarter of
    # the budget on the blob; the merge by pick distance gives it almost nothing.
    rng = np.random.default_rng(0)
    spread = (rng.standard_normal((9000, 24)) * 3).astype(np.float32)
    blob = (rng.standard_normal((3000, 24)) * 0.05).astype(np.float32)
    x = np.concatenate([spread, blob])
    k = 600
    stream = StreamingCoreset(len(x), k, chunk=3000, projection_dim=None, seed=0)
    stream.add(x)
    idx = stream.finish()
    assert len(idx) == k and np.count_nonzero(idx >= 9000) < 0.05 * k
    exact = _radius(x, greedy_coreset(x, k, projection_dim=None, seed=0))
    ours = _radius(x, idx)
    assert ours <= 1.10 * exact
    equal_shares = np.concatenate(
        [
            c * 3000 + greedy_coreset(x[c * 3000 : (c + 1) * 3000], k // 4, projection_dim=None)
            for c in range(4)
        ]
    )
    assert ours < _radius(x, equal_shares)
    assert ours <= np.sqrt(stream.radius) * (1 + 1e-4)  # the certified bound holds


def test_streaming_coreset_refuses_bad_input():
    with pytest.raises(ValueError, match="n_select"):
        StreamingCoreset(10, 11)
    stream = StreamingCoreset(10, 2, chunk=4)
    with pytest.raises(ValueError, match="announced 10 rows"):
        stream.add(np.zeros((11, 3), np.float32))
    stream.add(np.zeros((5, 3), np.float32))
    with pytest.raises(ValueError, match="received 5"):
        stream.finish()
