"""Train registered models (their own recipes, or a time budget) on magnetic_tile or a demo station; one JSON line per model.

    .venv/bin/python benchmarks/bench_models.py draem --data demo --view back
    .venv/bin/python benchmarks/bench_models.py efficientad simplenet stfpm --budget-s 60
    .venv/bin/python benchmarks/bench_models.py efficientad --set pretrained_teacher=false
    .venv/bin/python benchmarks/bench_models.py workbench.models.stfpm:Stfpm   # not registered yet
    .venv/bin/python benchmarks/bench_models.py all --data demo --budget-s 300

``--data demo``: a demo station (rendered by the demo generator into ``--demo-dir`` when it is not
there yet; 60 passes, 60 % with a bead defect) is trained through the workbench's own train job,
one run per view with the view's ROI mask, ``--budget-s`` split evenly over the three views, and
evaluated on its test split with the evaluation job (the figures are means over the views, and
each view's figures are in ``views``; ``--view`` trains one view only). ``all`` stands for every
registered model. ``train_cpu_s`` is the process CPU time over the threads (a quiet machine's wall
time), ``load`` the 1-minute load average when the run ended.

Data: a seeded subset of ../shared/data/magnetic_tile (``--train`` normal training images, up to
``--test-good`` normal and ``--test-per-defect`` images of each defect type), images at their own
size (the models resize to their working size). Each model runs in its own process so its peak
memory (max RSS) is its own. Figures: image AUROC, pixel AUROC, AUPRO (FPR <= 0.3), image F1-max
(workbench.metrics), training seconds and iterations, inference ms per image, peak RSS MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "magnetic_tile"


def load(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def dataset(data: Path, n_train: int, n_good: int, per_defect: int, seed: int = 0):
    """Training images, test images, labels (1 = defective) and (H, W) bool masks."""
    rng = np.random.default_rng(seed)
    train_files = sorted((data / "train" / "good").glob("*.jpg"))
    pick = sorted(rng.choice(len(train_files), min(n_train, len(train_files)), replace=False))
    train = [load(train_files[i]) for i in pick]
    good = sorted((data / "test" / "good").glob("*.jpg"))
    tests = [(good[i], None) for i in sorted(rng.choice(len(good), min(n_good, len(good)), replace=False))]
    for defect in sorted(p for p in (data / "test").iterdir() if p.is_dir() and p.name != "good"):
        files = sorted(defect.glob("*.jpg"))
        for i in sorted(rng.choice(len(files), min(per_defect, len(files)), replace=False)):
            tests.append((files[i], data / "ground_truth" / defect.name / f"{files[i].stem}_mask.png"))
    images = [load(f) for f, _ in tests]
    labels = np.array([m is not None for _, m in tests])
    masks = [
        np.zeros(img.shape[:2], bool) if m is None else cv2.imread(str(m), cv2.IMREAD_GRAYSCALE) > 127
        for img, (_, m) in zip(images, tests)
    ]
    return train, images, labels, masks


def parse_value(text: str):
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def model_class(target: str):
    """A registered model name, or 'module:Class' for a model not registered yet."""
    import importlib

    from workbench.models import registry

    if ":" in target:
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)
    return registry.get(target)


def demo_station(folder: Path) -> Path:
    """The demo station's project file in ``folder``, rendered first when it is not there."""
    from workbench.jobs.demo import STATION_FILE, build_demo_station

    path = folder / STATION_FILE
    if not path.is_file():
        build_demo_station(folder, passes=60, defect_rate=0.6, seed=0)
    return path


def run_one_demo(args) -> dict:
    """Train one model per view on a copy of the demo station and evaluate its runs."""
    import shutil
    import tempfile

    import torch

    from workbench.jobs.evaluate import evaluate
    from workbench.jobs.train import train_views
    from workbench.project import Project

    torch.set_num_threads(args.threads)
    if ":" in args.one:
        raise SystemExit("--data demo trains through the train job: register the model first")
    cls = model_class(args.one)
    name = cls.name
    known = cls.param_defaults()
    with Project.open(demo_station(Path(args.demo_dir))) as project:
        n_views = len(project.views)
    params = {k: parse_value(v) for k, v in (kv.split("=", 1) for kv in args.set)}
    if "time_budget_s" in known and args.budget_s is not None:
        params.setdefault("time_budget_s", args.budget_s / (1 if args.view else n_views))
    views = [args.view] if args.view else None
    with tempfile.TemporaryDirectory() as tmp:
        src = demo_station(Path(args.demo_dir))
        copy = Path(tmp) / src.name
        shutil.copy(src, copy)
        shutil.copytree(src.with_name(src.name + ".d"), copy.with_name(src.name + ".d"))  # its data files
        with Project.open(copy) as project:
            t, c = time.perf_counter(), time.process_time()
            out = train_views(project, name, params, views=views, device="cpu")
            train_s, train_cpu_s = time.perf_counter() - t, (time.process_time() - c) / args.threads
            result = evaluate(project, out["runs"])
    views = {}
    for r in result["runs"]:
        m = r["metrics"]["all"]
        views[r["view"]] = {
            "image_auroc": m["image_auroc"],
            "pixel_auroc": m["pixel_auroc"],
            "aupro": m["aupro"],
            "image_f1_max": m["image_f1"],
            "train_s": r["timings"].get("train_seconds"),
            "infer_ms_per_image": r["timings"].get("inference_ms_per_image"),
            "test": r["counts"]["test"],
        }

    def mean(key: str):
        vals = [v[key] for v in views.values() if isinstance(v[key], int | float)]
        return round(float(np.mean(vals)), 4) if len(vals) == len(views) else None

    return {
        "benchmark": "models",
        "model": name,
        "params": params,
        "data": "demo station (60 passes, 60 % with a bead defect, 3 views, ROI masks)",
        "image_auroc": mean("image_auroc"),
        "pixel_auroc": mean("pixel_auroc"),
        "aupro": mean("aupro"),
        "image_f1_max": mean("image_f1_max"),
        "train_s": round(train_s, 1),
        # CPU seconds of the train job (fits and test-split predictions) over the threads torch uses:
        # the wall time it would take on a quiet machine with that many cores.
        "train_cpu_s": round(train_cpu_s, 1),
        "load": round(os.getloadavg()[0], 1),
        "infer_ms_per_image": mean("infer_ms_per_image"),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "views": {
            k: {kk: (round(vv, 4) if isinstance(vv, float) else vv) for kk, vv in v.items()}
            for k, v in views.items()
        },
    }


