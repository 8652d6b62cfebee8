"""Station bundles on disk: ONNX graphs, templates, ROI and zone PNGs, parity report and a JSON manifest with
sha256 checksums of every file; written to a temporary folder and renamed into place, read back verified.

Layout of a bundle folder::

    manifest.json          format, software versions, station, pass rule, fusion, views (each with the
                           threshold policy of its run), the sha256 of every other file
    manifest.sha256        the sha256 of manifest.json itself (``sha256sum -c`` reads it)
    parity.json            onnxruntime vs torch on the test split (see workbench.export.parity)
    models/<view>.onnx     (1, h, w, 3) uint8 RGB working image -> score (1,), map (1, H, W)
    templates/<view>.png   the view's template (RGB)
    views/<view>_roi.png   the dilated ROI at crop size (0/255); views/<view>_zones.png zone labels

No pickle anywhere: the manifest is JSON, images are PNG, graphs are ONNX. Every path in the manifest is
a plain relative name inside the bundle folder; loading refuses a path that leaves it (``..``, absolute,
drive letters), a file the manifest does not list, a listed file that is missing or changed, and a
manifest edited after export.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from workbench.core.hashing import file_sha256 as sha256
from workbench.metrics.policy import ThresholdPolicy

log = logging.getLogger(__name__)

FORMAT = "anomaly-workbench-bundle"
# 4: graphs return the map at the working size, the runtime brings it back to the crop;
# 3: manifest.sha256 protects the manifest, paths confined to the bundle; 2: a threshold policy per view
# (1: one for the whole bundle)
FORMAT_VERSION = 4
MANIFEST = "manifest.json"
MANIFEST_HASH = "manifest.sha256"
PARITY = "parity.json"
_VIEW_FILES = ("graph", "template", "roi", "zones")


class BundleError(ValueError):
    """A folder that is not a usable bundle: missing or altered files, unknown format (named in the message)."""


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


def plain_path(rel: Any, what: str) -> str:
    """``rel`` when it is a plain relative path inside a bundle ('models/front.onnx'), else BundleError."""
    if not isinstance(rel, str) or not rel:
        raise BundleError(f"{what}: expected a file name inside the bundle; found {rel!r}")
    parts = rel.split("/")
    if (
        "\\" in rel
        or ":" in rel
        or rel.startswith("/")
        or any(part in ("", ".", "..") for part in parts)
        or any(ord(c) < 32 for c in rel)
    ):
        raise BundleError(
            f"{what}: {rel!r} is not a plain file name inside the bundle folder (no '..', no absolute "
            "paths); the manifest was edited or made by something else"
        )
    return rel


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def finish_manifest(folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Add the sha256 of every file under ``folder`` to the manifest, write ``manifest.json`` and its own
    sha256 in ``manifest.sha256``."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in (MANIFEST, MANIFEST_HASH))
    manifest = dict(manifest)
    manifest["files"] = {p.relative_to(folder).as_posix(): sha256(p) for p in files}
    for rel in manifest["files"]:
        plain_path(rel, "bundle file")
    _write_synced(folder / MANIFEST, json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    _write_synced(folder / MANIFEST_HASH, f"{sha256(folder / MANIFEST)}  {MANIFEST}\n")
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
        """Open the bundle at ``path``: its manifest checked against ``manifest.sha256``, every path confined
        to the folder and, with ``verify``, every file's sha256 checked and no unlisted file accepted."""
        path = Path(path)
        manifest = read_manifest(path)
        mf = path / MANIFEST
        files = manifest["files"]
        if verify:
            check_files(path, files)
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
                v.roi,
            )
        return out


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the bundle folder ``path``, checked: its own sha256, format, views and file list."""
    mf = path / MANIFEST
    if not path.is_dir():
        raise BundleError(f"bundle folder not found: {path}")
    if not mf.is_file():
        raise BundleError(f"{path} is not a bundle: {MANIFEST} is missing (make one with 'workbench export')")
    raw = mf.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    hash_file = path / MANIFEST_HASH
    stated = None
    if hash_file.is_file():
        stated = hash_file.read_text(encoding="utf-8", errors="replace").split(" ", 1)[0].strip().lower()
        if stated != digest:
            raise BundleError(
                f"bundle {path}: {MANIFEST} was edited after export (its sha256 differs from {MANIFEST_HASH}); "
                "export the bundle again"
            )
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{mf} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise BundleError(f"{mf}: expected format {FORMAT!r}; found {found!r}")
    try:
        version = int(manifest.get("format_version", -1))
    except (TypeError, ValueError):
        raise BundleError(
            f"{mf}: format_version must be a number; found {manifest.get('format_version')!r}"
        ) from None
    if version > FORMAT_VERSION:
        raise BundleError(
            f"{mf}: bundle format version {version} is newer than this workbench reads ({FORMAT_VERSION}); "
            "update the workbench"
        )
    if stated is None:
        if version >= 3:
            raise BundleError(
                f"bundle {path}: {MANIFEST_HASH} is missing, so edits to {MANIFEST} cannot be told; export "
                "the bundle again"
            )
        log.warning(
            "bundle %s was made by an older workbench (format %d): its manifest carries no checksum, so "
            "edits to it cannot be detected; export it again", path, version
        )  # fmt: skip
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise BundleError(f"{mf}: 'files' must map each bundle file to its sha256")
    for rel in files:
        plain_path(rel, f"{mf}: file list")
    views = manifest.get("views")
    if not isinstance(views, list) or not views:
        raise BundleError(f"{mf}: the bundle has no views ('views' must list at least one); export it again")
    for i, e in enumerate(views):
        if not isinstance(e, dict) or not isinstance(e.get("name"), str):
            raise BundleError(f"{mf}: view {i} is not a view entry with a name")
        for key in ("graph", "template", "roi", "crop", "match_threshold", "working_size"):
            if key not in e:
                raise BundleError(f"{mf}: view {e['name']!r} has no {key!r}")
        for key in _VIEW_FILES:
            if key == "zones" and not e.get("zones"):
                continue
            rel = plain_path(e[key], f"{mf}: view {e['name']!r} {key}")
            if rel not in files:
                raise BundleError(
                    f"{mf}: view {e['name']!r} {key} {rel!r} is not among the bundle's listed files"
                )
    return manifest


def check_files(path: Path, files: dict[str, str]) -> None:
    """Every listed file present, inside ``path`` and unchanged; no file that the manifest does not list."""
    root = path.resolve()
    for rel, digest in files.items():
        p = path / rel
        if not p.is_file():
            raise BundleError(f"bundle {path}: file {rel} listed in the manifest is missing")
        if not p.resolve().is_relative_to(root):
            raise BundleError(f"bundle {path}: file {rel} leads outside the bundle folder")
        if sha256(p) != digest:
            raise BundleError(f"bundle {path}: file {rel} was altered (sha256 differs from the manifest)")
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path).as_posix()
        if p.is_dir() and not p.is_symlink():
            continue
        if rel in (MANIFEST, MANIFEST_HASH) or rel in files:
            continue
        raise BundleError(
            f"bundle {path}: file {rel} is not listed in the manifest (added after export?); remove it or "
            "export the bundle again"
        )
