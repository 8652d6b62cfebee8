"""Import and export jobs for MVTec-layout folders (images, labels, splits and GT masks), and import of
MVTec LOCO / AutoVI folders (one ground-truth image per defect region, defects_config.json).

Import reads and checks every image and mask first and adds them to the project in one batch at
the end, so a bad file leaves the project unchanged. File names, defect types and content hashes
go into each sample's meta, so export restores the original names, and copies the original files
byte for byte when they still exist and the stored pixels were not edited.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.core.image import crop_padded
from workbench.core.matching import FramePyramid, ViewMatcher, default_window
from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.core.regions import encode_region
from workbench.io.images import ImageError, read_folder, read_image, read_label_image, read_mask
from workbench.io.mvtec import (
    DefectConfig,
    ExportItem,
    file_sha256,
    pixels_sha256,
    scan_loco,
    scan_mvtec,
    write_mvtec,
)
from workbench.project.types import CropWindow, ViewInfo

log = logging.getLogger(__name__)


@dataclass
class ImportDatasetResult:
    """Ids added, counts per (split, label), and warnings (files named)."""

    source: str
    view: str
    sample_ids: list[int]
    counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)


@dataclass
class ExportDatasetResult:
    """Where the dataset went and how many files were written, copied or re-encoded."""

    out: str
    counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)


LAYOUTS = ("mvtec", "loco")


def read_regions(
    paths, config: dict[int, DefectConfig], shape: tuple[int, int], root: Path
) -> tuple[np.ndarray, list[dict]]:
    """(union mask uint8 0/255, region records) of one LOCO / AutoVI image's ground-truth files.

    Each file is one region: its non-zero pixels hold one pixel value, the defect's in ``config``.
    A record: file, defect, pixel_value, area, saturation (pixels) and the region (bbox + runs).
    """
    union = np.zeros(shape, bool)
    records = []
    for path in paths:
        rel = path.relative_to(root).as_posix()
        values = read_label_image(path)
        if values.shape != shape:
            raise ImageError(
                f"ground truth '{rel}' is {values.shape[1]}x{values.shape[0]} px but its image is "
                f"{shape[1]}x{shape[0]} px"
            )
        present = [int(v) for v in np.unique(values) if v > 0]
        if len(present) != 1:
            raise ImageError(
                f"ground truth '{rel}': expected one defect pixel value, found {present or 'none'}"
            )
        if present[0] not in config:
            raise ImageError(
                f"ground truth '{rel}': pixel value {present[0]} is not in defects_config.json "
                f"(values: {', '.join(map(str, sorted(config)))})"
            )
        d = config[present[0]]
        region = values > 0
        area = int(region.sum())
        union |= region
        records.append(
            {"file": rel, "defect": d.name, "pixel_value": d.pixel_value, "area": area,
             "saturation": d.saturation(area), **encode_region(region)}
        )  # fmt: skip
    return np.where(union, np.uint8(255), np.uint8(0)), records


def import_dataset(
    project,
    folder: str | os.PathLike,
    view: str | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
    layout: str = "mvtec",
) -> ImportDatasetResult:
    """Add an MVTec-layout folder as a source with one sample per image (view: the folder name).

    train/good -> train, good; test/good -> test, good; test/<type> -> test, defective with its
    ground-truth mask. Images of different sizes are allowed. A mask whose size differs from its
    image, or an unreadable file, is an error naming the files.

    ``layout="loco"`` reads MVTec LOCO / AutoVI folders: validation/good -> val, good, and each
    defective image's ground-truth folder, one file per region; the sample's mask is their union and
    its meta keeps every region (``gt_regions``, with its defect and saturation) for AUsPRO; the
    project's meta keeps the ``defects_config``.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout: expected one of {', '.join(LAYOUTS)}, found {layout!r}")
    folder = Path(folder)
    config: dict[int, DefectConfig] = {}
    if layout == "loco":
        scan, config = scan_loco(folder)
    else:
        scan = scan_mvtec(folder)
    view = view or folder.resolve().name
    images, masks, infos, problems = [], [], [], []
    n = len(scan.entries)
    for i, e in enumerate(scan.entries):
        if i % 8 == 0:
            cancel.raise_if_cancelled()
            progress(0.9 * i / n, e.relpath)
        try:
            f = read_image(e.path)
        except ImageError as exc:
            problems.append(str(exc))
            continue
        mask = None
        meta = {
            "file": e.relpath,
            "stem": e.stem,
            "ext": e.path.suffix,
            "defect_type": e.defect_type,
            "sha256": file_sha256(e.path),
            "pixels_sha256": pixels_sha256(f.image),
            "bit_depth": f.bit_depth,
        }
        if e.region_paths:
            try:
                mask, regions = read_regions(e.region_paths, config, f.image.shape[:2], folder)
            except ImageError as exc:
                problems.append(str(exc))
                continue
            meta.update(gt_regions=regions, defects=sorted({r["defect"] for r in regions}))
        elif e.mask_path is not None:
            try:
                mask = read_mask(e.mask_path)
            except ImageError as exc:
                problems.append(str(exc))
                continue
            if mask.shape != f.image.shape[:2]:
                problems.append(
                    f"mask 'ground_truth/{e.defect_type}/{e.mask_path.name}' is {mask.shape[1]}x{mask.shape[0]} px "
                    f"but its image '{e.relpath}' is {f.image.shape[1]}x{f.image.shape[0]} px"
                )
                continue
            meta.update(
                mask_file=f"ground_truth/{e.defect_type}/{e.mask_path.name}",
                mask_sha256=file_sha256(e.mask_path),
                mask_pixels_sha256=pixels_sha256(mask),
            )
        images.append(f.image)
        masks.append(mask)
        infos.append(
            {
                "pass_index": i,
                "view": view,
                "frame": 0,
                "x": 0,
                "y": 0,
                "split": e.split,
                "label": e.label,
                "meta": meta,
            }
        )
    if problems:
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise ValueError(
            f"dataset '{folder}' has bad files; nothing was imported: " + "; ".join(problems[:10]) + more
        )
    cancel.raise_if_cancelled()
    for w in scan.warnings:
        log.warning(w)
    sizes = {im.shape[:2] for im in images}
    first = images[0]
    existing = project.views.get(view)
    progress(0.92, "adding samples to the project")
    source = project.add_source(
        "mvtec",
        str(folder.resolve()),
        {"images": len(images), "view": view, "varying_sizes": len(sizes) > 1, "layout": layout},
    )
    if config:
        known = {d["defect_name"]: d for d in project.meta.get("defects_config", [])}
        known.update({d.name: d.to_dict() for d in config.values()})
        project.set_meta("defects_config", list(known.values()))
    if existing is None:
        project.set_view(
            ViewInfo(
                name=view,
                template=np.ascontiguousarray(first),
                crop=CropWindow(0, 0, first.shape[1], first.shape[0]),
                meta={"kind": "dataset", "varying_sizes": len(sizes) > 1},
            )
        )
    for info in infos:
        info["source"] = source
    ids = project.add_samples(images, infos, masks)
    counts: dict[str, int] = {}
    for info in infos:
        key = f"{info['split']}/{info['label']}"
        counts[key] = counts.get(key, 0) + 1
    progress(1.0, f"{len(ids)} images imported")
    return ImportDatasetResult(source, view, ids, counts, scan.warnings)


