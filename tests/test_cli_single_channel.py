"""A monochrome camera's dataset from the command line: single-channel 8- and 16-bit PNGs in MVTec layout
are imported, trained (the plan printed first), evaluated and exported, and score as their RGB copy does;
the bundle's graph takes the raw 16-bit frames and gives the scores evaluation stored. Every registered
model does so on a grey copy of real data (magnetic_tile)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from workbench.cli.main import main
from workbench.line.bundle import Bundle
from workbench.models import registry
from workbench.project import Project

SIZE = 64
PARAMS = {"backbone": "resnet18", "pretrained": False, "embed_dim": 16, "coreset_ratio": 0.25}
REGISTERED = registry.names()  # every model: built-ins and installed plugins
DEFECTS = {9: (10, 12), 10: (30, 40), 11: (44, 20)}  # file number -> top-left of a bright 10 x 10 spot


def write_dataset(root: Path, sixteen: bool) -> Path:
    """6 train/good, 3 test/good, 3 test/spot (with masks) blurred-noise textures of 64 x 64: as
    single-channel uint16 PNGs (the 8-bit values times 257 plus low bits), or as their 8-bit RGB copy."""
    rng = np.random.default_rng(0)
    for k in range(12):
        grey = cv2.GaussianBlur(rng.normal(128, 30, (SIZE, SIZE)), (0, 0), 1.5)
        folder = "train/good" if k < 6 else "test/good" if k < 9 else "test/spot"
        if k in DEFECTS:
            y, x = DEFECTS[k]
            grey[y : y + 10, x : x + 10] = 250
            mask = np.zeros((SIZE, SIZE), np.uint8)
            mask[y : y + 10, x : x + 10] = 255
            (root / "ground_truth/spot").mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / f"ground_truth/spot/{k:03d}_mask.png"), mask)
        grey8 = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
        # 16 bits: v * 257 plus low bits that the conversion (rounding v16 / 257) must drop.
        image = grey8.astype(np.uint16) * 257 + rng.integers(0, 120, grey8.shape).astype(np.uint16)
        if not sixteen:
            image = np.repeat(grey8[:, :, None], 3, axis=2)
        (root / folder).mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(root / folder / f"{k:03d}.png"), image)
    return root


def train_and_eval(tmp_path: Path, name: str, sixteen: bool, capsys) -> tuple[Path, dict]:
    data = write_dataset(tmp_path / name, sixteen)
    project = tmp_path / f"{name}.awb"
    params = [f"--param={k}={json.dumps(v)}" for k, v in PARAMS.items()]
    assert main(["new", str(project)]) == 0
    assert main(["import-dataset", str(project), str(data), "--view", "v"]) == 0
    capsys.readouterr()
    assert main(["train", str(project), "--model", "patchcore", "--device", "cpu", *params]) == 0
    err = capsys.readouterr().err
    assert f"view v: plan: patchcore at {SIZE}x{SIZE} on 6 images: fit ~" in err and "peak memory ~" in err
    assert main(["eval", str(project), "--json", "--quiet"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    return project, run["metrics"]["all"]


def test_sixteen_bit_grey_dataset_trains_evaluates_and_exports_like_its_rgb_copy(tmp_path, capsys):
    grey_project, grey = train_and_eval(tmp_path, "grey16", True, capsys)
    rgb_project, rgb = train_and_eval(tmp_path, "rgb8", False, capsys)
    with Project.open(grey_project) as g, Project.open(rgb_project) as c:
        g_samples = {s.meta["stem"]: s for s in g.samples()}
        c_samples = {s.meta["stem"]: s for s in c.samples()}
        for stem, s in g_samples.items():
            stored = g.sample_image(s.id)
            assert stored.dtype == np.uint8 and stored.shape == (SIZE, SIZE)  # one channel, 8 bits
            assert np.array_equal(stored, c.sample_image(c_samples[stem].id)[..., 1])
        # train stores the test split's result (eval adds one of the train split for its thresholds)
        (g_res,), (c_res,) = ([r for r in q.results() if "predict_s" in r.meta] for q in (g, c))
        g_maps = dict(zip(g_res.sample_ids, g.result_maps(g_res.id)))
        c_maps = dict(zip(c_res.sample_ids, c.result_maps(c_res.id)))
        for stem, s in g_samples.items():
            if s.split == "test":
                assert np.array_equal(g_maps[s.id], c_maps[c_samples[stem].id])
        stored_scores = {
            g.sample(sid).meta["stem"]: score
            for sid, score in zip(g_res.sample_ids, g.result_scores(g_res.id))
        }
    assert grey["image_auroc"] >= 0.99 and grey["pixel_auroc"] >= 0.9  # the spots are found
    for key in ("image_auroc", "pixel_auroc", "aupro"):
        assert grey[key] == pytest.approx(rgb[key], abs=0.005)

    bundle = tmp_path / "bundle"
    assert main(["export", str(grey_project), "--out", str(bundle), "--accept-small-validation"]) == 0
    runtime = Bundle.load(bundle).open_runtimes(device="cpu")["v"]
    for path in sorted((tmp_path / "grey16" / "test").rglob("*.png")):
        frame = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)  # what a 16-bit monochrome camera gives
        assert frame.dtype == np.uint16 and frame.ndim == 2
        score, amap = runtime.infer(frame)
        assert amap.shape == (SIZE, SIZE)
        assert score == pytest.approx(float(stored_scores[path.stem]), rel=1e-4, abs=1e-5)


# -- every model on a grey copy of real data -----------------------------------------------------
# A subset of ../shared/data/magnetic_tile (grey JPEGs of varied sizes), shrunk to one small size and
# written three ways: 1-channel 8-bit PNGs, 1-channel 16-bit PNGs (with low bits the conversion must
# drop) and their RGB copy. Every registered model trains on each from the CLI with its quick settings
# and the same seed; the grey copies must score as the RGB copy does.
MT_SIZE = (48, 64)  # (H, W) of the copies: small, so nine models x three copies stay cheap
MT_COUNTS = {"train/good": 6, "test/good": 3, "test/break": 3}
MT_ITERS = 5  # training iterations of the models that train: the comparison, not the accuracy, is tested


def magnetic_tile() -> Path:
    root = Path(__file__).resolve().parents[1]
    return Path(os.environ.get("WORKBENCH_DATA", root / ".." / "shared" / "data")) / "magnetic_tile"


def write_magnetic_copy(root: Path, kind: str) -> Path:
    """The first images (by name) of MT_COUNTS' folders of magnetic_tile, with the break masks, as
    ``kind``: 'grey8', 'grey16' or 'rgb' PNGs of MT_SIZE in MVTec layout."""
    source = magnetic_tile()
    rng = np.random.default_rng(1)
    h, w = MT_SIZE
    for folder, n in MT_COUNTS.items():
        for path in sorted((source / folder).glob("*.jpg"))[:n]:
            grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            grey = cv2.resize(grey, (w, h), interpolation=cv2.INTER_AREA)
            if kind == "grey16":  # v * 257 plus low bits below half a step: reads back as v
                image = grey.astype(np.uint16) * 257 + rng.integers(0, 120, grey.shape).astype(np.uint16)
            elif kind == "rgb":
                image = np.repeat(grey[:, :, None], 3, axis=2)
            else:
                image = grey
            (root / folder).mkdir(parents=True, exist_ok=True)
            assert cv2.imwrite(str(root / folder / f"{path.stem}.png"), image)
            if folder.startswith("test/") and not folder.endswith("good"):
                defect = folder.split("/")[1]
                mask = cv2.imread(str(source / "ground_truth" / defect / f"{path.stem}_mask.png"), 0)
                mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)
                (root / "ground_truth" / defect).mkdir(parents=True, exist_ok=True)
                assert cv2.imwrite(str(root / "ground_truth" / defect / f"{path.stem}_mask.png"), mask)
    return root


def model_auroc(tmp_path: Path, model: str, kind: str, capsys) -> float:
    data = write_magnetic_copy(tmp_path / kind, kind)
    project = tmp_path / f"{kind}.awb"
    quick = dict(registry.get(model).quick_params)
    if "max_iters" in registry.get(model).param_defaults():
        quick["max_iters"] = min(quick.get("max_iters") or MT_ITERS, MT_ITERS)
    params = [f"--param={k}={json.dumps(v)}" for k, v in quick.items() if k != "device"]
    assert main(["new", str(project)]) == 0
    assert main(["import-dataset", str(project), str(data), "--view", "v"]) == 0
    capsys.readouterr()
    assert main(["train", str(project), "--model", model, "--device", "cpu", "--seed", "3", *params]) == 0
    assert "view v: plan: " in capsys.readouterr().err
    assert main(["eval", str(project), "--json", "--quiet"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    with Project.open(project) as p:
        stored = p.sample_image(p.samples()[0].id)
        assert stored.shape == ((*MT_SIZE, 3) if kind == "rgb" else MT_SIZE)
    return run["metrics"]["all"]["image_auroc"]


@pytest.mark.realdata
@pytest.mark.parametrize("model", REGISTERED)
def test_every_model_trains_on_grey_8_and_16_bit_magnetic_tile_as_on_its_rgb_copy(tmp_path, capsys, model):
    if not (magnetic_tile() / "train" / "good").is_dir():
        pytest.skip("magnetic_tile is not in ../shared/data (set WORKBENCH_DATA to its parent folder)")
    rgb = model_auroc(tmp_path, model, "rgb", capsys)
    for kind in ("grey8", "grey16"):
        assert model_auroc(tmp_path, model, kind, capsys) == pytest.approx(rgb, abs=0.005), kind
