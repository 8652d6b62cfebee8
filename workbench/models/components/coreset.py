"""Greedy k-center coreset (PatchCore's minimax facility location), exact and fast on CPU.

Same selection as the textbook greedy (each step takes the point farthest from the chosen set) on a
random projection of the features, but in rounds: the ``candidates`` points farthest from the
chosen set are taken aside and greedy steps run on them alone, each step a small matrix-vector
product, for as long as the best candidate is still at least as far as the best point left out
(whose distances can only have shrunk meanwhile). Then one matrix-matrix product brings every point
up to date with the round's new centres. The result is exact greedy (up to float ties) with the
bulk of the work done as BLAS-3 instead of one full pass per centre.
"""

from __future__ import annotations

import math

import numpy as np

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress


def random_projection(dim_in: int, dim_out: int, seed: int) -> np.ndarray:
    """(dim_in, dim_out) float32 Gaussian projection scaled to preserve distances on average."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((dim_in, dim_out)) / math.sqrt(dim_out)).astype(np.float32)


def greedy_coreset(
    features: np.ndarray,
    n_select: int,
    projection_dim: int | None = 128,
    seed: int = 0,
    candidates: int = 4096,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> np.ndarray:
    """Indices (n_select,) int64, in selection order, of a greedy k-center coreset of (N, D) features.

    ``projection_dim``: features are randomly projected to this many dimensions first (PatchCore's
    psi); ``None`` or >= D keeps them as they are. The first centre is drawn with ``seed``.
    """
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"greedy_coreset: expected (N, D) features with N > 0; found shape {x.shape}")
    n = x.shape[0]
    if not 1 <= n_select <= n:
        raise ValueError(f"greedy_coreset: n_select must be in 1..{n}; found {n_select}")
    rng = np.random.default_rng(seed)
    if projection_dim is not None and projection_dim < x.shape[1]:
        x = x @ random_projection(x.shape[1], projection_dim, seed)
    x = np.ascontiguousarray(x)
    xsq = np.einsum("ij,ij->i", x, x)
    mind = np.full(n, np.inf, dtype=np.float32)
    chosen = np.empty(n_select, dtype=np.int64)
    chosen[0] = int(rng.integers(n))
    k, done = 1, 0  # centres chosen; centres already applied to ``mind``
    c = min(candidates, n - 1)
    while True:
        cancel.raise_if_cancelled()
        _apply(x, xsq, mind, chosen[done:k])
        done = k
        if k >= n_select:
            return chosen
        # The c farthest points, and the largest distance among the rest (an upper bound for them).
        part = np.argpartition(mind, n - c - 1)
        cand, rest_max = part[n - c :], float(mind[part[n - c - 1]]) if c < n else -np.inf
        cm = mind[cand]
        xc, xcsq = x[cand], xsq[cand]
        while k < n_select:
            j = int(np.argmax(cm))
            if cm[j] < rest_max:
                break
            i = int(cand[j])
            chosen[k] = i
            k += 1
            if (k & 255) == 0:
                cancel.raise_if_cancelled()
                progress(k / n_select, f"coreset {k}/{n_select}")
            d2 = xc @ x[i]
            d2 *= -2.0
            d2 += xcsq
            d2 += xsq[i]
            np.minimum(cm, d2, out=cm)


def _apply(x: np.ndarray, xsq: np.ndarray, mind: np.ndarray, centres: np.ndarray, rows: int = 8192) -> None:
    """mind = min(mind, squared distance to any of ``centres``), as blocked matrix products."""
    if len(centres) == 0:
        return
    c = x[centres]
    csq = xsq[centres]
    for s in range(0, x.shape[0], rows):
        d2 = x[s : s + rows] @ c.T
        d2 *= -2.0
        d2 += csq
        m = d2.min(axis=1)
        m += xsq[s : s + rows]
        np.minimum(mind[s : s + rows], m, out=mind[s : s + rows])


def exact_greedy_coreset(
    features: np.ndarray, n_select: int, projection_dim: int | None = 128, seed: int = 0
) -> np.ndarray:
    """Reference textbook greedy (one full distance pass per centre); for tests and benchmarks."""
    x = np.asarray(features, dtype=np.float32)
    rng = np.random.default_rng(seed)
    if projection_dim is not None and projection_dim < x.shape[1]:
        x = x @ random_projection(x.shape[1], projection_dim, seed)
    xsq = np.einsum("ij,ij->i", x, x)
    first = int(rng.integers(x.shape[0]))
    chosen = [first]
    mind = np.full(x.shape[0], np.inf, dtype=np.float32)
    idx = first
    for _ in range(n_select - 1):
        d2 = xsq - 2.0 * (x @ x[idx]) + xsq[idx]
        np.minimum(mind, d2, out=mind)
        idx = int(np.argmax(mind))
        chosen.append(idx)
    return np.asarray(chosen, dtype=np.int64)
