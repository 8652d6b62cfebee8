"""MVTec import/export: labels, splits and masks in; identical files out; bad folders change nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from workbench.cli.main import main
from workbench.jobs.import_dataset import export_dataset, import_dataset
from workbench.project import Project

DATA = Path("/work/shared/data")


def make_mvtec(root: Path, seed: int = 0) -> Path:
    """A tiny MVTec folder: grey and colour PNGs, two sizes, one defect type with masks."""
    rng = np.random.default_rng(seed)
    files = {
        "train/good/000.png": (32, 40, 3),
        "train/good/001.png": (32, 40, 3),
        "train/good/002.png": (30, 44),
        "test/good/003.png": (32, 40, 3),
        "test/crack/004.png": (32, 40, 3),
        "test/crack/005.png": (30, 44),
    }
    for rel, shape in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / rel), rng.integers(0, 255, shape).astype(np.uint8))
        if "crack" in rel:
            mask = np.zeros(shape[:2], np.uint8)
            mask[5:12, 8:20] = 255
            gt = root / "ground_truth/crack" / f"{Path(rel).stem}_mask.png"
            gt.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(gt), mask)
    return root


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_import_assigns_splits_labels_masks_and_keeps_names(tmp_path):
    src = make_mvtec(tmp_path / "parts")
    p = Project.create(tmp_path / "p.awb")
    res = import_dataset(p, src)
    assert res.view == "parts" and res.counts == {"train/good": 3, "test/good": 1, "test/defective": 2}
    by_stem = {s.meta["stem"]: s for s in p.samples()}
    assert by_stem["004"].has_mask and by_stem["004"].meta["defect_type"] == "crack"
    assert p.gt_mask(by_stem["004"].id)[6, 10] == 255
    assert p.sample_image(by_stem["002"].id).shape == (30, 44)  # sizes may differ inside a dataset view
    assert len({s.pass_index for s in p.samples()}) == 6


def test_round_trip_is_byte_identical_with_and_without_the_source(tmp_path):
    src = make_mvtec(tmp_path / "parts")
    p = Project.create(tmp_path / "p.awb")
    import_dataset(p, src)
    p.save()
    res = export_dataset(p, tmp_path / "out1")
    assert tree(tmp_path / "out1") == tree(src) and res.counts["copied"] == 6
    original = tree(src)
    shutil.rmtree(src)  # now export must re-encode from the stored pixels
    with Project.open(tmp_path / "p.awb") as q:
        res = export_dataset(q, tmp_path / "out2")
    assert res.counts["encoded"] == 6 and tree(tmp_path / "out2") == original


def test_export_refuses_a_non_empty_folder_and_writes_nothing_on_error(tmp_path):
    src = make_mvtec(tmp_path / "parts")
    p = Project.create(tmp_path / "p.awb")
    import_dataset(p, src)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x.txt").write_text("keep")
    with pytest.raises(ValueError, match="not empty"):
        export_dataset(p, tmp_path / "busy")
    assert tree(tmp_path / "busy") == {"x.txt": b"keep"}


def test_mask_of_the_wrong_size_names_both_files_and_imports_nothing(tmp_path):
    src = make_mvtec(tmp_path / "parts")
    cv2.imwrite(str(src / "ground_truth/crack/005_mask.png"), np.zeros((10, 10), np.uint8))
    p = Project.create(tmp_path / "p.awb")
    with pytest.raises(
        ValueError, match=r"005_mask.png' is 10x10 px but its image 'test/crack/005.png' is 44x30"
    ):
        import_dataset(p, src)
    assert p.sources == [] and p.samples() == [] and p.views == {}


def test_wrong_layout_and_broken_image_import_nothing(tmp_path):
    (tmp_path / "flat").mkdir()
    cv2.imwrite(str(tmp_path / "flat" / "a.png"), np.zeros((4, 4), np.uint8))
    p = Project.create(tmp_path / "p.awb")
    with pytest.raises(ValueError, match="not in MVTec layout"):
        import_dataset(p, tmp_path / "flat")
    src = make_mvtec(tmp_path / "parts")
    (src / "test/good/006.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="'006.png' cannot be decoded"):
        import_dataset(p, src)
    assert p.sources == [] and p.samples() == []


def test_cli_import_and_export_dataset(tmp_path, capsys):
    src = make_mvtec(tmp_path / "parts")
    proj = tmp_path / "s.awb"
    assert main(["new", str(proj)]) == 0
    assert main(["import-dataset", str(proj), str(src), "--view", "tile"]) == 0
    assert main(["export-dataset", str(proj), str(tmp_path / "out"), "--view", "tile"]) == 0
    assert tree(tmp_path / "out") == tree(src)
    assert main(["export-dataset", str(proj), str(tmp_path / "out3"), "--view", "nope"]) == 1
    assert "view 'nope' has no samples" in capsys.readouterr().err


@pytest.mark.realdata
def test_cookies_round_trip_is_identical(tmp_path):
    src = DATA / "cookies"
    if not (src / "train" / "good").is_dir():
        pytest.skip("shared dataset cookies is not available")
    p = Project.create(tmp_path / "p.awb")
    res = import_dataset(p, src)
    assert res.counts == {"train/good": 31, "test/good": 14, "test/defective": 40}
    assert sum(s.has_mask for s in p.samples()) == 32
    export_dataset(p, tmp_path / "out")
    assert tree(tmp_path / "out") == tree(src)


@pytest.mark.realdata
@pytest.mark.slow
def test_magnetic_tile_with_varying_sizes_imports_cleanly(tmp_path):
    src = DATA / "magnetic_tile"
    if not (src / "train" / "good").is_dir():
        pytest.skip("shared dataset magnetic_tile is not available")
    p = Project.create(tmp_path / "p.awb")
    res = import_dataset(p, src)
    assert len(res.sample_ids) == 1344 and not res.warnings
    assert sum(s.has_mask for s in p.samples()) == 392
    assert len({(s.height, s.width) for s in p.samples()}) > 100


def test_image_folder_imports_plain_or_matched_and_rejects_mixed_sizes(tmp_path):
    from workbench.jobs.import_dataset import import_folder

    rng = np.random.default_rng(3)
    scene = cv2.GaussianBlur(rng.integers(0, 255, (60, 80)).astype(np.uint8), (5, 5), 0)
    folder = tmp_path / "shots"
    folder.mkdir()
    for k in range(3):
        cv2.imwrite(str(folder / f"{k}.png"), np.roll(scene, 2 * k, axis=1))
    p = Project.create(tmp_path / "p.awb")
    res = import_folder(p, folder, templates={"spot": scene[20:40, 20:44]}, margin=4)
    assert not res.unmatched
    assert [(s.frame, s.x, s.y) for s in p.samples()] == [(0, 16, 16), (1, 18, 16), (2, 20, 16)]
    res = import_folder(p, folder, view="raw")
    assert len(res.sample_ids) == 3 and p.sample_image(res.sample_ids[0]).shape == (60, 80)
    cv2.imwrite(str(folder / "odd.png"), np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="different sizes.*'odd.png'"):
        import_folder(p, folder, view="raw")
    assert len(p.sources) == 2


def test_cli_split_keeps_test_and_trains_on_normals_only(tmp_path, capsys):
    src = make_mvtec(tmp_path / "parts")
    proj = tmp_path / "s.awb"
    assert main(["new", str(proj)]) == 0
    assert main(["import-dataset", str(proj), str(src)]) == 0
    assert main(["split", str(proj), "--train", "0.5", "--val", "0.5", "--test", "0", "--seed", "3"]) == 0
    with Project.open(proj) as p:
        by_stem = {s.meta["stem"]: s.split for s in p.samples()}
        assert all(by_stem[k] == "test" for k in ("003", "004", "005"))  # were in test: stay there
        assert sorted(by_stem[k] for k in ("000", "001", "002")) == ["train", "val", "val"] or sorted(
            by_stem[k] for k in ("000", "001", "002")
        ) == ["train", "train", "val"]
        assert all(s.split != "train" for s in p.samples(label="defective"))
