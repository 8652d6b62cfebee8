"""How long opening a project with ~1 GB of samples takes, against reading all its images.

Builds a project of N textured 400x400x3 crops (~1 GB raw) in a temporary folder, then times
``Project.open`` + ``samples()`` (the metadata a GUI needs to list the samples) and, as the baseline
measured in the same run, reading every image back. Prints one JSON line; deletes its data.

    .venv/bin/python benchmarks/bench_project_open.py [--samples 2000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from workbench.project import Project

SHAPE = (400, 400, 3)
BATCH = 100


def textured_batch(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """Crops with smooth structure plus sensor noise: compress like real crops, unlike constant images."""
    h, w, _ = SHAPE
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = []
    for _ in range(n):
        fx, fy, phase = rng.uniform(4, 30), rng.uniform(4, 30), rng.uniform(0, 6.3)
        base = 120 + 50 * np.sin(xx / fx + phase) * np.cos(yy / fy) + 0.1 * xx
        img = base[..., None] + rng.normal(0, 6, SHAPE).astype(np.float32)
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def build_project(path: Path, n: int, seed: int = 0) -> float:
    """A saved project of ``n`` samples over two views; seconds it took to add and save them."""
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    with Project.create(path) as p:
        src = p.add_source("video", "line1.mp4")
        for first in range(0, n, BATCH):
            k = min(BATCH, n - first)
            infos = [
                dict(
                    source=src,
                    pass_index=first + i,
                    view=("front", "back")[(first + i) % 2],
                    frame=5 * (first + i),
                    split="train",
                    label="good",
                    match_score=0.9,
                )
                for i in range(k)
            ]
            p.add_samples(textured_batch(rng, k), infos)
        p.set_policy("default", {"value": 0.5})
        p.save()
    return time.perf_counter() - start


def disk_bytes(path: Path) -> int:
    sidecar = path.with_name(path.name + ".d")
    return path.stat().st_size + sum(f.stat().st_size for f in sidecar.iterdir())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=2000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_open_"))
    try:
        path = tmp / "station.awb"
        build_s = build_project(path, args.samples)
        opens = []
        for _ in range(5):
            t0 = time.perf_counter()
            with Project.open(path) as p:
                n = len(p.samples())
            opens.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with Project.open(path) as p:
            for s in p.samples():
                p.sample_image(s.id)
        read_all_s = time.perf_counter() - t0
        open_s = float(np.median(opens))
        print(
            json.dumps(
                {
                    "benchmark": "project_open",
                    "samples": n,
                    "raw_gb": round(n * np.prod(SHAPE) / 1e9, 3),
                    "disk_gb": round(disk_bytes(path) / 1e9, 3),
                    "build_s": round(build_s, 2),
                    "open_s": round(open_s, 4),
                    "baseline_read_all_images_s": round(read_all_s, 3),
                    "ratio_open_to_read_all": round(open_s / read_all_s, 5),
                }
            )
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
