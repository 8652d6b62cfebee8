"""PatchCore accuracy on magnetic_tile against anomalib's PatchCore with the same backbone and data (one JSON line).

Both sides get the same inputs: EfficientNet-Lite0 (packaged ImageNet weights) layers 2+3, images
resized to 256 x 256, ``N_TRAIN`` normal training images, a fixed test subset of normal and
defective images, coreset 10 %, k = 3, sigma 4. anomalib's ``PatchcoreModel`` (2.7.0, run in the
anomalib venv) gets our Lite0 extractor in place of its timm one (timm weights need a download).
Figures: image AUROC and pixel AUROC (all test pixels); ratio = ours / anomalib image AUROC. The
nearest-neighbour search is exact (the one the line runs). The peer's interpreter comes from
``ANOMALIB_PYTHON`` (no default: without it the peer is reported as not installed); the data from
``WORKBENCH_DATA`` (default ``../shared/data`` relative to the checkout).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from workbench.models import registry

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("WORKBENCH_DATA", ROOT.parent / "shared" / "data")) / "magnetic_tile"
PEER = os.environ.get("ANOMALIB_PYTHON", "")
SIZE, N_TRAIN, N_TEST_GOOD, N_TEST_PER_DEFECT, RATIO = (256, 256), 100, 60, 15, 0.1

PEER_SCRIPT = """
import sys, time, numpy as np, torch
sys.path.insert(0, sys.argv[3])
torch.set_num_threads(2)
from anomalib.models.image.patchcore.torch_model import PatchcoreModel
from workbench.models.backbones import FeatureExtractor
d = np.load(sys.argv[1])
fe = FeatureExtractor("efficientnet_lite0", ("layer2", "layer3"))
class Ours(torch.nn.Module):
    def forward(self, x):
        return dict(zip(fe.layers, fe(x)))
model = PatchcoreModel(layers=["layer2", "layer3"], backbone="resnet18", pre_trained=False, num_neighbors=3)
model.feature_extractor = Ours()
def norm(a):
    return fe.normalize(torch.from_numpy(a))
t = time.perf_counter()
model.train()
with torch.no_grad():
    for i in range(0, len(d["train"]), 8):
        model(norm(d["train"][i:i + 8]))
torch.manual_seed(0)
model.subsample_embedding(float(sys.argv[4]))
fit_s = time.perf_counter() - t
model.eval()
scores, maps = [], []
with torch.no_grad():
    for i in range(0, len(d["test"]), 8):
        out = model(norm(d["test"][i:i + 8]))
        scores.append(out.pred_score.reshape(-1).numpy()); maps.append(out.anomaly_map[:, 0].numpy())
np.savez(sys.argv[2], scores=np.concatenate(scores), maps=np.concatenate(maps), fit_s=fit_s)
"""


def load(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return cv2.cvtColor(cv2.resize(img, (SIZE[1], SIZE[0]), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


def dataset():
    rng = np.random.default_rng(0)
    train_files = sorted((DATA / "train" / "good").glob("*.jpg"))
    train_files = [train_files[i] for i in sorted(rng.choice(len(train_files), N_TRAIN, replace=False))]
    good = sorted((DATA / "test" / "good").glob("*.jpg"))
    test = [(f, None) for f in (good[i] for i in sorted(rng.choice(len(good), N_TEST_GOOD, replace=False)))]
    for defect in sorted(p for p in (DATA / "test").iterdir() if p.is_dir() and p.name != "good"):
        files = sorted(defect.glob("*.jpg"))
        for i in sorted(rng.choice(len(files), min(N_TEST_PER_DEFECT, len(files)), replace=False)):
            test.append((files[i], DATA / "ground_truth" / defect.name / f"{files[i].stem}_mask.png"))
    train = np.stack([load(f) for f in train_files])
    images = np.stack([load(f) for f, _ in test])
    labels = np.array([m is not None for _, m in test])
    masks = np.stack(
        [
            np.zeros(SIZE, bool)
            if m is None
            else cv2.resize(
                cv2.imread(str(m), cv2.IMREAD_GRAYSCALE), (SIZE[1], SIZE[0]), interpolation=cv2.INTER_NEAREST
            )
            > 127
            for _, m in test
        ]
    )
    return train, images, labels, masks


def aurocs(scores, maps, labels, masks) -> tuple[float, float]:
    return float(roc_auc_score(labels, scores)), float(roc_auc_score(masks.ravel(), np.asarray(maps).ravel()))


def main() -> int:
    if not DATA.is_dir():
        print(json.dumps({"benchmark": "patchcore_accuracy", "skipped": f"no data at {DATA}"}))
        return 0
    torch.set_num_threads(2)
    train, images, labels, masks = dataset()
    model = registry.create(
        "patchcore",
        backbone="efficientnet_lite0",
        coreset_ratio=RATIO,
        num_neighbors=3,
        device="cpu",
        batch_size=8,
    )
    t = time.perf_counter()
    model.fit(train)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    scores, maps = model.predict(images)
    predict_s = time.perf_counter() - t
    ours = aurocs(scores, maps, labels, masks)
    result = {
        "benchmark": "patchcore_accuracy",
        "data": "magnetic_tile",
        "size": list(SIZE),
        "train": N_TRAIN,
        "test_good": int((~labels).sum()),
        "test_defective": int(labels.sum()),
        "coreset_ratio": RATIO,
        "ours_image_auroc": round(ours[0], 4),
        "ours_pixel_auroc": round(ours[1], 4),
        "ours_fit_s": round(fit_s, 1),
        "bank": int(model.memory_bank_.shape[0]),
        "ours_predict_s": round(predict_s, 1),
    }
    if PEER and Path(PEER).exists():
        with tempfile.TemporaryDirectory() as tmp:
            np.savez(f"{tmp}/d.npz", train=train, test=images)
            subprocess.run(
                [PEER, "-c", PEER_SCRIPT, f"{tmp}/d.npz", f"{tmp}/out.npz", str(ROOT), str(RATIO)],
                check=True,
                capture_output=True,
                text=True,
            )
            out = np.load(f"{tmp}/out.npz")
            peer = aurocs(out["scores"], out["maps"], labels, masks)
            result.update(
                {
                    "anomalib_image_auroc": round(peer[0], 4),
                    "anomalib_pixel_auroc": round(peer[1], 4),
                    "anomalib_fit_s": round(float(out["fit_s"]), 1),
                    "image_auroc_ratio": round(ours[0] / peer[0], 4),
                }
            )
    else:
        result["anomalib"] = "not installed"
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
