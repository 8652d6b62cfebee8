"""Peak RAM of fitting PatchCore on 300 images of 848 x 480, against the planner's estimate (one JSON line).

Embedding of seed 000's size (layers 2+3 -> 1,024 dims) from ResNet-50 (random weights: memory does
not depend on their values; ResNeXt101 would only take longer), coreset 10 %, streamed in chunks of
``chunk_patches``. The naive figure is what holding every patch embedding at once needs (the list of
per-image embeddings plus their stacked copy, as anomalib's ``torch.vstack(embedding_store)`` does).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

import numpy as np
import torch

from workbench.models import registry
from workbench.models.memory import BASE_RSS_BYTES, estimate_memory

N, H, W = int(os.environ.get("BENCH_N_IMAGES", "300")), 480, 848
PARAMS = dict(backbone="resnet50", pretrained=False, coreset_ratio=0.10, device="cpu", batch_size=2)


def main() -> int:
    import cv2

    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    # A few distinct textures reused: generating 300 x 1.2 MB images up front would itself cost RAM.
    pool = [cv2.GaussianBlur(rng.integers(0, 255, (H, W, 3), dtype=np.uint8), (0, 0), 2) for _ in range(8)]
    images = [pool[i % 8] for i in range(N)]
    estimate = estimate_memory("patchcore", PARAMS, N, (H, W))
    model = registry.create("patchcore", **PARAMS)
    t = time.perf_counter()
    model.fit(images)
    fit_s = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    total = N * int(model.grid_[0]) * int(model.grid_[1])
    dim = int(model.memory_bank_.shape[1])
    naive = BASE_RSS_BYTES + 2 * total * dim * 4
    print(
        json.dumps(
            {
                "benchmark": "patchcore_memory",
                "images": N,
                "image": [H, W],
                "backbone": PARAMS["backbone"],
                "patches": total,
                "embed_dim": dim,
                "bank": int(model.memory_bank_.shape[0]),
                "fit_s": round(fit_s, 1),
                "peak_rss_bytes": int(peak),
                "peak_rss_gib": round(peak / 2**30, 3),
                "estimate_bytes": estimate["peak_ram_bytes"],
                "estimate_ratio": round(estimate["peak_ram_bytes"] / peak, 3),
                "naive_bytes": int(naive),
                "naive_gib": round(naive / 2**30, 2),
                "naive_over_ours": round(naive / peak, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