@dataclass
class ImportFolderResult:
    """Ids added, and the (image file, view) pairs where a view's template did not match."""

    source: str
    sample_ids: list[int]
    unmatched: list[tuple[str, str, float]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def import_folder(
    project,
    folder: str | os.PathLike,
    view: str | None = None,
    templates: dict[str, np.ndarray] | None = None,
    match_threshold: float = 0.6,
    margin: int = 16,
    same_size: bool = True,
    label: str = "unknown",
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> ImportFolderResult:
    """Add an image folder as a source: one sample per image (view: ``view`` or the folder name),
    or, with ``templates``, one crop per image and view around the best match (each image is a pass).

    Images of different sizes are an error naming them unless ``same_size`` is False.
    """
    folder = Path(folder)
    files = read_folder(
        folder, same_size=same_size, progress=lambda f, m: progress(0.5 * (f or 0), m), cancel=cancel
    )
    images, infos, unmatched = [], [], []
    views: list[ViewInfo] = []
    if templates:
        h0, w0 = files[0].image.shape[:2]
        matchers = []
        for name, tpl in templates.items():
            m = ViewMatcher(name, tpl, match_threshold)
            m.check_frame(w0, h0, f"the images of '{folder.name}'")
            x, y, w, h = default_window(*m.size, w0, h0, margin)
            matchers.append((m, (x, y, w, h)))
            views.append(ViewInfo(name, np.ascontiguousarray(tpl), CropWindow(x, y, w, h), match_threshold))
        for i, f in enumerate(files):
            cancel.raise_if_cancelled()
            progress(0.5 + 0.4 * i / len(files), os.path.basename(f.path))
            pyr = FramePyramid(f.image)
            for m, (x, y, w, h) in matchers:
                m.check_frame(f.image.shape[1], f.image.shape[0], f"image '{os.path.basename(f.path)}'")
                hit = m.match(pyr)
                if hit.score < m.threshold:
                    unmatched.append((os.path.basename(f.path), m.name, hit.score))
                    continue
                images.append(crop_padded(f.image, hit.x + x, hit.y + y, w, h))
                infos.append(
                    {
                        "pass_index": i,
                        "view": m.name,
                        "frame": i,
                        "x": hit.x + x,
                        "y": hit.y + y,
                        "label": label,
                        "match_score": hit.score,
                        "meta": {"file": os.path.basename(f.path), "rank": 0},
                    }
                )
    else:
        view = view or folder.resolve().name
        first = files[0].image
        views.append(
            ViewInfo(
                view,
                np.ascontiguousarray(first),
                CropWindow(0, 0, first.shape[1], first.shape[0]),
                meta={"kind": "folder"},
            )
        )
        for i, f in enumerate(files):
            images.append(f.image)
            infos.append(
                {
                    "pass_index": i,
                    "view": view,
                    "frame": i,
                    "x": 0,
                    "y": 0,
                    "label": label,
                    "meta": {
                        "file": os.path.basename(f.path),
                        "stem": Path(f.path).stem,
                        "ext": Path(f.path).suffix,
                        "sha256": file_sha256(f.path),
                        "pixels_sha256": pixels_sha256(f.image),
                        "bit_depth": f.bit_depth,
                    },
                }
            )
    warnings = [
        f"image '{name}': view '{v}' not found (best score {score:.2f})" for name, v, score in unmatched
    ]
    for w in warnings:
        log.warning(w)
    cancel.raise_if_cancelled()
    progress(0.92, "adding samples to the project")
    source = project.add_source("folder", str(folder.resolve()), {"images": len(files)})
    existing = project.views
    for v in views:
        if v.name not in existing or templates:
            project.set_view(v)
    for info in infos:
        info["source"] = source
    ids = project.add_samples(images, infos) if images else []
    progress(1.0, f"{len(ids)} samples from {len(files)} images")
    return ImportFolderResult(source, ids, unmatched, warnings)


def _export_name(s) -> tuple[str, str, str] | None:
    """(split, defect type, stem) of a sample in MVTec terms, or None if it has no place there."""
    meta = s.meta or {}
    if s.label == "unknown" or s.split == "unassigned":
        return None
    split = "train" if s.split == "train" else "test"
    if split == "train" and s.label != "good":
        return None
    defect = "good" if s.label == "good" else meta.get("defect_type", "defective")
    if defect == "good" and s.label == "defective":
        defect = "defective"
    stem = meta.get("stem") or f"{s.source}_p{s.pass_index:04d}_{s.view}_f{s.frame:06d}_{s.id}"
    return split, defect, stem


def export_dataset(
    project,
    out: str | os.PathLike,
    view: str | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> ExportDatasetResult:
    """Write the samples (of one view, or all) in MVTec layout into ``out`` (new or empty folder).

    val samples go to test/; samples with an unknown label or no split are skipped with a warning.
    """
    samples = project.samples(view=view) if view else project.samples()
    if view and not samples:
        raise ValueError(f"view '{view}' has no samples (views: {', '.join(project.views) or 'none'})")
    sources = {s.id: s for s in project.sources}
    items, skipped = [], []
    for n, s in enumerate(samples):
        if n % 8 == 0:
            cancel.raise_if_cancelled()
            progress(0.5 * n / max(len(samples), 1), f"sample {s.id}")
        place = _export_name(s)
        if place is None:
            skipped.append(s.id)
            continue
        split, defect, stem = place
        meta = s.meta or {}
        image = project.sample_image(s.id)
        mask = project.gt_mask(s.id) if s.has_mask else None
        root = sources[s.source].uri if s.source in sources else None
        items.append(
            ExportItem(
                image=image,
                split=split,
                defect_type=defect,
                stem=stem,
                ext=meta.get("ext", ".png"),
                mask=mask,
                original=os.path.join(root, meta["file"]) if root and "file" in meta else None,
                original_sha256=meta.get("sha256"),
                mask_original=os.path.join(root, meta["mask_file"]) if root and "mask_file" in meta else None,
                mask_sha256=meta.get("mask_sha256"),
                pixels_unchanged=meta.get("pixels_sha256") == pixels_sha256(image),
                mask_unchanged=mask is not None and meta.get("mask_pixels_sha256") == pixels_sha256(mask),
            )
        )
    warnings = []
    if skipped:
        warnings.append(
            f"{len(skipped)} sample(s) without a label or split were not exported (ids {', '.join(map(str, skipped[:10]))})"
        )
    if not items:
        raise ValueError("no sample has a label and split that MVTec layout can hold; nothing was exported")
    counts = write_mvtec(out, items, progress=lambda f, m: progress(0.5 + 0.5 * (f or 0), m), cancel=cancel)
    for w in warnings:
        log.warning(w)
    progress(1.0, f"{counts['images']} images exported")
    return ExportDatasetResult(os.fspath(out), counts, warnings)
