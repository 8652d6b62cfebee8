"""Backbone features of many images, a batch at a time, at the working size with the ROI blanked."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from workbench.core.progress import CancelToken
from workbench.models.backbones import FeatureExtractor
from workbench.models.components.embedding import patch_embedding
from workbench.models.components.preprocess import batches, prepare_batch


def embed_batches(
    extractor: FeatureExtractor,
    images: list[np.ndarray],
    size: tuple[int, int],
    roi: np.ndarray | None,
    batch_size: int,
    device: torch.device,
    patch_size: int,
    embed_dim: int | None,
    cancel: CancelToken,
) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield (start index, (B, D, h, w) float32 embedding on ``device``) for consecutive batches."""
    for start, stop in batches(len(images), batch_size):
        cancel.raise_if_cancelled()
        batch = prepare_batch(images[start:stop], size, roi, extractor.fill_value)
        with torch.inference_mode():
            x = extractor.normalize(torch.from_numpy(batch).to(device))
            feats = extractor(x, cancel=cancel)
            emb = patch_embedding(feats, patch_size=patch_size, embed_dim=embed_dim)
        yield start, emb
