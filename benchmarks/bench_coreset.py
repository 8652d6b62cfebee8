"""Greedy coreset speed and quality against anomalib's KCenterGreedy on the same embedding (one JSON line).

Embedding: 65,536 x 1,536 patch features (wide_resnet50_2 layers 2+3, as PatchCore uses; random
init since no weights are downloaded) of real images from ../shared/data/magnetic_tile when present,
else of synthetic textured images. Both sides select 10 %. The peer runs in the anomalib venv
(ANOMALIB_PYTHON, default /work/anomalib-venv/bin/python); without it the peer is the textbook exact
greedy in this process. Quality: coverage radius (largest distance of any patch to its nearest
selected patch, in the full 1,536-dim space), compared with the peer's and with that of exact greedy
k-center on the full 1,536 dimensions (no projection; computed with our exact round-based greedy,
which makes the textbook selection, see tests/models/test_coreset.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from workbench.models.backbones import FeatureExtractor
from workbench.models.components.coreset import exact_greedy_coreset, greedy_coreset
from workbench.models.components.embedding import patch_embedding
from workbench.models.components.nearest import nearest_neighbors

N_PATCHES, RATIO = 65_536, 0.10
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "magnetic_tile" / "train" / "good"
PEER = os.environ.get("ANOMALIB_PYTHON", "/work/anomalib-venv/bin/python")

PEER_SCRIPT = """
import sys, time, numpy as np, torch
torch.set_num_threads(2)
from anomalib.models.components.sampling import KCenterGreedy
emb = torch.from_numpy(np.load(sys.argv[1]))
torch.manual_seed(0)
t = time.perf_counter()
idx = KCenterGreedy(embedding=emb, sampling_ratio=float(sys.argv[3])).select_coreset_idxs()
dt = time.perf_counter() - t
np.save(sys.argv[2], np.asarray(idx, dtype=np.int64))
print(dt)
"""


def embedding() -> tuple[np.ndarray, str]:
    import cv2

    files = sorted(DATA.glob("*.jpg"))[:64] if DATA.is_dir() else []
    rng = np.random.default_rng(0)
    if len(files) == 64:
        imgs = [cv2.cvtColor(cv2.resize(cv2.imread(str(f)), (256, 256)), cv2.COLOR_BGR2RGB) for f in files]
        source = "magnetic_tile train/good (64 images, 256x256)"
    else:
        imgs = [
            cv2.GaussianBlur(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8), (0, 0), 3)
            for _ in range(64)
        ]
        source = "synthetic textures (64 images, 256x256)"
    fe = FeatureExtractor("wide_resnet50_2", ("layer2", "layer3"), pretrained=False)
    out = []
    with torch.inference_mode():
        for i in range(0, 64, 8):
            x = fe.normalize(torch.from_numpy(np.stack(imgs[i : i + 8])))
            e = patch_embedding(fe(x), patch_size=3)
            out.append(e.permute(0, 2, 3, 1).reshape(-1, e.shape[1]).numpy())
    return np.ascontiguousarray(np.concatenate(out)[:N_PATCHES]), source


def coverage(features: np.ndarray, idx: np.ndarray) -> float:
    x = torch.from_numpy(features)
    d, _ = nearest_neighbors(x, x[torch.from_numpy(np.asarray(idx))], k=1)
    return float(d.max())


def main() -> None:
    torch.set_num_threads(2)
    feats, source = embedding()
    k = int(feats.shape[0] * RATIO)
    t = time.perf_counter()
    ours = greedy_coreset(feats, k, seed=0)  # default projection (256 principal directions)
    ours_s = time.perf_counter() - t
    if Path(PEER).exists():
        with tempfile.TemporaryDirectory() as tmp:
            np.save(f"{tmp}/emb.npy", feats)
            done = subprocess.run(
                [PEER, "-c", PEER_SCRIPT, f"{tmp}/emb.npy", f"{tmp}/idx.npy", str(RATIO)],
                capture_output=True,
                text=True,
                check=True,
            )
            peer_s = float(done.stdout.strip().splitlines()[-1])
            peer = np.load(f"{tmp}/idx.npy")
        peer_name = "anomalib 2.7.0 KCenterGreedy (SparseRandomProjection eps=0.9 + exact greedy)"
    else:
        t = time.perf_counter()
        peer = exact_greedy_coreset(feats, k, projection_dim=None, seed=0)
        peer_s = time.perf_counter() - t
        peer_name = "textbook exact greedy k-center, full dimensions (anomalib not installed)"
    t = time.perf_counter()
    full = greedy_coreset(feats, k, projection_dim=None, seed=0)
    full_s = time.perf_counter() - t
    r_ours, r_peer, r_full = coverage(feats, ours), coverage(feats, peer), coverage(feats, full)
    print(
        json.dumps(
            {
                "benchmark": "coreset",
                "embedding": list(feats.shape),
                "selected": k,
                "source": source,
                "threads": torch.get_num_threads(),
                "ours_s": round(ours_s, 3),
                "peer_s": round(peer_s, 3),
                "speedup": round(peer_s / ours_s, 2),
                "coverage_ours": round(r_ours, 4),
                "coverage_peer": round(r_peer, 4),
                "coverage_ratio": round(r_ours / r_peer, 4),
                "coverage_exact_full_dim": round(r_full, 4),
                "coverage_ratio_to_exact": round(r_ours / r_full, 4),
                "exact_full_dim_s": round(full_s, 1),
                "load_avg_1min": round(os.getloadavg()[0], 2),
                "peer": peer_name,
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
