"""A tiny labelled station with trained runs, built with the project API and registry models, for the
evaluation, robustness and report tests (fast: 48x48 crops, resnet18 without pretrained weights)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from workbench.models import registry
from workbench.project import Project
from workbench.project.types import CropWindow, ViewInfo

SIZE = 48
MODEL_PARAMS = {
    "padim": {
        "backbone": "resnet18",
        "pretrained": False,
        "layers": ["layer1", "layer2"],
        "n_features": 20,
        "device": "cpu",
    },
    "patchcore": {
        "backbone": "resnet18",
        "pretrained": False,
        "layers": ["layer1", "layer2"],
        "embed_dim": 32,
        "projection_dim": 16,
        "coreset_ratio": 0.5,
        "device": "cpu",
    },
}


def bead_image(rng: np.random.Generator, defect: float = 0.0) -> tuple[np.ndarray, np.ndarray | None]:
    """A grey sheet with a horizontal bead; with ``defect`` > 0 a dark gap of that radius (and its mask)."""
    img = np.full((SIZE, SIZE, 3), 90, np.uint8)
    img[18:30] = (200, 170, 60)
    noise = rng.normal(0, 6, img.shape)
    img = np.clip(img + noise, 0, 255).astype(np.uint8)
    if defect <= 0:
        return img, None
    mask = np.zeros((SIZE, SIZE), np.uint8)
    cx = int(rng.integers(12, SIZE - 12))
    cv2.circle(mask, (cx, 24), int(defect), 255, -1)
    # a thin spot rather than a gap: close to the bead's colour, so scores of normals and defects overlap
    img[mask > 0] = (0.55 * img[mask > 0] + 0.45 * np.array([90, 90, 90])).astype(np.uint8)
    return img, mask


def build_station(
    path: Path,
    models=("padim", "patchcore"),
    seeds=(0, 1, 2),
    n_train: int = 6,
    val: tuple[int, int] = (3, 3),
    test: tuple[int, int] = (5, 5),
    synthetic_test: int = 2,
    seed: int = 0,
) -> Path:
    """Write ``path`` (.awb): view 'front' with ROI and zones, splits, and one run per model and seed."""
    rng = np.random.default_rng(seed)
    p = Project.create(path, overwrite=True)
    src = p.add_source("synthetic", "test://station")
    roi = np.zeros((SIZE, SIZE), np.uint8)
    roi[14:34] = 255
    zones = np.zeros((SIZE, SIZE), np.uint8)
    zones[14:34, : SIZE // 2] = 1
    zones[14:34, SIZE // 2 :] = 2
    p.set_view(
        ViewInfo(
            name="front",
            template=np.zeros((8, 8, 3), np.uint8),
            crop=CropWindow(0, 0, SIZE, SIZE),
            roi=roi,
            roi_margin=2,
            zones=zones,
            zone_names=["left", "right"],
        )
    )
    images, infos, masks = [], [], []

    def add(split: str, n_good: int, n_bad: int, n_synth: int = 0) -> None:
        for k in range(n_good + n_bad):
            bad = k >= n_good
            img, m = bead_image(rng, float(rng.uniform(1.5, 4.5)) if bad else 0.0)
            images.append(img)
            masks.append(m)
            infos.append(
                {
                    "source": src,
                    "pass_index": len(images),
                    "view": "front",
                    "split": split,
                    "label": "defective" if bad else "good",
                    "synthetic": bad and k >= n_good + n_bad - n_synth,
                }
            )

    add("train", n_train, 0)
    add("val", *val)
    add("test", *test, synthetic_test)
    p.add_samples(images, infos, masks)
    train_images = [images[i] for i, info in enumerate(infos) if info["split"] == "train"]
    for name in models:
        for s in seeds:
            model = registry.create(name, seed=int(s), **MODEL_PARAMS[name])
            model.fit(train_images, roi=roi)
            p.add_run(
                name,
                "front",
                model.get_params(),
                model.state_dict(),
                meta={"train_seconds": 1.0 + s, "peak_memory_mb": 100.0 + 10 * s},
            )
    p.save()
    p.close()
    return path


_CACHE: dict[str, Path] = {}


def station_copy(tmp_path_factory, dest: Path, evaluated: bool = True) -> Path:
    """A private copy of the shared station (built once per test session), evaluated or only trained."""
    import shutil

    from workbench.jobs.evaluate import evaluate

    key = "evaluated" if evaluated else "trained"
    if key not in _CACHE:
        if "trained" not in _CACHE:
            _CACHE["trained"] = build_station(tmp_path_factory.mktemp("station") / "station.awb")
        if evaluated:
            src = _CACHE["trained"]
            d = tmp_path_factory.mktemp("evaluated")
            _copy(src, d / src.name, shutil)
            with Project.open(d / src.name) as p:
                evaluate(p)
                p.save()
            _CACHE["evaluated"] = d / src.name
    src = _CACHE[key]
    dest.mkdir(parents=True, exist_ok=True)
    _copy(src, dest / src.name, shutil)
    return dest / src.name


def _copy(src: Path, dst: Path, shutil) -> None:
    shutil.copy2(src, dst)
    side = src.with_name(src.name + ".d")
    if side.exists():
        shutil.copytree(side, dst.with_name(dst.name + ".d"), dirs_exist_ok=True)
