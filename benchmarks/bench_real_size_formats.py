"""Single-channel datasets score as their RGB copy: PatchCore with the defaults on a magnetic_tile subset
saved as 3-channel 8-bit, 1-channel 8-bit and 1-channel 16-bit PNGs (one JSON line).

The subset (``BENCH_N_TRAIN`` normal training images, ``BENCH_N_TEST`` test images, half defective
with masks, resized to ``BENCH_SIZE`` H,W; default 60, 40 and 230,565: a quarter of issue 18's
1130 x 460 set) is made at run time by :mod:`real_size_data` from ``$WORKBENCH_DATA`` (default
``../shared/data``). Each copy goes through the project's import, ``train_views`` (the plan, the
fit, the test predictions) and is scored with scikit-learn: image AUROC and pixel AUROC over all
test pixels. Figures: the AUROCs per copy, the largest difference to the RGB copy (issue 18 asks
<= 0.005), fit time, the 1-minute load. Exits 0 with ``"skipped"`` when the data is absent.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))

from real_size_data import grey_copies, magnetic_tile, make_real_size_set  # noqa: E402

from workbench.jobs.import_dataset import import_dataset  # noqa: E402
from workbench.jobs.train import train_views  # noqa: E402
from workbench.project import Project  # noqa: E402

N_TRAIN = int(os.environ.get("BENCH_N_TRAIN", "60"))
N_TEST = int(os.environ.get("BENCH_N_TEST", "40"))
SIZE = tuple(int(v) for v in os.environ.get("BENCH_SIZE", "230,565").split(","))


def score_copy(folder: Path, project_path: Path) -> dict:
    """Import, train with the defaults (CPU) and score one copy: AUROCs, fit and predict seconds."""
    p = Project.create(project_path)
    try:
        import_dataset(p, folder, view="mt")
        t = time.perf_counter()
        out = train_views(p, "patchcore", {"device": "cpu"})
        total_s = time.perf_counter() - t
        run = p.run(out["runs"][0])
        (res,) = [r for r in p.results() if r.id == out["results"][0]]
        scores = p.result_scores(res.id)
        maps = p.result_maps(res.id)
        labels = np.array([p.sample(s).label == "defective" for s in res.sample_ids])
        masks = []
        for sid, m in zip(res.sample_ids, maps):
            gt = p.gt_mask(sid)
            masks.append(np.zeros(m.shape, bool) if gt is None else gt > 0)
        return {
            "image_auroc": round(float(roc_auc_score(labels, scores)), 4),
            "pixel_auroc": round(
                float(
                    roc_auc_score(
                        np.concatenate([m.ravel() for m in masks]), np.concatenate([m.ravel() for m in maps])
                    )
                ),
                4,
            ),
            "fit_s": round(float(run.meta["train_seconds"]), 1),
            "peak_memory_mb": run.meta.get("peak_memory_mb"),
            "train_and_predict_s": round(total_s, 1),
            "working_size": run.params.get("image_size") or list(SIZE),
            "planned_fit_s": run.meta.get("plan", {}).get("fit_s"),
            "planned_peak_mb": round(run.meta.get("plan", {}).get("peak_ram_bytes", 0) / 2**20, 1),
        }
    finally:
        p.close()


def main() -> int:
    if magnetic_tile() is None:
        print(
            json.dumps(
                {"benchmark": "real_size_formats", "skipped": "magnetic_tile not found (WORKBENCH_DATA)"}
            )
        )
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_real_size_set(root / "src", N_TRAIN, N_TEST, SIZE, rgb=False)
        copies = grey_copies(root / "src", root)
        results = {name: score_copy(folder, root / f"{name}.awb") for name, folder in copies.items()}
    diff = max(
        abs(results[name][key] - results["rgb"][key])
        for name in ("grey8", "grey16")
        for key in ("image_auroc", "pixel_auroc")
    )
    print(
        json.dumps(
            {
                "benchmark": "real_size_formats",
                "model": "patchcore (defaults, cpu)",
                "images": {"train": N_TRAIN, "test": N_TEST, "size_hw": list(SIZE)},
                **results,
                "max_auroc_diff_to_rgb": round(diff, 4),
                "within_0_005": diff <= 0.005,
                "load_1min": round(os.getloadavg()[0], 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
