"""MVTec-AD and MVTec LOCO / AutoVI layout folders: scan and validate, and write back (MVTec AD).

MVTec AD: ``train/good/*``, ``test/good/*``, ``test/<type>/*``,
``ground_truth/<type>/<stem>_mask.png``. ``train/good`` -> split train, label good;
``test/good`` -> test, good; ``test/<type>`` -> test, defective (with masks when the
ground-truth folder exists).

MVTec LOCO and AutoVI (seed 003): the same, plus ``validation/good/*`` (-> val, good), and one folder of
ground-truth images per defective image, ``ground_truth/<type>/<stem>/*.png``: each file is one defect
region whose pixels hold the ``pixel_value`` of its defect in ``defects_config.json`` (at the root),
which also gives the defect's saturation threshold (a fraction of the region, or a pixel count).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from workbench.core.hashing import file_sha256
from workbench.io.images import IMAGE_EXTENSIONS, encode_image, list_images


class LayoutError(ValueError):
    """A folder that is not in MVTec layout (the message says what was expected and found)."""


@dataclass(frozen=True)
class MvtecEntry:
    """One image of an MVTec folder: where it is, its split, label and defect type, and its mask."""

    path: Path
    split: str  # "train" or "test"
    label: str  # "good" or "defective"
    defect_type: str  # "good" or the test sub-folder name
    mask_path: Path | None
    region_paths: tuple[Path, ...] = ()  # LOCO / AutoVI: one ground-truth image per defect region

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def relpath(self) -> str:
        folder = "validation" if self.split == "val" else self.split
        return f"{folder}/{self.defect_type}/{self.path.name}"


@dataclass
class MvtecScan:
    """The entries of a scanned folder plus warnings (missing or orphan masks), files named."""

    root: Path
    entries: list[MvtecEntry]
    warnings: list[str] = field(default_factory=list)


def _listing(path: Path) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir())
    return ", ".join(names[:12]) + (" ..." if len(names) > 12 else "") if names else "nothing"


def scan_mvtec(root: str | os.PathLike) -> MvtecScan:
    """Validate an MVTec-layout folder and list its images; a LayoutError if the layout is wrong."""
    return scan_mvtec_images(root, loco=False)


def _loco_regions(gt: Path, p: Path) -> tuple[Path, ...] | None:
    folder = gt / p.stem
    if not folder.is_dir():
        return None
    return tuple(sorted(q for q in folder.iterdir() if q.suffix.lower() == ".png"))


def scan_mvtec_images(root: str | os.PathLike, loco: bool = False) -> MvtecScan:
    """The images of an MVTec AD (``loco`` False) or LOCO / AutoVI folder; LayoutError if wrong."""
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"dataset folder '{root}' does not exist")
    train_good = root / "train" / "good"
    if not train_good.is_dir():
        raise LayoutError(
            f"'{root}' is not in MVTec layout: expected train/good/, test/<type>/ and "
            f"ground_truth/<type>/; found {_listing(root)}"
        )
    entries = [MvtecEntry(p, "train", "good", "good", None) for p in list_images(train_good)]
    if not entries:
        raise LayoutError(f"'{train_good}' holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    if loco and (root / "validation" / "good").is_dir():
        entries += [
            MvtecEntry(p, "val", "good", "good", None) for p in list_images(root / "validation" / "good")
        ]
    warnings: list[str] = []
    gt_root = root / "ground_truth"
    test = root / "test"
    if test.is_dir():
        for sub in sorted(p for p in test.iterdir() if p.is_dir()):
            images = list_images(sub)
            if sub.name == "good":
                entries += [MvtecEntry(p, "test", "good", "good", None) for p in images]
                continue
            gt = gt_root / sub.name
            missing = []
            for p in images:
                if loco:
                    regions = _loco_regions(gt, p)
                    if not regions:
                        missing.append(p.name)
                    entries.append(MvtecEntry(p, "test", "defective", sub.name, None, regions or ()))
                    continue
                mask = gt / f"{p.stem}_mask.png"
                has = gt.is_dir() and mask.is_file()
                if gt.is_dir() and not has:
                    missing.append(p.name)
                entries.append(MvtecEntry(p, "test", "defective", sub.name, mask if has else None))
            if missing:
                warnings.append(
                    f"ground_truth/{sub.name} has no mask for {len(missing)} image(s): "
                    f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}"
                )
            if gt.is_dir():
                stems = {p.stem for p in images}
                if loco:
                    orphans = sorted(d.name for d in gt.iterdir() if d.is_dir() and d.name not in stems)
                else:
                    orphans = sorted(
                        m.name for m in gt.glob("*_mask.png") if m.name[: -len("_mask.png")] not in stems
                    )
                if orphans:
                    warnings.append(
                        f"ground_truth/{sub.name} has masks without an image: {', '.join(orphans[:10])}"
                    )
    if gt_root.is_dir():
        for sub in sorted(p for p in gt_root.iterdir() if p.is_dir()):
            if not (test / sub.name).is_dir():
                warnings.append(f"ground_truth/{sub.name} has no matching test/{sub.name} folder; ignored")
    return MvtecScan(root, entries, warnings)


@dataclass(frozen=True)
class DefectConfig:
    """One entry of a LOCO / AutoVI ``defects_config.json``."""

    name: str
    pixel_value: int
    saturation_threshold: float
    relative_saturation: bool

    def saturation(self, area: int) -> float:
        """The saturation area s_i (pixels) of a region of ``area`` pixels: a fraction of it, or a
        pixel count capped at it."""
        if self.relative_saturation:
            return self.saturation_threshold * area
        return min(self.saturation_threshold, float(area))

    def to_dict(self) -> dict:
        """The entry as ``defects_config.json`` writes it (the name under 'defect_name')."""
        fields = asdict(self)
        return {"defect_name": fields.pop("name"), **fields}


def read_defects_config(path: str | os.PathLike) -> dict[int, DefectConfig]:
    """{pixel value: DefectConfig} from a ``defects_config.json``; LayoutError naming the bad entry."""
    import json

    path = Path(path)
    if not path.is_file():
        raise LayoutError(f"'{path.parent}' has no defects_config.json (MVTec LOCO / AutoVI layout)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LayoutError(f"'{path}' is not readable JSON: {exc}") from None
    if not isinstance(doc, list) or not doc:
        raise LayoutError(f"'{path}': expected a list of defect entries, found {type(doc).__name__}")
    out: dict[int, DefectConfig] = {}
    for k, e in enumerate(doc):
        what = f"'{path.name}' entry {k}"
        try:
            name, value = str(e["defect_name"]), e["pixel_value"]
            sat, rel = e["saturation_threshold"], e["relative_saturation"]
        except (KeyError, TypeError):
            raise LayoutError(
                f"{what}: expected defect_name, pixel_value, saturation_threshold and relative_saturation"
            ) from None
        if not isinstance(value, int) or not 1 <= value <= 255:
            raise LayoutError(f"{what} ({name}): pixel_value must be 1-255, found {value!r}")
        if not isinstance(rel, bool) or not isinstance(sat, int | float) or isinstance(sat, bool):
            raise LayoutError(f"{what} ({name}): expected a number and true/false for the saturation")
        if rel and not 0 < sat <= 1:
            raise LayoutError(f"{what} ({name}): a relative saturation must be in (0, 1], found {sat}")
        if not rel and sat <= 0:
            raise LayoutError(f"{what} ({name}): an absolute saturation must be > 0 pixels, found {sat}")
        if value in out:
            raise LayoutError(f"{what} ({name}): pixel_value {value} is used twice")
        out[value] = DefectConfig(name, value, float(sat), rel)
    return out


def scan_loco(root: str | os.PathLike) -> tuple[MvtecScan, dict[int, DefectConfig]]:
    """Validate an MVTec LOCO / AutoVI folder: its images, region folders and defects_config.json."""
    root = Path(root)
    scan = scan_mvtec_images(root, loco=True)
    config = read_defects_config(root / "defects_config.json")
    return scan, config


def pixels_sha256(image: np.ndarray) -> str:
    """Hex SHA-256 of an array's shape, dtype and bytes: tells whether stored pixels changed."""
    h = hashlib.sha256(f"{image.shape}{image.dtype}".encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()


@dataclass
class ExportItem:
    """One image to write: pixels, place in the layout, and the original files if still valid.

    ``original`` / ``original_mask`` are copied byte for byte when they exist and their SHA-256
    equals ``original_sha256`` / ``mask_sha256`` and the pixels are unchanged; otherwise the
    pixels are encoded in the format of ``ext``.
    """

    image: np.ndarray
    split: str
    defect_type: str
    stem: str
    ext: str = ".png"
    mask: np.ndarray | None = None
    original: str | None = None
    original_sha256: str | None = None
    mask_original: str | None = None
    mask_sha256: str | None = None
    pixels_unchanged: bool = False
    mask_unchanged: bool = False


def _restorable(path: str | None, sha: str | None) -> bool:
    return bool(path and sha and os.path.isfile(path) and file_sha256(path) == sha)


def write_mvtec(out: str | os.PathLike, items: list[ExportItem], progress=None, cancel=None) -> dict:
    """Write items in MVTec layout into ``out`` (which must not exist or be empty), atomically.

    Everything is written to a temporary folder beside ``out`` and renamed at the end, so an error
    or cancel leaves nothing behind. Returns {'images', 'masks', 'copied', 'encoded'} counts.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LayoutError(f"export folder '{out}' already exists and is not empty")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out.parent))
    counts = {"images": 0, "masks": 0, "copied": 0, "encoded": 0}
    seen: set[str] = set()
    try:
        for n, it in enumerate(items):
            if cancel is not None and n % 8 == 0:
                cancel.raise_if_cancelled()
            if progress is not None and n % 8 == 0:
                progress(n / max(len(items), 1), it.stem)
            rel = f"{it.split}/{it.defect_type}/{it.stem}{it.ext}"
            if rel in seen:
                raise LayoutError(f"two samples would be exported as '{rel}'")
            seen.add(rel)
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if it.pixels_unchanged and _restorable(it.original, it.original_sha256):
                shutil.copyfile(it.original, dest)
                counts["copied"] += 1
            else:
                dest.write_bytes(encode_image(it.image, it.ext))
                counts["encoded"] += 1
            counts["images"] += 1
            if it.mask is not None and it.defect_type != "good":
                mdest = tmp / "ground_truth" / it.defect_type / f"{it.stem}_mask.png"
                mdest.parent.mkdir(parents=True, exist_ok=True)
                if it.mask_unchanged and _restorable(it.mask_original, it.mask_sha256):
                    shutil.copyfile(it.mask_original, mdest)
                else:
                    mdest.write_bytes(encode_image(it.mask, ".png"))
                counts["masks"] += 1
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return counts
