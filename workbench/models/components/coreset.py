"""Greedy k-center coreset (PatchCore's minimax facility location), exact and fast on CPU.

Same selection as the textbook greedy (each step takes the point farthest from the chosen set), but
in rounds: the ``candidates`` points farthest from the
chosen set are taken aside and greedy steps run on them alone, each step a small matrix-vector
product, for as long as the best candidate is still at least as far as the best point left out
(whose distances can only have shrunk meanwhile). Then one matrix-matrix product brings every point
up to date with the round's new centres. The result is exact greedy (up to float ties) with the
bulk of the work done as BLAS-3 instead of one full pass per centre.

High-dimensional features are first projected on their leading principal directions (PCA of a
seeded sample of rows), and every point keeps the squared norm of what the projection leaves out:
the squared distance used is the projected one plus both residuals' squared norms (exact when the
residuals are orthogonal, as they nearly are in many dimensions). A random projection to the same
dimension (PatchCore's psi) loses the small distances the coverage radius is made of; measured on
65,536 x 1,536 patch features (benchmarks/bench_coreset.py), coverage radius against exact greedy on
all dimensions: random 128 -> 1.156x, random 512 -> 1.067x, PCA 256 without residuals 1.097x, PCA
256 with residuals 1.011x.
"""

from __future__ import annotations

import numpy as np

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress


def principal_basis(x: np.ndarray, dim: int, seed: int, sample: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """(mean (D,), basis (D, dim)) float32: the leading principal directions of a seeded sample of rows."""
    rng = np.random.default_rng(seed)
    rows = x if len(x) <= sample else x[np.sort(rng.choice(len(x), sample, replace=False))]
    mean = rows.mean(0, dtype=np.float64).astype(np.float32)
    c = rows - mean
    cov = (c.T @ c).astype(np.float64) / len(rows)
    _, vectors = np.linalg.eigh(cov)  # ascending eigenvalues
    return mean, np.ascontiguousarray(vectors[:, ::-1][:, :dim].astype(np.float32))


def _projected(
    x: np.ndarray, projection_dim: int | None, seed: int, rows: int = 8192
) -> tuple[np.ndarray, np.ndarray]:
    """(points (N, d), squared norms (N,)) whose ``xsq_a + xsq_b - 2 a.b`` is the distance to use.

    Without projection: the features and their squared norms. With it: the centred features on
    their leading ``projection_dim`` principal directions, and their full centred squared norms
    (projected part + residual), computed in blocks so no full centred copy is held.
    """
    if projection_dim is None or projection_dim >= x.shape[1]:
        x = np.ascontiguousarray(x)
        return x, np.einsum("ij,ij->i", x, x)
    mean, basis = principal_basis(x, int(projection_dim), seed)
    z = np.empty((x.shape[0], basis.shape[1]), dtype=np.float32)
    sq = np.empty(x.shape[0], dtype=np.float32)
    for s in range(0, x.shape[0], rows):
        block = x[s : s + rows] - mean
        np.matmul(block, basis, out=z[s : s + rows])
        sq[s : s + rows] = np.einsum("ij,ij->i", block, block)
    return z, sq


def greedy_coreset(
    features: np.ndarray,
    n_select: int,
    projection_dim: int | None = 256,
    seed: int = 0,
    candidates: int = 4096,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> np.ndarray:
    """Indices (n_select,) int64, in selection order, of a greedy k-center coreset of (N, D) features.

    ``projection_dim``: features are projected on this many principal directions first, with their
    residual norms kept (see the module); ``None`` or >= D keeps them as they are. The first centre
    is drawn with ``seed``, and so is the sample the principal directions are computed from.
    """
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"greedy_coreset: expected (N, D) features with N > 0; found shape {x.shape}")
    n = x.shape[0]
    if not 1 <= n_select <= n:
        raise ValueError(f"greedy_coreset: n_select must be in 1..{n}; found {n_select}")
    rng = np.random.default_rng(seed)
    x, xsq = _projected(x, projection_dim, seed)
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
            cm[j] = 0.0  # chosen: never again (its estimated self-distance is twice its residual)
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
    mind[centres] = 0.0


def exact_greedy_coreset(
    features: np.ndarray, n_select: int, projection_dim: int | None = 256, seed: int = 0
) -> np.ndarray:
    """Reference textbook greedy (one full distance pass per centre); for tests and benchmarks."""
    x = np.asarray(features, dtype=np.float32)
    rng = np.random.default_rng(seed)
    x, xsq = _projected(x, projection_dim, seed)
    first = int(rng.integers(x.shape[0]))
    chosen = [first]
    mind = np.full(x.shape[0], np.inf, dtype=np.float32)
    idx = first
    for _ in range(n_select - 1):
        d2 = xsq - 2.0 * (x @ x[idx]) + xsq[idx]
        np.minimum(mind, d2, out=mind)
        mind[idx] = 0.0
        idx = int(np.argmax(mind))
        chosen.append(idx)
    return np.asarray(chosen, dtype=np.int64)
