"""Image files (8/16 bit, grey/colour, several formats), folders, and MVTec layout scanning."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from workbench.io.images import ImageError, read_folder, read_image
from workbench.io.mvtec import LayoutError, scan_mvtec


@pytest.mark.parametrize("ext", [".png", ".bmp", ".tif", ".jpg"])
def test_grey_and_colour_images_read_as_grey_and_rgb(tmp_path, ext):
    grey = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (8, 1))
    bgr = np.zeros((8, 25, 3), np.uint8)
    bgr[:, :, 2] = 200  # red in OpenCV's BGR
    cv2.imwrite(str(tmp_path / f"g{ext}"), grey)
    cv2.imwrite(str(tmp_path / f"c{ext}"), bgr)
    g, c = read_image(tmp_path / f"g{ext}"), read_image(tmp_path / f"c{ext}")
    assert g.image.shape == (8, 25) and g.image.dtype == np.uint8
    assert c.image.shape == (8, 25, 3) and abs(int(c.image[0, 0, 0]) - 200) <= 3  # RGB: red first
    if ext != ".jpg":
        assert np.array_equal(g.image, grey)


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_sixteen_bit_images_scale_to_eight_bit(tmp_path, ext):
    img = np.full((4, 4), 65535, np.uint16)
    img[0, 0] = 0
    cv2.imwrite(str(tmp_path / f"a{ext}"), img)
    f = read_image(tmp_path / f"a{ext}")
    assert f.bit_depth == 16 and f.image.dtype == np.uint8 and f.image.max() == 255 and f.image.min() == 0
    twelve = tmp_path / "twelve"  # 12-bit data in 16-bit files: one scale for the folder, its largest value
    twelve.mkdir()
    cv2.imwrite(str(twelve / f"a{ext}"), (img // 16).astype(np.uint16))
    cv2.imwrite(str(twelve / f"b{ext}"), (img // 32).astype(np.uint16))
    files = read_folder(twelve)
    assert [int(f.image.max()) for f in files] == [255, 127]


def test_mixed_sizes_in_a_folder_name_the_files(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((10, 10), np.uint8))
    cv2.imwrite(str(tmp_path / "b.png"), np.zeros((12, 10), np.uint8))
    with pytest.raises(ImageError, match=r"different sizes.*'a.png'.*'b.png'"):
        read_folder(tmp_path)
    assert len(read_folder(tmp_path, same_size=False)) == 2


def test_broken_image_and_empty_folder_are_named(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ImageError, match="'bad.png' cannot be decoded"):
        read_image(tmp_path / "bad.png")
    (tmp_path / "sub").mkdir()
    with pytest.raises(ImageError, match="holds no images"):
        read_folder(tmp_path / "sub")


def test_wrong_layout_lists_what_was_found(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels.csv").write_text("x")
    with pytest.raises(LayoutError, match=r"not in MVTec layout.*found images/, labels.csv"):
        scan_mvtec(tmp_path)


def test_missing_and_orphan_masks_are_warnings_naming_files(tmp_path):
    for d in ("train/good", "test/good", "test/scratch", "ground_truth/scratch"):
        (tmp_path / d).mkdir(parents=True)
    img = np.zeros((8, 8), np.uint8)
    for name in ("train/good/0.png", "test/good/1.png", "test/scratch/2.png", "test/scratch/3.png"):
        cv2.imwrite(str(tmp_path / name), img)
    cv2.imwrite(str(tmp_path / "ground_truth/scratch/2_mask.png"), img)
    cv2.imwrite(str(tmp_path / "ground_truth/scratch/9_mask.png"), img)
    scan = scan_mvtec(tmp_path)
    assert [(e.split, e.label, e.defect_type) for e in scan.entries] == [
        ("train", "good", "good"),
        ("test", "good", "good"),
        ("test", "defective", "scratch"),
        ("test", "defective", "scratch"),
    ]
    assert scan.entries[2].mask_path is not None and scan.entries[3].mask_path is None
    text = " ".join(scan.warnings)
    assert "3.png" in text and "9_mask.png" in text
