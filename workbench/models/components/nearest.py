"""Nearest neighbours of patch features in a memory bank.

``nearest_neighbors``: exact, by chunked matrix products (bounded memory, BLAS speed).
``IvfIndex``: an inverted-file index (k-means lists, a share of them probed per query) that searches
about ``probe`` of the bank, for large banks on CPU where the exact search would cost more than the
backbone itself.
"""

from __future__ import annotations

import math

import torch

from workbench.core.progress import NEVER_CANCEL, CancelToken


def nearest_neighbors(
    queries: torch.Tensor,
    bank: torch.Tensor,
    k: int = 1,
    bank_sq: torch.Tensor | None = None,
    query_chunk: int = 2048,
    bank_chunk: int = 32768,
    cancel: CancelToken = NEVER_CANCEL,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Distances (Q, k) float32 and indices (Q, k) int64 of the k nearest bank rows of each query.

    queries (Q, D) and bank (M, D) float32 on the same device. Squared distances are computed as
    |q|^2 - 2 q.m + |m|^2 in (query_chunk x bank_chunk) tiles, so memory stays bounded.
    """
    if queries.shape[1] != bank.shape[1]:
        raise ValueError(f"nearest_neighbors: queries have {queries.shape[1]} dims, the bank {bank.shape[1]}")
    k = min(k, bank.shape[0])
    if bank_sq is None:
        bank_sq = (bank * bank).sum(1)
    out_d = torch.empty(queries.shape[0], k, dtype=torch.float32, device=queries.device)
    out_i = torch.empty(queries.shape[0], k, dtype=torch.int64, device=queries.device)
    for qs in range(0, queries.shape[0], query_chunk):
        cancel.raise_if_cancelled()
        q = queries[qs : qs + query_chunk]
        qsq = (q * q).sum(1, keepdim=True)
        best_d = best_i = None
        for bs in range(0, bank.shape[0], bank_chunk):
            b = bank[bs : bs + bank_chunk]
            d2 = torch.addmm(bank_sq[bs : bs + bank_chunk].unsqueeze(0), q, b.T, beta=1.0, alpha=-2.0)
            d2 += qsq
            kk = min(k, b.shape[0])
            if kk == 1:
                d, i = d2.min(dim=1, keepdim=True)
            else:
                d, i = d2.topk(kk, dim=1, largest=False)
            i = i + bs
            if best_d is None:
                best_d, best_i = d, i
            else:
                cat_d = torch.cat([best_d, d], 1)
                cat_i = torch.cat([best_i, i], 1)
                best_d, sel = cat_d.topk(min(k, cat_d.shape[1]), dim=1, largest=False)
                best_i = cat_i.gather(1, sel)
        out_d[qs : qs + query_chunk] = best_d.clamp_min_(0).sqrt_()
        out_i[qs : qs + query_chunk] = best_i
    return out_d, out_i



def kmeans(
    x: torch.Tensor, n_clusters: int, iters: int = 10, seed: int = 0, fit_rows: int = 256
) -> torch.Tensor:
    """(n_clusters, D) centroids of the rows of ``x`` by Lloyd's algorithm, seeded.

    Trained on at most ``fit_rows`` rows per cluster (a seeded subsample, as is usual for IVF
    quantizers); a cluster left empty keeps its previous centroid.
    """
    g = torch.Generator().manual_seed(int(seed))
    n = x.shape[0]
    if n > n_clusters * fit_rows:
        x = x[torch.randperm(n, generator=g)[: n_clusters * fit_rows].to(x.device)]
    centres = x[torch.randperm(x.shape[0], generator=g)[:n_clusters].to(x.device)].clone()
    for _ in range(iters):
        assign = assign_lists(x, centres)
        counts = torch.bincount(assign, minlength=n_clusters)
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled].unsqueeze(1).to(x.dtype)
    return centres


def assign_lists(x: torch.Tensor, centres: torch.Tensor, rows: int = 16384) -> torch.Tensor:
    """(N,) int64 index of the nearest centre of each row of ``x``."""
    csq = (centres * centres).sum(1)
    out = torch.empty(x.shape[0], dtype=torch.int64, device=x.device)
    for s in range(0, x.shape[0], rows):
        d2 = torch.addmm(csq.unsqueeze(0), x[s : s + rows], centres.T, beta=1.0, alpha=-2.0)
        out[s : s + rows] = d2.argmin(1)
    return out


class IvfIndex:
    """Approximate nearest neighbour (k = 1) over an inverted file: the bank split by k-means into lists.

    A query is compared with the centroids, then exhaustively with the rows of its nearest
    ``probe`` share of the lists (at least ``min_probe`` lists). Queries probing the same list are
    handled together as one matrix product, so the work stays BLAS-3 while touching about
    ``probe`` of the bank. The distance returned is always the true distance to the row found, so
    a miss can only overestimate a patch's score, by the gap to its true nearest row.
    Deterministic for a given bank and ``seed``.
    """

    def __init__(
        self, bank: torch.Tensor, n_lists: int | None = None, probe: float = 0.1, min_probe: int = 8, seed: int = 0
    ):
        if bank.ndim != 2 or bank.shape[0] == 0:
            raise ValueError(f"IvfIndex: expected a (M, D) bank with M > 0; found {tuple(bank.shape)}")
        if not 0.0 < float(probe) <= 1.0:
            raise ValueError(f"IvfIndex: probe must be a share in (0, 1]; found {probe}")
        m = bank.shape[0]
        n_lists = int(n_lists or max(1, round(math.sqrt(m))))
        self.centres = kmeans(bank, min(n_lists, m), seed=seed)
        self.n_probe = min(self.centres.shape[0], max(int(min_probe), math.ceil(probe * self.centres.shape[0])))
        assign = assign_lists(bank, self.centres)
        order = torch.argsort(assign, stable=True)
        counts = torch.bincount(assign, minlength=self.centres.shape[0]).tolist()
        self.lists: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        start = 0
        for count in counts:
            rows = order[start : start + count]
            start += count
            b = bank[rows].contiguous()
            self.lists.append((rows, b, (b * b).sum(1)))

    def search(
        self, queries: torch.Tensor, query_chunk: int = 8192, cancel: CancelToken = NEVER_CANCEL
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Distances (Q, 1) float32 and bank indices (Q, 1) int64 of the nearest row found for each query."""
        out_d = torch.empty(queries.shape[0], 1, dtype=torch.float32, device=queries.device)
        out_i = torch.empty(queries.shape[0], 1, dtype=torch.int64, device=queries.device)
        for qs in range(0, queries.shape[0], query_chunk):
            cancel.raise_if_cancelled()
            d, i = self._search_chunk(queries[qs : qs + query_chunk])
            out_d[qs : qs + query_chunk, 0] = d
            out_i[qs : qs + query_chunk, 0] = i
        return out_d, out_i

    def _search_chunk(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = q.shape[0]
        qsq = (q * q).sum(1)
        csq = (self.centres * self.centres).sum(1)
        to_centres = torch.addmm(csq.unsqueeze(0), q, self.centres.T, beta=1.0, alpha=-2.0)
        probed = torch.zeros(n, self.centres.shape[0], dtype=torch.bool, device=q.device)
        probed.scatter_(1, to_centres.topk(self.n_probe, dim=1, largest=False).indices, True)
        best = torch.full((n,), float("inf"), dtype=torch.float32, device=q.device)
        best_i = torch.full((n,), -1, dtype=torch.int64, device=q.device)
        for lst, (rows, b, bsq) in enumerate(self.lists):
            if rows.numel() == 0:
                continue
            who = torch.nonzero(probed[:, lst]).flatten()
            if who.numel() == 0:
                continue
            d2 = torch.addmm(bsq.unsqueeze(0), q[who], b.T, beta=1.0, alpha=-2.0)
            d, j = d2.min(1)
            d += qsq[who]
            closer = d < best[who]
            who = who[closer]
            best[who] = d[closer]
            best_i[who] = rows[j[closer]]
        return best.clamp_min_(0).sqrt_(), best_i
