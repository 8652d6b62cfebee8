"""Station bundles on disk: ONNX graphs, templates, ROI and zone PNGs, parity report and a JSON manifest with
sha256 checksums of every file; written to a temporary folder and renamed into place, read back verified.

Layout of a bundle folder::

    manifest.json          format, software versions, station, pass rule, fusion, views (each with the
                           threshold policy of its run), checksums
    parity.json            onnxruntime vs torch on the test split (see workbench.export.parity)
    models/<view>.onnx     (1, h, w, 3) uint8 RGB working image -> score (1,), map (1, H, W)
    templates/<view>.png   the view's template (RGB)
    views/<view>_roi.png   the dilated ROI at crop size (0/255); views/<view>_zones.png zone labels

No pickle anywhere: the manifest is JSON, images are PNG, graphs are ONNX.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from workbench.metrics.policy import ThresholdPolicy

FORMAT = "anomaly-workbench-bundle"
FORMAT_VERSION = 2  # 2: a threshold policy per view (1: one for the whole bundle)
MANIFEST = "manifest.json"
PARITY = "parity.json"


class BundleError(ValueError):
    """A folder that is not a usable bundle: missing or altered files, unknown format (named in the message)."""


def sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def slug(name: str, taken: set[str]) -> str:
    """A file-name-safe, unique form of a view name (letters, digits, '-', '_')."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "view"
    out, k = base, 2
    while out.lower() in taken:
        out, k = f"{base}_{k}", k + 1
    taken.add(out.lower())
    return out


def write_png(path: Path, image: np.ndarray) -> None:
    """Write an (H, W) or (H, W, 3) RGB uint8 image as PNG (OpenCV wants BGR)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = image[:, :, ::-1] if image.ndim == 3 else image
    if not cv2.imwrite(str(path), np.ascontiguousarray(img)):
        raise OSError(f"cannot write {path}")


def read_png(path: Path, color: bool) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR if color else cv2.IMREAD_UNCHANGED)
    if img is None:
        raise BundleError(f"bundle file {path} cannot be read as an image")
    return img[:, :, ::-1].copy() if color else img


def temp_dir_for(out: Path) -> Path:
    """A fresh temporary folder beside ``out`` (same file system, so the final rename is atomic)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    return tmp


def finish_manifest(folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Add the sha256 of every file under ``folder`` (but the manifest) and write ``manifest.json``."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)
    manifest = dict(manifest)
    manifest["files"] = {p.relative_to(folder).as_posix(): sha256(p) for p in files}
    text = json.dumps(manifest, indent=2, sort_keys=False)
    with open(folder / MANIFEST, "w", encoding="utf-8") as f:
        f.write(text + "\n")
        f.flush()
        os.fsync(f.fileno())
    return manifest


def check_target(out: Path) -> None:
    """Refuse an ``out`` that exists and is neither an empty folder nor a bundle (it would be replaced)."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).is_file())):
        raise BundleError(f"{out} exists and is not a bundle folder; choose another --out or remove it")


def move_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished ``tmp`` bundle to ``out``; an old bundle there is replaced, anything else refused."""
    old = None
    check_target(out)
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
    try:
        tmp.rename(out)
    except OSError:
        if old is not None:
            old.rename(out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@dataclass
class BundleView:
    """One view of a loaded bundle: its manifest entry, images and the threshold policy of its run."""

    name: str
    entry: dict[str, Any]
    template: np.ndarray  # (h, w, 3) uint8 RGB
    roi: np.ndarray  # (H, W) uint8 0/255 at crop size, dilated
    zones: np.ndarray | None  # (H, W) uint8 labels, 0 = none
    policy: ThresholdPolicy
    zone_names: list[str] = field(default_factory=list)

    @property
    def crop(self) -> tuple[int, int, int, int]:
        c = self.entry["crop"]
        return int(c["x"]), int(c["y"]), int(c["w"]), int(c["h"])

    @property
    def match_threshold(self) -> float:
        return float(self.entry["match_threshold"])


class Bundle:
    """A bundle folder read back: manifest, views (templates, ROI, zones), policy; checksums verified."""

    def __init__(self, path: Path, manifest: dict[str, Any], views: list[BundleView]) -> None:
        self.path, self.manifest, self.views = path, manifest, views

    @classmethod
    def load(cls, path: str | os.PathLike, verify: bool = True) -> Bundle:
        """Open the bundle at ``path``; with ``verify`` every file's sha256 is checked against the manifest."""
        path = Path(path)
        mf = path / MANIFEST
        if not mf.is_file():
            raise BundleError(
                f"{path} is not a bundle: {MANIFEST} is missing (make one with 'workbench export')"
            )
        try:
            manifest = json.loads(mf.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BundleError(f"{mf} is not valid JSON: {exc}") from exc
        if manifest.get("format") != FORMAT:
            raise BundleError(f"{mf}: expected format {FORMAT!r}; found {manifest.get('format')!r}")
        if int(manifest.get("format_version", -1)) > FORMAT_VERSION:
            raise BundleError(
                f"{mf}: bundle format version {manifest.get('format_version')} is newer than this workbench "
                f"reads ({FORMAT_VERSION}); update the workbench"
            )
        if verify:
            for rel, digest in manifest.get("files", {}).items():
                p = path / rel
                if not p.is_file():
                    raise BundleError(f"bundle {path}: file {rel} listed in the manifest is missing")
                if sha256(p) != digest:
                    raise BundleError(
                        f"bundle {path}: file {rel} was altered (sha256 differs from the manifest)"
                    )
        views = []
        for e in manifest["views"]:
            zones = read_png(path / e["zones"], color=False) if e.get("zones") else None
            stored = e.get("policy", manifest.get("policy"))  # version 1: one policy for all views
            try:
                policy = ThresholdPolicy.from_dict(stored)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise BundleError(f"{mf}: view {e['name']!r} has no usable threshold policy: {exc}") from exc
            views.append(
                BundleView(
                    e["name"],
                    e,
                    read_png(path / e["template"], color=True),
                    read_png(path / e["roi"], color=False),
                    zones,
                    policy,
                    list(e.get("zone_names", [])),
                )
            )
        return cls(path, manifest, views)

    @property
    def parity(self) -> dict[str, Any] | None:
        p = self.path / PARITY
        return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else None

    def view(self, name: str) -> BundleView:
        for v in self.views:
            if v.name == name:
                return v
        raise KeyError(
            f"bundle {self.path} has no view {name!r}; views: {', '.join(v.name for v in self.views)}"
        )

    def open_runtimes(
        self, device: str = "auto", require_gpu: bool = False, threads: int | None = None
    ) -> dict:
        """{view name: ViewRuntime} with one onnxruntime session per view (providers logged)."""
        from workbench.line.runtime import ViewRuntime, open_session

        out = {}
        for v in self.views:
            e = v.entry
            session = open_session(self.path / e["graph"], device, require_gpu, threads)
            out[v.name] = ViewRuntime(
                v.name,
                session,
                (int(e["crop"]["h"]), int(e["crop"]["w"])),
                tuple(int(x) for x in e["working_size"]),
                e.get("resize", "stretch"),
                e.get("input", {}).get("name", "image"),
            )
        return out
