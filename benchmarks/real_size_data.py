"""Real-size datasets made at benchmark time from ../shared/data/magnetic_tile (never committed).

``make_real_size_set(out)`` writes an MVTec-layout folder of ``n_train`` normal training images and
``n_test`` test images (half normal, half defective with their masks) at ``size`` (H, W), by default
500 + 200 images of 1130 x 460, like the real line dataset in issue 18, in one of two layouts:

* ``resized``: each image is one magnetic_tile image resized to ``size`` (tiles 103-632 px wide and
  222-403 high: stretched 2-5x horizontally at 1130 x 460). Sources are drawn without repetition.
* ``tiled``: each image is a mosaic of magnetic_tile images resized to height H with their aspect
  kept, laid side by side from a random offset and cropped to W, as a line camera sees a row of
  parts at its native pixel scale. A normal image holds normal tiles only; a defective one exactly
  one defective tile (wholly inside, cropped around its mask when wider than W) with its mask at its
  place, the rest normal. Normal tiles come from a seeded shuffle of their split, each used once
  before any is used again (500 images need about 1,200 of train/good's 666).

Either way training images come from train/good and test images from test/, so no training source is
in the test set. ``tiled`` also writes ``layout.json``: every image's tiles (source, x0, x1). Seeded.
``grey_copies`` writes the same images as 1-channel 8-bit and 16-bit PNGs next to an RGB copy, for
the single-channel checks.

The data folder is ``$WORKBENCH_DATA`` when set, else ``../shared/data`` beside the checkout.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFECTS = ("blowhole", "break", "crack", "fray", "uneven")
LAYOUTS = ("resized", "tiled")


def data_root() -> Path:
    return Path(os.environ.get("WORKBENCH_DATA") or ROOT.parent / "shared" / "data")


def magnetic_tile() -> Path | None:
    """The magnetic_tile folder, or None when the shared data is not there."""
    path = data_root() / "magnetic_tile"
    return path if (path / "train" / "good").is_dir() else None


def _read_grey(path: Path) -> np.ndarray:
    img = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise ValueError(f"cannot decode {path}")
    return img


def _write(path: Path, image: np.ndarray, ext: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(ext, image, [cv2.IMWRITE_JPEG_QUALITY, 95] if ext == ".jpg" else [])
    if not ok:
        raise ValueError(f"cannot encode {path}")
    buf.tofile(str(path.with_suffix(ext)))


def _sources(src: Path) -> tuple[list[Path], list[Path], list[tuple[str, Path, Path]]]:
    """magnetic_tile's train/good, test/good and (defect, image, mask) of test defects with a non-empty mask."""
    train = sorted((src / "train" / "good").glob("*.jpg"))
    good = sorted((src / "test" / "good").glob("*.jpg"))
    bad = []
    for d in DEFECTS:
        for f in sorted((src / "test" / d).glob("*.jpg")):
            mask = src / "ground_truth" / d / f"{f.stem}_mask.png"
            if mask.exists() and _read_grey(mask).any():
                bad.append((d, f, mask))
    return train, good, bad


def make_real_size_set(
    out: Path,
    n_train: int = 500,
    n_test: int = 200,
    size: tuple[int, int] = (460, 1130),
    seed: int = 0,
    rgb: bool = True,
    layout: str = "resized",
) -> dict[str, int]:
    """Write the set under ``out`` (train/good, test/good, test/<defect>, ground_truth/<defect>).

    Images are JPEG (quality 95), 3-channel when ``rgb`` (grey replicated) else 1-channel; masks
    8-bit PNG (0/255), resized with nearest neighbour. ``layout`` is 'resized' or 'tiled' (see the
    module). Returns the counts written.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout: expected one of {', '.join(LAYOUTS)}, found {layout!r}")
    src = magnetic_tile()
    if src is None:
        raise FileNotFoundError(f"magnetic_tile not found under {data_root()} (set WORKBENCH_DATA)")
    rng = np.random.default_rng(seed)
    train, good, bad = _sources(src)
    n_good, n_bad = n_test - n_test // 2, n_test // 2
    if layout == "tiled":
        if n_bad > len(bad) or not train or (n_test and not good):
            raise ValueError(
                f"magnetic_tile has {len(bad)} masked defect images and {len(train)} + {len(good)} normal "
                f"ones; asked for {n_bad} defective test images"
            )
        return _tiled(out, rng, size, rgb, train, good, bad, n_train, n_good, n_bad)
    if n_train > len(train) or n_good > len(good) or n_bad > len(bad):
        raise ValueError(
            f"magnetic_tile has {len(train)} train, {len(good)} test normal and {len(bad)} masked defect images; "
            f"asked for {n_train}, {n_good} and {n_bad}"
        )
    h, w = size

    def resized(img: np.ndarray, nearest: bool = False) -> np.ndarray:
        interp = cv2.INTER_NEAREST if nearest else cv2.INTER_CUBIC
        out_img = cv2.resize(img, (w, h), interpolation=interp)
        return out_img if not rgb or nearest else cv2.cvtColor(out_img, cv2.COLOR_GRAY2BGR)

    for f in (train[i] for i in sorted(rng.choice(len(train), n_train, replace=False))):
        _write(out / "train" / "good" / f.stem, resized(_read_grey(f)), ".jpg")
    for f in (good[i] for i in sorted(rng.choice(len(good), n_good, replace=False))):
        _write(out / "test" / "good" / f.stem, resized(_read_grey(f)), ".jpg")
    for d, f, m in (bad[i] for i in sorted(rng.choice(len(bad), n_bad, replace=False))):
        _write(out / "test" / d / f.stem, resized(_read_grey(f)), ".jpg")
        mask = (resized(_read_grey(m), nearest=True) >= 128).astype(np.uint8) * 255
        _write(out / "ground_truth" / d / f"{f.stem}_mask", mask, ".png")
    return {"train": n_train, "test_good": n_good, "test_defective": n_bad}


def _at_height(img: np.ndarray, h: int, nearest: bool = False) -> np.ndarray:
    """(h, w') uint8: ``img`` resized to height ``h`` with its aspect kept."""
    w = max(1, round(img.shape[1] * h / img.shape[0]))
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_CUBIC)


