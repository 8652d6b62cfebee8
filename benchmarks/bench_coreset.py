"""Coreset speed and coverage: against anomalib's KCenterGreedy, and at a million patches (JSON lines).

Case ``peer`` (one line): 65,536 x 1,536 patch features (wide_resnet50_2 layers 2+3, as PatchCore
uses; random init since no weights are downloaded) of 64 images of ../shared/data/magnetic_tile at
256 x 256 (synthetic textures when the data is absent). Both sides select 10 %. The peer is anomalib
2.7.0's KCenterGreedy run in the anomalib environment named by ``--peer-python`` or
``$ANOMALIB_PYTHON`` (e.g. a venv made with ``pip install anomalib==2.7.0``); without one, the peer
is the textbook exact greedy in this process. Quality: coverage radius (largest distance of any
patch to its nearest selected patch, in the full 1,536-dim space) against exact greedy k-center on
all 1,536 dimensions (no projection; our exact greedy, which makes the textbook selection, see
tests/models/test_coreset.py).

Case ``million`` (one line): PatchCore's default embedding (EfficientNet-Lite0 layers 2+3, 3 x 3
neighbourhoods, 152 dims) of 130 real-size images (resized magnetic_tile, 1130 x 460, written to
a temporary folder), about 1.07 million patches, 5 % selected (PatchCore's default). Exact greedy
cannot be afforded on all of it, so coverage is compared on a sub-sample (the first 262,144 patches,
about 33 images): exact greedy against the chunked two-stage selection PatchCore uses. On the whole
million: the chunked selection's time per patch against the sub-sample's (linear time: equal) and
its certified coverage bound.
"""

from __future__ import annotations

import argparse
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
from workbench.models.components.coreset import chunked_coreset, greedy_coreset
from workbench.models.components.embedding import patch_embedding
from workbench.models.components.nearest import nearest_neighbors

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_size_data import magnetic_tile, make_real_size_set  # noqa: E402

N_PATCHES, RATIO = 65_536, 0.10
MILLION_IMAGES, MILLION_RATIO, SUBSAMPLE = 130, 0.05, 262_144

PEER_SCRIPT = """
import sys, time, numpy as np, torch
torch.set_num_threads(2)
from anomalib.models.components.sampling import KCenterGreedy
import anomalib
emb = torch.from_numpy(np.load(sys.argv[1]))
torch.manual_seed(0)
t, c = time.perf_counter(), time.process_time()
idx = KCenterGreedy(embedding=emb, sampling_ratio=float(sys.argv[3])).select_coreset_idxs()
dt, dc = time.perf_counter() - t, time.process_time() - c
np.save(sys.argv[2], np.asarray(idx, dtype=np.int64))
print(anomalib.__version__, dt, dc)
"""


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def peer_embedding() -> tuple[np.ndarray, str]:
    import cv2

    src = magnetic_tile()
    files = sorted((src / "train" / "good").glob("*.jpg"))[:64] if src else []
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


def peer_case(peer_python: str | None) -> dict:
    feats, source = peer_embedding()
    k = int(feats.shape[0] * RATIO)
    load_before = load()
    t, c = time.perf_counter(), time.process_time()
    ours = chunked_coreset(feats, k, seed=0)  # what PatchCore runs (one chunk here)
    ours_s, ours_cpu = time.perf_counter() - t, time.process_time() - c
    if peer_python:
        with tempfile.TemporaryDirectory() as tmp:
            np.save(f"{tmp}/emb.npy", feats)
            done = subprocess.run(
                [peer_python, "-c", PEER_SCRIPT, f"{tmp}/emb.npy", f"{tmp}/idx.npy", str(RATIO)],
                capture_output=True,
                text=True,
                check=True,
            )
            version, peer_s, peer_cpu = done.stdout.strip().splitlines()[-1].split()
            peer_s, peer_cpu = float(peer_s), float(peer_cpu)
            peer = np.load(f"{tmp}/idx.npy")
        peer_name = f"anomalib {version} KCenterGreedy (SparseRandomProjection eps=0.9 + greedy)"
    else:
        from workbench.models.components.coreset import exact_greedy_coreset

        t, c = time.perf_counter(), time.process_time()
        peer = exact_greedy_coreset(feats, k, projection_dim=None, seed=0)
        peer_s, peer_cpu = time.perf_counter() - t, time.process_time() - c
        peer_name = "textbook exact greedy k-center, full dimensions (no anomalib environment given)"
    t = time.perf_counter()
    exact = greedy_coreset(feats, k, projection_dim=None, seed=0)
    exact_s = time.perf_counter() - t
    r_ours, r_peer, r_exact = coverage(feats, ours), coverage(feats, peer), coverage(feats, exact)
    return {
        "benchmark": "coreset",
        "case": "peer",
        "embedding": list(feats.shape),
        "selected": k,
        "source": source,
        "threads": torch.get_num_threads(),
        "ours_s": round(ours_s, 3),
        "peer_s": round(peer_s, 2),
        "speedup": round(peer_s / ours_s, 1),
        "ours_cpu_s": round(ours_cpu, 3),
        "peer_cpu_s": round(peer_cpu, 2),
        "speedup_cpu": round(peer_cpu / max(ours_cpu, 1e-9), 1),
        "coverage_ours": round(r_ours, 4),
        "coverage_peer": round(r_peer, 4),
        "coverage_exact_full_dim": round(r_exact, 4),
        "coverage_ratio_to_exact": round(r_ours / r_exact, 4),
        "coverage_ratio_peer_to_exact": round(r_peer / r_exact, 4),
        "exact_full_dim_s": round(exact_s, 1),
        "load_avg_1min_start": load_before,
        "load_avg_1min_end": load(),
        "peer": peer_name,
    }


