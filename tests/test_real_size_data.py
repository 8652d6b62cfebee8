"""The tiled real-size set of benchmarks/real_size_data.py: 1130 x 460 mosaics of magnetic_tile at its
own aspect, each defect's mask inside its one defective tile, and no training source in the test set.

Skips without ../shared/data (or $WORKBENCH_DATA)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from real_size_data import data_root, magnetic_tile, make_real_size_set  # noqa: E402

SIZE = (460, 1130)


@pytest.fixture(scope="module")
def tiled(tmp_path_factory) -> Path:
    if magnetic_tile() is None:
        pytest.skip(f"magnetic_tile is not in {data_root()} (set WORKBENCH_DATA to its parent folder)")
    out = tmp_path_factory.mktemp("tiled")
    counts = make_real_size_set(out, n_train=12, n_test=12, size=SIZE, seed=5, layout="tiled")
    assert counts == {"train": 12, "test_good": 6, "test_defective": 6}
    return out


def test_tiled_images_are_mosaics_at_the_tiles_own_aspect(tiled):
    layout = json.loads((tiled / "layout.json").read_text())
    images = sorted(p for p in tiled.rglob("*.jpg"))
    assert len(images) == 24 and len(layout) == 24
    for path in images:
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert img.shape == (*SIZE, 3)
        tiles = layout[str(path.relative_to(tiled).with_suffix(""))]
        # side by side over the whole width, no gap, no overlap
        assert tiles[0]["x0"] == 0 and tiles[-1]["x1"] == SIZE[1]
        assert all(a["x1"] == b["x0"] for a, b in zip(tiles, tiles[1:]))
        for t in tiles[1:-1]:  # a whole inner tile keeps its aspect at height 460
            h, w = cv2.imread(str(magnetic_tile() / t["source"]), cv2.IMREAD_GRAYSCALE).shape
            assert t["x1"] - t["x0"] == max(1, round(w * SIZE[0] / h))
        # a 1130 x 460 frame of tiles 164-1232 px wide holds a seam, unlike a stretched single tile
        assert len(tiles) >= 2 or tiles[0]["defective"]


def test_each_defect_mask_lies_in_its_one_defective_tile(tiled):
    layout = json.loads((tiled / "layout.json").read_text())
    masks = sorted((tiled / "ground_truth").rglob("*_mask.png"))
    assert len(masks) == 6
    for m in masks:
        defect = m.parent.name
        rel = f"test/{defect}/{m.stem.removesuffix('_mask')}"
        tiles = layout[rel]
        bad = [t for t in tiles if t["defective"]]
        assert len(bad) == 1 and bad[0]["source"].startswith(f"test/{defect}/")
        assert all(t["source"].startswith("test/good/") for t in tiles if not t["defective"])
        mask = cv2.imread(str(m), cv2.IMREAD_GRAYSCALE)
        assert mask.shape == SIZE and set(np.unique(mask)) == {0, 255}
        cols = np.flatnonzero(mask.any(axis=0))
        assert bad[0]["x0"] <= cols[0] and cols[-1] < bad[0]["x1"]
    for rel, tiles in layout.items():
        if rel.startswith(("train/", "test/good/")):
            assert not any(t["defective"] for t in tiles)


def test_train_and_test_sources_are_disjoint(tiled):
    layout = json.loads((tiled / "layout.json").read_text())
    train = {t["source"] for rel, ts in layout.items() if rel.startswith("train/") for t in ts}
    test = {t["source"] for rel, ts in layout.items() if rel.startswith("test/") for t in ts}
    assert train and test and not train & test
    assert all(s.startswith("train/good/") for s in train)


def test_layout_is_seeded(tiled, tmp_path):
    make_real_size_set(tmp_path, n_train=12, n_test=12, size=SIZE, seed=5, layout="tiled")
    assert (tmp_path / "layout.json").read_text() == (tiled / "layout.json").read_text()
    with pytest.raises(ValueError, match="layout"):
        make_real_size_set(tmp_path / "x", n_train=1, n_test=0, layout="mosaic")