class _Pool:
    """Normal tiles of one split at height h: a seeded shuffle, each used once before any is used again."""

    def __init__(self, files: list[Path], rng: np.random.Generator, h: int):
        self.files, self.rng, self.h, self.order = files, rng, h, []
        self.cache: dict[Path, np.ndarray] = {}

    def next(self) -> tuple[Path, np.ndarray]:
        if not self.order:
            self.order = list(self.rng.permutation(len(self.files)))
        f = self.files[self.order.pop()]
        if f not in self.cache:
            self.cache[f] = _at_height(_read_grey(f), self.h)
        return f, self.cache[f]


def _fill(pool: _Pool, width: int, leftward: bool) -> tuple[list[np.ndarray], list[Path], list[int]]:
    """Normal tiles covering ``width`` px: their pieces (cropped at the far end), sources and widths."""
    pieces, files, widths, left = [], [], [], width
    while left > 0:
        f, tile = pool.next()
        piece = tile[:, tile.shape[1] - min(left, tile.shape[1]) :] if leftward else tile[:, :left]
        pieces.append(piece)
        files.append(f)
        widths.append(piece.shape[1])
        left -= piece.shape[1]
    if leftward:
        pieces, files, widths = pieces[::-1], files[::-1], widths[::-1]
    return pieces, files, widths


def _tiled(out, rng, size, rgb, train, good, bad, n_train, n_good, n_bad) -> dict[str, int]:
    h, w = size
    root = magnetic_tile()
    layout: dict[str, list[dict]] = {}

    def record(rel: str, files: list[Path], widths: list[int], defective: int | None = None) -> None:
        x, tiles = 0, []
        for k, (f, tw) in enumerate(zip(files, widths)):
            tiles.append(
                {"source": str(f.relative_to(root)), "x0": x, "x1": x + tw, "defective": k == defective}
            )
            x += tw
        layout[rel] = tiles

    def save(rel: str, image: np.ndarray) -> None:
        _write(out / rel, cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if rgb else image, ".jpg")

    def normal_image(pool: _Pool, rel: str) -> None:
        # a random start inside the first tile, as a camera's frame falls anywhere on the row
        f, first = pool.next()
        start = int(rng.integers(0, first.shape[1]))
        piece = first[:, start : start + w]
        pieces, files, widths = _fill(pool, w - piece.shape[1], leftward=False)
        save(rel, np.hstack([piece, *pieces]))
        record(rel, [f, *files], [piece.shape[1], *widths])

    train_pool, test_pool = _Pool(train, rng, h), _Pool(good, rng, h)
    for i in range(n_train):
        normal_image(train_pool, f"train/good/tiled_{i:04d}")
    for i in range(n_good):
        normal_image(test_pool, f"test/good/tiled_{i:04d}")
    for i in sorted(rng.choice(len(bad), n_bad, replace=False)):
        d, f, m = bad[i]
        tile, mask = _at_height(_read_grey(f), h), _at_height(_read_grey(m), h, nearest=True) >= 128
        if tile.shape[1] > w:  # crop around the defect: the window centred on the mask's columns
            cols = np.flatnonzero(mask.any(axis=0))
            x0 = int(np.clip((cols[0] + cols[-1] + 1) // 2 - w // 2, 0, tile.shape[1] - w))
            tile, mask = tile[:, x0 : x0 + w], mask[:, x0 : x0 + w]
        x0 = int(rng.integers(0, w - tile.shape[1] + 1))
        lp, lf, lw = _fill(test_pool, x0, leftward=True)
        rp, rf, rw = _fill(test_pool, w - x0 - tile.shape[1], leftward=False)
        full = np.zeros((h, w), np.uint8)
        full[:, x0 : x0 + tile.shape[1]] = mask.astype(np.uint8) * 255
        rel = f"test/{d}/{f.stem}"
        save(rel, np.hstack([*lp, tile, *rp]))
        _write(out / "ground_truth" / d / f"{f.stem}_mask", full, ".png")
        record(rel, [*lf, f, *rf], [*lw, tile.shape[1], *rw], defective=len(lf))
    (out / "layout.json").write_text(json.dumps(layout, indent=0))
    return {"train": n_train, "test_good": n_good, "test_defective": n_bad}


def grey_copies(src: Path, out: Path) -> dict[str, Path]:
    """Copies of an MVTec folder as 'rgb' (3-channel 8-bit PNG), 'grey8' and 'grey16' (1-channel PNG).

    The 16-bit copy holds value * 257, so it scales back to the same 8-bit value exactly.
    """
    copies = {name: out / name for name in ("rgb", "grey8", "grey16")}
    for f in sorted(src.rglob("*")):
        if not f.is_file() or f.suffix.lower() not in (".jpg", ".png"):
            continue
        rel = f.relative_to(src)
        grey = _read_grey(f)
        is_mask = rel.parts[0] == "ground_truth"
        for name, root in copies.items():
            if is_mask:
                img = grey
            elif name == "rgb":
                img = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
            elif name == "grey16":
                img = grey.astype(np.uint16) * 257
            else:
                img = grey
            _write(root / rel.with_suffix(""), img, ".png")
    return copies