def million_embedding(tmp: Path) -> np.ndarray:
    import cv2

    make_real_size_set(tmp, n_train=MILLION_IMAGES, n_test=0)
    files = sorted((tmp / "train" / "good").glob("*.jpg"))
    fe = FeatureExtractor("efficientnet_lite0", ("layer2", "layer3"), pretrained=True)
    parts = []
    with torch.inference_mode():
        for i in range(0, len(files), 2):
            imgs = np.stack([cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files[i : i + 2]])
            e = patch_embedding(fe(fe.normalize(torch.from_numpy(imgs))), patch_size=3)
            parts.append(e.permute(0, 2, 3, 1).reshape(-1, e.shape[1]).numpy().copy())
    return np.concatenate(parts)


def million_case(embedding_file: str | None) -> dict:
    if embedding_file:
        feats = np.load(embedding_file)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            feats = million_embedding(Path(tmp))
    n = feats.shape[0]
    sub = np.ascontiguousarray(feats[:SUBSAMPLE])
    k_sub = int(round(MILLION_RATIO * len(sub)))
    load_before = load()
    t, c = time.perf_counter(), time.process_time()
    exact = greedy_coreset(sub, k_sub, seed=0)
    exact_s, exact_cpu = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    ours_sub = chunked_coreset(sub, k_sub, seed=0)
    ours_sub_s, ours_sub_cpu = time.perf_counter() - t, time.process_time() - c
    r_exact, r_ours = coverage(sub, exact), coverage(sub, ours_sub)
    from workbench.models.components.coreset import StreamingCoreset

    k = int(round(MILLION_RATIO * n))
    stream = StreamingCoreset(n, k, seed=0)
    t, c = time.perf_counter(), time.process_time()
    for s in range(0, n, 8037):  # as PatchCore feeds it: one image's patches at a time
        stream.add(feats[s : s + 8037])
    stream.finish()
    ours_s, ours_cpu = time.perf_counter() - t, time.process_time() - c
    return {
        "benchmark": "coreset",
        "case": "million",
        "embedding": list(feats.shape),
        "source": f"efficientnet_lite0 layer2+3 of {MILLION_IMAGES} magnetic_tile images resized to 1130x460",
        "selected": k,
        "subsample": [len(sub), k_sub],
        "exact_sub_s": round(exact_s, 1),
        "ours_sub_s": round(ours_sub_s, 1),
        "coverage_exact_sub": round(r_exact, 4),
        "coverage_ours_sub": round(r_ours, 4),
        "coverage_ratio_to_exact_sub": round(r_ours / r_exact, 4),
        "ours_million_s": round(ours_s, 1),
        "exact_sub_cpu_s": round(exact_cpu, 1),
        "ours_sub_cpu_s": round(ours_sub_cpu, 1),
        "ours_million_cpu_s": round(ours_cpu, 1),
        "us_per_patch_sub": round(1e6 * ours_sub_s / len(sub), 1),
        "us_per_patch_million": round(1e6 * ours_s / n, 1),
        "coverage_bound_million": round(float(np.sqrt(stream.radius)), 4),
        "chunks": int(np.ceil(n / stream.chunk)),
        "load_avg_1min_start": load_before,
        "load_avg_1min_end": load(),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=("peer", "million", "all"), default="all")
    ap.add_argument(
        "--peer-python", default=os.environ.get("ANOMALIB_PYTHON"), help="python of an anomalib venv"
    )
    ap.add_argument("--million-embedding", default=None, help="a saved (N, D) .npy instead of computing it")
    args = ap.parse_args()
    torch.set_num_threads(2)
    if args.case in ("peer", "all"):
        print(json.dumps(peer_case(args.peer_python)), flush=True)
    if args.case in ("million", "all"):
        print(json.dumps(million_case(args.million_embedding)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
