"""PatchCore inference time per image against the backbone forward alone, side by side (one JSON line).

Seed 000 set-up: ResNeXt101-32x8d layers 2+3 (random weights: timing does not depend on their
values), 848 x 480 images, embedding 1,024, coreset 10 % of ``N_TRAIN`` training images, exact
nearest neighbour by chunked matrix products on CPU (2 threads). ratio = PatchCore predict / backbone forward
(median of ``REPEATS``, one image at a time). Both wall-clock and process CPU time are reported:
on a machine shared with other jobs the CPU-time ratio is the steadier of the two.
The nearest-neighbour search is exact, as on the line (one forward for predict and export).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

import numpy as np
import torch

from workbench.core.working import working_batch
from workbench.models import registry

BACKBONE = os.environ.get("BENCH_BACKBONE", "resnext101_32x8d")
N_TRAIN = int(os.environ.get("BENCH_N_TRAIN", "10"))
H, W, RATIO, REPEATS = 480, 848, 0.10, 5


def images(n: int, seed: int) -> list[np.ndarray]:
    import cv2

    rng = np.random.default_rng(seed)
    return [cv2.GaussianBlur(rng.integers(0, 255, (H, W, 3), dtype=np.uint8), (0, 0), 2) for _ in range(n)]


def median_time(fn) -> tuple[float, float]:
    """Median wall-clock and median process CPU seconds of ``REPEATS`` calls."""
    wall, cpu = [], []
    for _ in range(REPEATS):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def main() -> int:
    torch.set_num_threads(2)
    model = registry.create(
        "patchcore", backbone=BACKBONE, pretrained=False, coreset_ratio=RATIO, device="cpu", batch_size=1
    )
    model.fit(images(N_TRAIN, 0))
    test = images(1, 99)
    features = model.inference_module().features  # the forward's own input stage, backbone and embedding
    x = torch.from_numpy(working_batch(test, model.working_size()))

    def forward():
        with torch.inference_mode():
            features(x)

    forward()
    model.predict(test)
    backbone_s, backbone_cpu = median_time(forward)
    predict_s, predict_cpu = median_time(lambda: model.predict(test))
    print(
        json.dumps(
            {
                "benchmark": "patchcore_inference",
                "backbone": BACKBONE,
                "image": [H, W],
                "train_images": N_TRAIN,
                "bank_patches": int(model.memory_bank_.shape[0]),
                "embed_dim": int(model.memory_bank_.shape[1]),
                "query_patches": int(model.grid_[0] * model.grid_[1]),
                "threads": torch.get_num_threads(),
                "nn_search": "exact",
                "load_avg_1min": round(os.getloadavg()[0], 2),
                "backbone_s": round(backbone_s, 3),
                "predict_s": round(predict_s, 3),
                "ratio": round(predict_s / backbone_s, 3),
                "backbone_cpu_s": round(backbone_cpu, 3),
                "predict_cpu_s": round(predict_cpu, 3),
                "ratio_cpu": round(predict_cpu / backbone_cpu, 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