def run_one(args) -> dict:
    import torch

    from workbench import metrics

    torch.set_num_threads(args.threads)
    train, images, labels, masks = dataset(DATA, args.train, args.test_good, args.test_per_defect)
    params = {"device": "cpu"}
    if args.budget_s is not None:
        params["time_budget_s"] = args.budget_s
    params.update({k: parse_value(v) for k, v in (kv.split("=", 1) for kv in args.set)})
    cls = model_class(args.one)
    known = cls.param_defaults()
    if "time_budget_s" not in known:
        params.pop("time_budget_s", None)
    scheduled = callable(getattr(cls, "resolved", None))  # None = the schedule's size, not the full size
    if "image_size" in known and "image_size" not in params and known["image_size"] is None and not scheduled:
        params["image_size"] = [256, 256]
    model = cls(**params)
    t = time.perf_counter()
    model.fit(train)
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    scores, maps = model.predict(images)
    infer_ms = 1000 * (time.perf_counter() - t) / len(images)
    history = getattr(model, "history_", [])
    out = {
        "benchmark": "models",
        "model": model_class(args.one).name or args.one,
        "params": {k: v for k, v in params.items() if k != "device"},
        "data": "magnetic_tile",
        "train": len(train),
        "test_good": int((~labels).sum()),
        "test_defective": int(labels.sum()),
        "image_auroc": round(metrics.auroc(labels, scores), 4),
        "pixel_auroc": round(metrics.pixel_auroc(masks, list(maps)), 4),
        "aupro": round(metrics.aupro(masks, list(maps)), 4),
        "image_f1_max": round(metrics.f1_max(labels, scores).value, 4),
        "train_s": round(train_s, 1),
        "iters": len(history),
        "final_loss": round(float(np.mean([h["loss"] for h in history[-20:]])), 5) if history else None,
        "infer_ms_per_image": round(infer_ms, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if scheduled:
        out["resolved"] = model.resolved()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=["efficientad", "simplenet", "stfpm"])
    ap.add_argument(
        "--budget-s", type=float, default=None,
        help="training time budget per model (split over the views); default: the models' own recipes",
    )  # fmt: skip
    ap.add_argument("--train", type=int, default=100)
    ap.add_argument("--test-good", type=int, default=40)
    ap.add_argument("--test-per-defect", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], help="model parameter key=value (JSON values)")
    ap.add_argument("--data", choices=("magnetic_tile", "demo"), default="magnetic_tile")
    ap.add_argument("--demo-dir", default="/tmp/bench_models_demo", help="where the demo station is kept")
    ap.add_argument("--view", help="--data demo: train and evaluate this view only (default: every view)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.data == "magnetic_tile" and not DATA.is_dir():
        print(json.dumps({"benchmark": "models", "skipped": f"no data at {DATA}"}))
        return 0
    if args.one:
        one = run_one_demo(args) if args.data == "demo" else run_one(args)
        print(json.dumps(one, default=str), flush=True)
        return 0
    if args.models == ["all"]:
        from workbench.models import registry

        args.models = registry.names()
    if args.data == "demo":
        demo_station(Path(args.demo_dir))  # rendered once, before the timed runs
    for name in args.models:
        cmd = [sys.executable, __file__, "--one", name, "--train", str(args.train),
               "--test-good", str(args.test_good), "--test-per-defect", str(args.test_per_defect),
               "--threads", str(args.threads), "--data", args.data, "--demo-dir", args.demo_dir,
               ] + [x for kv in args.set for x in ("--set", kv)]  # fmt: skip
        cmd += ["--view", args.view] if args.view else []
        cmd += ["--budget-s", str(args.budget_s)] if args.budget_s is not None else []
        proc = subprocess.run(cmd, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            print(
                json.dumps(
                    {"benchmark": "models", "model": name, "error": proc.stderr.strip().splitlines()[-1:]}
                )
            )
        else:
            print(lines[-1], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
