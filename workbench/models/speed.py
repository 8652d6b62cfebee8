"""This machine's speed, measured now: a memory-bank model's forward at the real working size, BLAS rates, load.

The planner (:mod:`workbench.models.plan`) predicts CPU seconds from these measurements and turns
them into wall seconds with the parallelism the work gets now:

* :func:`probe_patch_forward` runs the model's own steps (image conversion and resize, the backbone
  and patch embedding, the nearest-bank search on a small bank, the map tail and the maps back to the
  images' size) on a batch of textures of the images' shape at the working size, after one warm-up
  batch (the median of up to three timed batches), and returns CPU and wall seconds per image for
  the embedding part and for the rest.
  Measuring at the real size matters: CPU per pixel falls 3-4x from 160 x 160 to 1130 x 460 (fixed
  costs per image and layer), so a small proxy scaled by area over-predicted large fits 2-3x.
* :func:`blas_rate` is multiply-adds per CPU second of a float32 product like the distance blocks,
  on one thread (the coreset's greedy steps) or the threads torch uses (the search), best of three:
  CPU time, so a busy machine does not change it.
* :func:`serial_share`: the share of a core one thread gets now, from the 1-minute load average
  (os.getloadavg) and the cores this process may use; a probe's own wall/CPU ratio gives the
  multi-threaded forward's.
"""

from __future__ import annotations

import math
import os
import time
from functools import lru_cache
from typing import Any

import numpy as np
import torch

_probes: dict[tuple, dict[str, float]] = {}
_rates: dict[int, float] = {}


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def threads() -> int:
    """The threads torch's work runs on: its setting, at most the cores."""
    return max(1, min(torch.get_num_threads(), cores()))


def load_now() -> float | None:
    """The 1-minute load average, or None where the system has none (Windows)."""
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return None


def others_load() -> float | None:
    """The 1-minute load less this process's own thread (a plan probes in the process that plans, just
    before it reads the load, so the average counts it), or None where there is no load average."""
    load = load_now()
    return None if load is None else max(0.0, load - 1.0)


def serial_share(load: float | None = None, n_cores: int | None = None) -> float:
    """Share (0, 1] of one core a single-threaded step gets with ``load`` runnable tasks besides it.

    The scheduler splits the cores evenly among runnable threads: with L others on N cores one more
    thread gets min(1, N / (L + 1)). Unknown load: 1.
    """
    load = load_now() if load is None else load
    n = cores() if n_cores is None else n_cores
    if load is None:
        return 1.0
    return min(1.0, n / (max(0.0, load) + 1.0))


def _single_thread():
    from workbench.models.components.coreset import _single_thread as limit

    return limit()


def blas_rate(threads: int = 1) -> float:
    """Multiply-adds per CPU second of a (4096 x 152) @ (152 x 1024) float32 product, on one BLAS thread
    (``threads`` 1, numpy) or torch's threads (``threads`` 0); best of three, measured once per process."""
    key = int(threads)
    if key not in _rates:
        rng = np.random.default_rng(0)
        a = rng.standard_normal((4096, 152)).astype(np.float32)
        b = rng.standard_normal((152, 1024)).astype(np.float32)
        best = math.inf
        if key == 1:
            with _single_thread():
                for _ in range(3):
                    c = time.process_time()
                    a @ b
                    best = min(best, time.process_time() - c)
        else:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            for _ in range(3):
                c = time.process_time()
                ta @ tb
                best = min(best, time.process_time() - c)
        # process_time ticks coarsely on some systems: never report an impossible rate
        _rates[key] = a.shape[0] * a.shape[1] * b.shape[1] / max(best, 1e-3)
    return _rates[key]


def _textures(n: int, shape: tuple[int, ...], seed: int = 0) -> list[np.ndarray]:
    import cv2

    rng = np.random.default_rng(seed)
    h, w = int(shape[0]), int(shape[1])
    channels = int(shape[2]) if len(shape) > 2 else 1
    out = []
    for _ in range(n):
        img = cv2.GaussianBlur(rng.integers(0, 256, (h, w, channels), dtype=np.uint8), (0, 0), 2.0)
        out.append(img.reshape(h, w, channels) if channels > 1 else img.reshape(h, w))
    return out


