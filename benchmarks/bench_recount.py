"""Benchmark: TP/FP/TN/FN at a new threshold for the live sliders, against recomputing from scratch.

Prints one JSON line: milliseconds per recount for 100,000 image scores and for the pixels of 1,000 maps
of 256x256, the naive recompute time measured in the same run, and their ratio (naive / recount).
Targets: < 5 ms (image) and < 50 ms (pixel).
"""

from __future__ import annotations

import json
import time

import numpy as np

from workbench.metrics import PixelRecount, ScoreRecount


def _naive(scores: np.ndarray, labels: np.ndarray, t: float) -> tuple[int, int, int, int]:
    flagged = scores >= scores.dtype.type(t)
    tp = int(np.count_nonzero(flagged & labels))
    fp = int(np.count_nonzero(flagged)) - tp
    fn = int(np.count_nonzero(labels)) - tp
    return tp, fp, labels.size - tp - fp - fn, fn


def _time_ms(fn, thresholds) -> float:
    """Median milliseconds of one call over the thresholds."""
    times = []
    for t in thresholds:
        start = time.perf_counter()
        fn(t)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)

    n = 100_000
    labels = rng.random(n) < 0.05
    scores = (rng.normal(size=n) + 2 * labels).astype(np.float32)
    thresholds = rng.normal(size=200).astype(np.float32)
    start = time.perf_counter()
    rc = ScoreRecount(labels, scores)
    image_build = time.perf_counter() - start
    for t in thresholds[:20]:
        assert rc.counts(t).as_dict() == dict(zip(("tp", "fp", "tn", "fn"), _naive(scores, labels, t)))
    image_ms = _time_ms(rc.counts, thresholds)
    image_naive_ms = _time_ms(lambda t: _naive(scores, labels, t), thresholds)
    changes_ms = _time_ms(lambda t: rc.changed(0.0, t), thresholds)

    maps = rng.random((1000, 256, 256), dtype=np.float32)
    masks = np.zeros(maps.shape, bool)
    masks[:, 100:120, 50:90] = True
    maps[masks] += 0.5
    roi = np.ones((256, 256), bool)
    roi[:, :8] = False
    start = time.perf_counter()
    prc = PixelRecount(masks, maps, roi)
    pixel_build = time.perf_counter() - start
    pix_thresholds = rng.random(50).astype(np.float32)
    pixel_ms = _time_ms(prc.counts, pix_thresholds)
    sel = np.broadcast_to(roi, maps.shape)

    def naive_pixel(t):  # what a slider would do without the recount: threshold every map again
        flagged = (maps >= maps.dtype.type(t)) & sel
        tp = int(np.count_nonzero(flagged & masks))
        return tp, int(np.count_nonzero(flagged)) - tp

    t0 = float(pix_thresholds[0])
    c = prc.counts(t0)
    assert (c.tp, c.fp) == naive_pixel(t0)
    pixel_naive_ms = _time_ms(naive_pixel, pix_thresholds[:5])

    return {
        "benchmark": "recount",
        "image_n": n,
        "image_ms": round(image_ms, 4),
        "image_naive_ms": round(image_naive_ms, 4),
        "image_ratio": round(image_naive_ms / image_ms, 1),
        "image_build_s": round(image_build, 3),
        "changed_ms": round(changes_ms, 4),
        "pixel_maps": int(maps.shape[0]),
        "pixel_n": int(prc.n_pos + prc.n_neg),
        "pixel_ms": round(pixel_ms, 4),
        "pixel_naive_ms": round(pixel_naive_ms, 2),
        "pixel_ratio": round(pixel_naive_ms / pixel_ms, 1),
        "pixel_build_s": round(pixel_build, 2),
    }


if __name__ == "__main__":
    print(json.dumps(main()))
