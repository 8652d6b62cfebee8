"""Real-size datasets made at benchmark time from ../shared/data/magnetic_tile (never committed).

``make_real_size_set(out)`` writes an MVTec-layout folder of resized copies: ``n_train`` normal
training images and ``n_test`` test images (half normal, half defective with their masks) at
``size`` (H, W), by default 500 + 200 images of 1130 x 460, like the real line dataset in issue 18.
Sources are drawn without repetition (seeded) from the dataset's own train and test folders, so the
test set never holds a training image. ``grey_copies`` writes the same images as 1-channel 8-bit
and 16-bit PNGs next to an RGB copy, for the single-channel checks.

The data folder is ``$WORKBENCH_DATA`` when set, else ``../shared/data`` beside the checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFECTS = ("blowhole", "break", "crack", "fray", "uneven")


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


def make_real_size_set(
    out: Path,
    n_train: int = 500,
    n_test: int = 200,
    size: tuple[int, int] = (460, 1130),
    seed: int = 0,
    rgb: bool = True,
) -> dict[str, int]:
    """Write the set under ``out`` (train/good, test/good, test/<defect>, ground_truth/<defect>).

    Images are JPEG (quality 95), 3-channel when ``rgb`` (grey replicated) else 1-channel; masks
    8-bit PNG, resized with nearest neighbour. Returns the counts written.
    """
    src = magnetic_tile()
    if src is None:
        raise FileNotFoundError(f"magnetic_tile not found under {data_root()} (set WORKBENCH_DATA)")
    rng = np.random.default_rng(seed)
    h, w = size
    train = sorted((src / "train" / "good").glob("*.jpg"))
    good = sorted((src / "test" / "good").glob("*.jpg"))
    bad = []
    for d in DEFECTS:
        for f in sorted((src / "test" / d).glob("*.jpg")):
            mask = src / "ground_truth" / d / f"{f.stem}_mask.png"
            if mask.exists() and _read_grey(mask).any():
                bad.append((d, f, mask))
    n_good, n_bad = n_test - n_test // 2, n_test // 2
    if n_train > len(train) or n_good > len(good) or n_bad > len(bad):
        raise ValueError(
            f"magnetic_tile has {len(train)} train, {len(good)} test normal and {len(bad)} masked defect images; "
            f"asked for {n_train}, {n_good} and {n_bad}"
        )

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