@lru_cache(maxsize=4)
def _extractor(backbone: str, layers: tuple[str, ...]) -> Any:
    from workbench.models.backbones import FeatureExtractor

    return FeatureExtractor(backbone, layers, pretrained=False)  # the same work as trained weights


def probe_patch_forward(
    backbone: str,
    layers: tuple[str, ...],
    patch_size: int,
    embed_dim: int | None,
    image_shape: tuple[int, ...],
    size: tuple[int, int],
    batch: int,
    sigma: float = 4.0,
) -> dict[str, float]:
    """CPU and wall seconds per image of a memory-bank model's steps at working ``size`` on ``batch``
    images of ``image_shape`` ((H, W[, C])): {'embed_cpu', 'embed_wall' (conversion, resize, backbone,
    patch embedding, cells to numpy: the fit's pass), 'tail_cpu', 'tail_wall' (search on a 1,024-row
    bank, map tail, maps back to the images' size: the rest of a prediction but the real bank's
    search), 'bank_rows' (1,024), 'cells' (per image), 'dim', 'parallelism' (CPU / wall of the
    whole probe: the cores the work gets now)}. Measured once per process and argument set."""
    from workbench.core.working import maps_to_images, working_batch
    from workbench.models.components.forward import PatchFeatures, roi_cells, select_cells
    from workbench.models.patchcore import PatchCoreForward

    key = (backbone, tuple(layers), int(patch_size), embed_dim, tuple(image_shape), tuple(size), int(batch))
    if key in _probes:
        return _probes[key]
    h, w = int(size[0]), int(size[1])
    valid = np.ones((h, w), bool)
    images = _textures(max(1, int(batch)), image_shape)
    features = PatchFeatures(_extractor(backbone, tuple(layers)), valid, int(patch_size), embed_dim).eval()
    shapes = [im.shape for im in images]
    module = None

    def run() -> tuple[float, float, float, float]:
        nonlocal module
        c0, w0 = time.process_time(), time.perf_counter()
        x = torch.from_numpy(working_batch(images, (h, w)))
        with torch.inference_mode():
            emb = features(x)
        grid = tuple(int(v) for v in emb.shape[-2:])
        cells = roi_cells(valid, grid)
        flat = select_cells(emb, torch.from_numpy(cells)).cpu().numpy()
        c1, w1 = time.process_time(), time.perf_counter()
        if module is None:
            bank = np.random.default_rng(0).standard_normal((1024, flat.shape[-1])).astype(np.float32)
            module = PatchCoreForward(features, bank, cells, grid, valid, float(sigma), 3).eval()
        with torch.inference_mode():
            q = torch.from_numpy(flat)
            b, p, d = q.shape
            dist, _ = module.nearest(q.reshape(b * p, d))
            _, amap = module.tail(module.to_grid(dist.view(b, p)))
        maps_to_images(amap.numpy(), shapes)
        c2, w2 = time.process_time(), time.perf_counter()
        return c1 - c0, w1 - w0, c2 - c1, w2 - w1

    run()  # warm-up: first calls allocate and pick their kernels
    n = len(images)
    # The median of up to three timed batches (as many as fit in about half a second): one batch of a
    # small size is a few milliseconds, which one time slice of another process would double.
    runs, spent = [], 0.0
    while len(runs) < 3 and (not runs or spent < 0.5):
        runs.append(run())
        spent += runs[-1][1] + runs[-1][3]
    embed_cpu, embed_wall, tail_cpu, tail_wall = (float(np.median([r[i] for r in runs])) for i in range(4))
    out = {
        "embed_cpu": embed_cpu / n,
        "embed_wall": embed_wall / n,
        "tail_cpu": tail_cpu / n,
        "tail_wall": tail_wall / n,
        "bank_rows": 1024,
        "cells": int(module.cells.numel()),
        "dim": int(module.bank.shape[1]),
        "parallelism": max(1e-3, (embed_cpu + tail_cpu) / max(1e-6, embed_wall + tail_wall)),
    }
    _probes[key] = out
    return out


def forget() -> None:
    """Forget the measurements (the next plan measures again, e.g. after the load changed)."""
    _probes.clear()
    _rates.clear()
