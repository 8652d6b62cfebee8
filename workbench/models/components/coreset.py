"""Greedy k-center coreset (PatchCore's minimax facility location) that scales to millions of patches.

One chunk (up to ``chunk`` rows) gets the textbook greedy (each step takes the point farthest from the
chosen set), made fast in three ways that do not change what it selects:

* rounds: the ``candidates`` farthest points are taken aside and greedy steps run on them alone for
  as long as the best of them is still at least as far as the best point left out (whose distances
  can only have shrunk meanwhile); then the round's new centres are applied to everything else;
* pruning: once there are as many centres as ``cell_size``-point cells, every point is filed under
  its nearest centre so far (its *anchor*) and points are reordered cell by cell. A new centre can
  only bring a point of cell q closer if the triangle inequality allows it: with e the distance of
  the centre to q's anchor and eps the largest member-to-anchor distance, no member is nearer than
  e - eps. Cells far from each new centre are skipped: 93 % of the point-centre pairs on the
  benchmark's WideResNet embedding, about 20 % on EfficientNet-Lite0 features of real images
  (their intrinsic dimension is higher);
* projection: high-dimensional features are projected on their leading principal directions
  (randomized subspace iteration on a seeded sample of rows), and every point keeps the squared
  norm of what the projection leaves out; the squared distance used is the projected one plus both
  residuals' squared norms (exact when the residuals are orthogonal, as they nearly are in many
  dimensions). A random projection to the same dimension (PatchCore's psi) loses the small
  distances the coverage radius is made of.

More rows than one chunk (``chunked_coreset``, ``StreamingCoreset``): each chunk runs the greedy above
a little further than its share (``overselect``), remembering the distance at which it took each
point; the chunks' selections are then merged by one global threshold on those distances: the kept
points are the ``n_select`` taken farthest from their own chunk's earlier picks, so chunks with more
variety get more of the budget, as one global greedy would give them. Time is linear in the number
of rows (each chunk's cost is bounded), memory is one chunk plus the over-selection, and the
coverage radius is the largest kept pick distance. Measured by benchmarks/bench_coreset.py.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager, nullcontext

import numpy as np

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress, sub_progress

CHUNK = 65_536  # rows per greedy chunk: above this the chunked two-stage selection takes over
OVERSELECT = 1.5  # a chunk selects this much of its share before the global merge
_SLACK = 1e-3  # relative margin on the pruning test: float32 rounding never prunes a real update


_controller = None


def _single_thread() -> AbstractContextManager:
    """BLAS on one thread: the greedy steps are small matrix products, and two OpenBLAS threads
    synchronizing on each of them cost up to 8x more than one thread on a busy machine (measured)."""
    global _controller
    try:
        if _controller is None:
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()
        return _controller.limit(limits=1, user_api="blas")
    except Exception:  # noqa: BLE001 - no control over the BLAS threads: run as is
        return nullcontext()


def principal_basis(
    x: np.ndarray, dim: int, seed: int, sample: int = 4096, iterations: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """(mean (D,), basis (D, dim)) float32: leading principal directions of a seeded sample of rows.

    Randomized subspace iteration on the sample's covariance (Halko et al. 2011) rather than a full
    eigendecomposition: the directions only choose what the distances are computed on, the
    residual norms make up for what they miss, and a D x D eigh costs seconds at D = 1,536.
    """
    rng = np.random.default_rng(seed)
    rows = x if len(x) <= sample else x[np.sort(rng.choice(len(x), sample, replace=False))]
    rows = np.asarray(rows, dtype=np.float32)
    mean = rows.mean(0, dtype=np.float64).astype(np.float32)
    c = rows - mean
    cov = c.T @ c
    width = min(cov.shape[0], dim + 16)
    v = rng.standard_normal((cov.shape[0], width)).astype(np.float32)
    for _ in range(max(1, iterations)):
        v, _ = np.linalg.qr(cov @ v)
    small = (v.T @ cov @ v).astype(np.float64)
    _, vectors = np.linalg.eigh(small)  # ascending
    basis = v @ vectors[:, ::-1][:, :dim].astype(np.float32)
    return mean, np.ascontiguousarray(basis, dtype=np.float32)


def _projected(
    x: np.ndarray, projection_dim: int | None, seed: int, rows: int = 8192
) -> tuple[np.ndarray, np.ndarray]:
    """(points (N, d), squared norms (N,)) whose ``xsq_a + xsq_b - 2 a.b`` is the distance to use.

    Without projection: the features and their squared norms. With it: the centred features on
    their leading ``projection_dim`` principal directions, and their full centred squared norms
    (projected part + residual), computed in blocks so no full centred copy is held.
    """
    if projection_dim is None or projection_dim >= x.shape[1]:
        x = np.ascontiguousarray(x, dtype=np.float32)
        return x, np.einsum("ij,ij->i", x, x)
    return _project(x, *principal_basis(x, int(projection_dim), seed), rows=rows)


def _check(x: np.ndarray, n_select: int, who: str) -> None:
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{who}: expected (N, D) features with N > 0; found shape {x.shape}")
    if not 1 <= n_select <= x.shape[0]:
        raise ValueError(f"{who}: n_select must be in 1..{x.shape[0]}; found {n_select}")


def greedy_coreset(
    features: np.ndarray,
    n_select: int,
    projection_dim: int | None = 256,
    seed: int = 0,
    candidates: int = 2048,
    cell_size: int = 256,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> np.ndarray:
    """Indices (n_select,) int64, in selection order, of the greedy k-center coreset of (N, D) features.

    ``projection_dim``: features are projected on this many principal directions first, with their
    residual norms kept (see the module); ``None`` or >= D keeps them as they are. The first centre
    is drawn with ``seed``, and so is the sample the principal directions are computed from.
    ``cell_size`` 0 turns the pruning off (every round updates every point).
    """
    x = np.asarray(features)
    _check(x, n_select, "greedy_coreset")
    z, xsq = _projected(x, projection_dim, seed)
    first = int(np.random.default_rng(seed).integers(x.shape[0]))
    chosen, _, _ = _greedy(z, xsq, n_select, first, candidates, cell_size, progress, cancel)
    return chosen


def _greedy(
    z: np.ndarray,
    xsq: np.ndarray,
    n_select: int,
    first: int,
    candidates: int,
    cell_size: int,
    progress: ProgressFn,
    cancel: CancelToken,
) -> tuple[np.ndarray, np.ndarray, float]:
    """(chosen (k,) int64, pick distances (k,) float32, final radius) of greedy k-center on z.

    Squared distances are ``xsq_a + xsq_b - 2 z_a.z_b``; ``pick[j]`` is chosen[j]'s squared distance
    to chosen[:j] when it was taken (``pick[0]`` = inf), and the final radius is the largest squared
    distance of any point to the chosen set: so the coverage radius after j picks is ``pick[j]``.
    """
    n = z.shape[0]
    mind = np.full(n, np.inf, dtype=np.float32)
    chosen = np.empty(n_select, dtype=np.int64)
    pick = np.empty(n_select, dtype=np.float32)
    chosen[0], pick[0] = first, np.inf
    n_cells = n // cell_size if cell_size else 0
    cells: _Cells | None = None
    assign = np.zeros(n, dtype=np.int32) if n_cells >= 2 else None
    k, done = 1, 0  # centres chosen; centres already applied to ``mind``
    c = min(candidates, n - 1)
    while True:
        cancel.raise_if_cancelled()
        if cells is None:
            _apply(z, xsq, mind, chosen, done, k, assign)
            if assign is not None and k >= n_cells:
                cells = _Cells(z, xsq, mind, assign, chosen[:k])
                z, xsq, mind = cells.z, cells.xsq, cells.mind
                chosen[:k] = cells.inverse[chosen[:k]]
        else:
            with _single_thread():
                cells.apply(chosen[done:k])
        done = k
        if k >= n_select:
            break
        # The c farthest points, and the largest distance among the rest (an upper bound for them).
        part = np.argpartition(mind, n - c - 1)
        cand, rest_max = part[n - c :], float(mind[part[n - c - 1]]) if c < n else -np.inf
        cm = mind[cand]
        zc, xcsq = z[cand], xsq[cand]
        with _single_thread():
            while k < n_select:
                j = int(np.argmax(cm))
                if cm[j] < rest_max:
                    break
                i = int(cand[j])
                chosen[k], pick[k] = i, cm[j]
                k += 1
                cm[j] = 0.0  # chosen: never again (its estimated self-distance is twice its residual)
                if (k & 255) == 0:
                    cancel.raise_if_cancelled()
                    progress(k / n_select, f"coreset {k}/{n_select}")
                d2 = zc @ z[i]
                d2 *= -2.0
                d2 += xcsq
                d2 += xsq[i]
                np.minimum(cm, d2, out=cm)
    radius = float(mind.max())
    if cells is not None:
        chosen = cells.order[chosen]
    return chosen, pick, radius


def _apply(
    z: np.ndarray,
    xsq: np.ndarray,
    mind: np.ndarray,
    chosen: np.ndarray,
    start: int,
    stop: int,
    assign: np.ndarray | None,
    rows: int = 8192,
) -> None:
    """mind = min(mind, squared distance to chosen[start:stop]), as blocked matrix products.

    With ``assign``, also record for each point the index (into ``chosen``) of its nearest centre.
    """
    centres = chosen[start:stop]
    if len(centres) == 0:
        return
    c = z[centres]
    csq = xsq[centres]
    for s in range(0, z.shape[0], rows):
        d2 = z[s : s + rows] @ c.T
        d2 *= -2.0
        d2 += csq
        if assign is None:
            m = d2.min(axis=1)
        else:
            j = d2.argmin(axis=1)
            m = d2[np.arange(len(j)), j]
        m += xsq[s : s + rows]
        if assign is not None:
            better = m < mind[s : s + rows]
            assign[s : s + rows][better] = start + j[better]
        np.minimum(mind[s : s + rows], m, out=mind[s : s + rows])
    mind[centres] = 0.0
    if assign is not None:
        assign[centres] = np.arange(start, stop)  # a centre is its own anchor: no cell is empty


class _Cells:
    """Points filed under their nearest centre so far (the anchors), reordered cell by cell.

    Holds reordered copies of the points, their squared norms and distances (``z``, ``xsq``,
    ``mind``; ``order`` maps back, ``inverse`` forward) and per cell: the anchor's coordinates, the
    largest member-to-anchor distance ``eps`` (projected part), the smallest residual of a member
    and the largest ``mind`` of a member. ``apply`` brings ``mind`` up to date with new centres,
    visiting only the cells the triangle inequality cannot rule out.
    """

    def __init__(
        self, z: np.ndarray, xsq: np.ndarray, mind: np.ndarray, assign: np.ndarray, anchors: np.ndarray
    ):
        self.order = np.argsort(assign, kind="stable")
        self.inverse = np.empty_like(self.order)
        self.inverse[self.order] = np.arange(len(self.order))
        self.z = z[self.order]
        self.xsq = xsq[self.order]
        self.mind = mind[self.order]
        a = assign[self.order]
        n_cells = len(anchors)
        self.start = np.searchsorted(a, np.arange(n_cells + 1)).astype(np.int64)
        zsq = np.einsum("ij,ij->i", self.z, self.z)
        self.r2 = np.maximum(self.xsq - zsq, 0.0)
        anchor_pos = self.inverse[anchors]
        self.anchor_z = self.z[anchor_pos]
        self.anchor_zsq = zsq[anchor_pos]
        # Member-to-anchor distance, projected part: mind minus both residuals. Every cell holds at
        # least its anchor, so the segments are never empty.
        e2 = np.maximum(self.mind - self.r2 - self.r2[anchor_pos][a], 0.0)
        starts = self.start[:-1]
        self.eps = np.sqrt(np.maximum.reduceat(e2, starts)) * np.float32(1.0 + _SLACK)
        self.minr = np.minimum.reduceat(self.r2, starts)
        self.maxd = np.maximum.reduceat(self.mind, starts)
        self.zsq = zsq
        self.visited = 0  # point-centre pairs computed, for the benchmark

    def apply(self, centres: np.ndarray) -> None:
        if len(centres) == 0:
            return
        z, xsq, mind = self.z, self.xsq, self.mind
        cz = z[centres]
        e2 = self.anchor_z @ cz.T
        e2 *= -2.0
        e2 += self.anchor_zsq[:, None]
        e2 += self.zsq[centres][None, :]
        gap = np.maximum(np.sqrt(np.maximum(e2, 0.0)) - self.eps[:, None], 0.0)
        bound = gap * gap
        bound += self.minr[:, None]
        bound += self.r2[centres][None, :]
        hit = bound < self.maxd[:, None] * (1.0 + _SLACK)
        csq = xsq[centres]
        for q in np.flatnonzero(hit.any(axis=1)):
            s, e = self.start[q], self.start[q + 1]
            cols = np.flatnonzero(hit[q])
            d2 = z[s:e] @ cz[cols].T
            d2 *= -2.0
            d2 += csq[cols]
            m = d2.min(axis=1)
            m += xsq[s:e]
            seg = mind[s:e]
            np.minimum(seg, m, out=seg)
            self.maxd[q] = seg.max()
            self.visited += (e - s) * len(cols)
        mind[centres] = 0.0


def chunked_coreset(
    features: np.ndarray,
    n_select: int,
    chunk: int = CHUNK,
    overselect: float = OVERSELECT,
    projection_dim: int | None = 256,
    seed: int = 0,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> np.ndarray:
    """Indices (n_select,) int64 of a k-center coreset of (N, D) features, in time linear in N.

    Up to ``chunk`` rows: ``greedy_coreset``. Beyond: the two-stage selection of the module (greedy
    per consecutive chunk of at most ``chunk`` rows, then the global merge by pick distance).
    """
    x = np.asarray(features)
    _check(x, n_select, "chunked_coreset")
    stream = StreamingCoreset(x.shape[0], n_select, chunk, overselect, projection_dim, seed)
    for s in range(0, x.shape[0], stream.chunk):
        stream.add(x[s : s + stream.chunk], progress=progress, cancel=cancel)
    return stream.finish()


class StreamingCoreset:
    """The two-stage coreset of ``n_select`` rows out of ``n_total`` that arrive in pieces.

    ``add(rows)`` buffers rows and runs the greedy on every full chunk (the chunk's rows are then
    dropped, only its over-selection is kept); ``finish()`` runs the last chunk, merges and returns
    the selected global row numbers (ascending); ``features`` then holds their rows, in that order.
    Memory: one chunk plus ``overselect * n_select`` rows (the result is made in their place). With
    ``n_total <= chunk`` this is the plain greedy coreset.
    """

    def __init__(
        self,
        n_total: int,
        n_select: int,
        chunk: int = CHUNK,
        overselect: float = OVERSELECT,
        projection_dim: int | None = 256,
        seed: int = 0,
    ) -> None:
        if n_total < 1 or not 1 <= n_select <= n_total:
            raise ValueError(f"coreset: n_select must be in 1..{n_total}; found {n_select}")
        if chunk < 2:
            raise ValueError(f"coreset: chunk must be at least 2 rows; found {chunk}")
        if overselect < 1.0:
            raise ValueError(f"coreset: overselect must be >= 1; found {overselect}")
        self.n_total, self.n_select, self.seed = int(n_total), int(n_select), int(seed)
        self.projection_dim = projection_dim
        n_chunks = math.ceil(n_total / chunk)
        self.chunk = math.ceil(n_total / n_chunks)  # equal chunks: no tiny last one
        self.overselect = 1.0 if n_chunks == 1 else float(overselect)
        self.ratio = n_select / n_total
        self._buffer: np.ndarray | None = None
        self._filled = 0
        self._seen = 0  # rows received
        # Every chunk's selected rows in one preallocated store (sizes are known up front), which
        # finish() compacts in place into the result: no second copy of the selection.
        sizes = [min(self.chunk, n_total - s) for s in range(0, n_total, self.chunk)]
        self._quota = [min(n, max(1, math.ceil(self.overselect * self.ratio * n))) for n in sizes]
        self._store: np.ndarray | None = None
        self._stored = 0
        self._index: list[np.ndarray] = []  # per chunk: their global row numbers
        self._pick: list[np.ndarray] = []  # per chunk: their pick distances (selection order)
        self._radius: list[float] = []  # per chunk: coverage radius after all its picks
        self._basis: tuple[np.ndarray, np.ndarray] | None = None
        self.features: np.ndarray | None = None
        self.radius: float | None = None  # squared coverage radius bound of the merged selection

    def add(
        self, rows: np.ndarray, progress: ProgressFn = no_progress, cancel: CancelToken = NEVER_CANCEL
    ) -> None:
        """Take (B, D) rows (the next B global rows)."""
        rows = np.asarray(rows)
        if rows.ndim != 2:
            raise ValueError(f"coreset: expected (B, D) rows; found shape {rows.shape}")
        if self._seen + len(rows) > self.n_total:
            raise ValueError(f"coreset: more than the announced {self.n_total} rows")
        if self._buffer is None:
            self._buffer = np.empty((min(self.chunk, self.n_total), rows.shape[1]), dtype=np.float32)
        at = 0
        while at < len(rows):
            take = min(len(rows) - at, self.chunk - self._filled)
            self._buffer[self._filled : self._filled + take] = rows[at : at + take]
            self._filled += take
            self._seen += take
            at += take
            if self._filled == self.chunk:
                self._run_chunk(progress, cancel)

    def _run_chunk(self, progress: ProgressFn, cancel: CancelToken) -> None:
        n = self._filled
        x = self._buffer[:n]
        start = self._seen - n
        k = self._quota[len(self._pick)]
        if self.projection_dim is not None and self.projection_dim < x.shape[1]:
            if self._basis is None:  # one metric for every chunk: their pick distances are compared
                self._basis = principal_basis(x, int(self.projection_dim), self.seed)
            z, xsq = _project(x, *self._basis)
        else:
            z, xsq = np.ascontiguousarray(x), np.einsum("ij,ij->i", x, x)
        first = int(np.random.default_rng(self.seed + start).integers(n))
        chunk_progress = sub_progress(progress, start / self.n_total, self._seen / self.n_total)
        chosen, pick, radius = _greedy(z, xsq, k, first, 2048, 256, chunk_progress, cancel)
        self._pick.append(pick)
        if self._store is None:
            self._store = np.empty((sum(self._quota), x.shape[1]), dtype=np.float32)
        self._store[self._stored : self._stored + k] = x[chosen]
        self._stored += k
        self._index.append(chosen + start)
        self._radius.append(radius)
        self._filled = 0

    def finish(self, cancel: CancelToken = NEVER_CANCEL) -> np.ndarray:
        """Global row numbers (n_select,) int64, ascending, of the selection; sets ``features``."""
        if self._seen != self.n_total:  # before the last chunk: its quota is for a full one
            raise ValueError(f"coreset: expected {self.n_total} rows; received {self._seen}")
        if self._filled:
            self._run_chunk(no_progress, cancel)
        pick = np.concatenate(self._pick)
        # The n_select picks made farthest from their chunk's earlier picks. Within a chunk pick
        # distances do not grow, so this keeps a prefix of each chunk's greedy order.
        if len(pick) > self.n_select:
            keep = np.sort(np.argpartition(-pick, self.n_select - 1)[: self.n_select])
        else:
            keep = np.arange(len(pick))
        # Coverage bound: a chunk is covered to the largest distance of a pick it dropped, or to its
        # final radius when all of its picks are kept. The kept rows move forward in the store chunk by
        # chunk (a kept row never lands after its source: the copy-out first makes overlaps safe).
        store = self._store
        offsets = np.concatenate([[0], np.cumsum([len(p) for p in self._pick])])
        bounds, parts, at = [], [], 0
        for c, p in enumerate(self._pick):
            mine = keep[(keep >= offsets[c]) & (keep < offsets[c + 1])] - offsets[c]
            dropped = np.ones(len(p), bool)
            dropped[mine] = False
            bounds.append(float(p[dropped].max()) if dropped.any() else self._radius[c])
            mine = mine[np.argsort(self._index[c][mine], kind="stable")]
            store[at : at + len(mine)] = store[offsets[c] + mine]
            parts.append(self._index[c][mine])
            at += len(mine)
        if at < len(store):
            store.resize((at, store.shape[1]), refcheck=False)  # gives the tail back
        self.radius = max(bounds)
        self._store, self._pick, self._index = None, [], []
        self._buffer = None
        self.features = store
        return np.concatenate(parts)


def _project(
    x: np.ndarray, mean: np.ndarray, basis: np.ndarray, rows: int = 8192
) -> tuple[np.ndarray, np.ndarray]:
    z = np.empty((x.shape[0], basis.shape[1]), dtype=np.float32)
    sq = np.empty(x.shape[0], dtype=np.float32)
    for s in range(0, x.shape[0], rows):
        block = np.asarray(x[s : s + rows], dtype=np.float32) - mean
        np.matmul(block, basis, out=z[s : s + rows])
        sq[s : s + rows] = np.einsum("ij,ij->i", block, block)
    return z, sq


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
