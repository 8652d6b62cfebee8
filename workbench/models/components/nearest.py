"""Exact nearest neighbours of rows in a bank, by chunked matrix products (bounded memory, BLAS speed).

Used to measure a coreset's coverage radius; PatchCore's own search lives in its forward
(:class:`workbench.models.patchcore.PatchCoreForward`), exact as well.
"""

from __future__ import annotations

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
