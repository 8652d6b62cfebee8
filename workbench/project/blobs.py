"""Content-addressed HDF5 blob files: the bulky, never-changing data of a project (images, weights, maps).

A blob is written once, under a name derived from its content (``img-<hash>``), to a temporary file
that is fsynced and renamed into the sidecar folder ``<project>.awb.d/``. The project file refers to
blobs by name. A packed project carries the same blobs as groups under ``/blobs/<name>`` in itself.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import h5py
import numpy as np

from workbench.project import atomic
from workbench.project.blob_check import BlobChecker, Digest
from workbench.project.blob_gc import BLOB_SUFFIX, Claims, collect_garbage
from workbench.project.errors import ProjectError
from workbench.project.h5 import h5file
from workbench.project.integrity import DamagedError, check_blob_name

BLOB_FORMAT = "anomaly-workbench-blob"
__all__ = ["BLOB_FORMAT", "BLOB_SUFFIX", "BlobStore", "Digest", "sidecar_for"]


def sidecar_for(project_path: Path) -> Path:
    """Where the blobs of ``station.awb`` live: ``station.awb.d/`` beside it."""
    return project_path.with_name(project_path.name + ".d")


class BlobStore:
    """Reads and writes the blobs of one project: its sidecar folder, and ``/blobs`` when packed."""

    def __init__(self, project_path: Path, packed_names: Iterable[str] = ()) -> None:
        self.project_path = project_path
        self.sidecar = sidecar_for(project_path)
        self.packed_names = {check_blob_name(n, project_path.name) for n in packed_names}  # inside the file
        self._files: dict[str, h5py.File] = {}
        self._main: h5py.File | None = None
        self.checker = BlobChecker()
        self.claims = Claims(self.sidecar)

    # --- reading -------------------------------------------------------------------------------
    def file_of(self, name: str) -> Path:
        return self.sidecar / (check_blob_name(name, "the project") + BLOB_SUFFIX)

    def exists(self, name: str) -> bool:
        return name in self.packed_names or self.file_of(name).is_file()

    def missing(self, names: Iterable[str]) -> list[str]:
        return sorted(n for n in set(names) if not self.exists(n))

    def group(self, name: str, what: str = "the project") -> h5py.Group:
        """The open root group of blob ``name``; ProjectError naming ``what`` when it is gone or damaged."""
        if name in self._files:
            return self._files[name]
        path = self.file_of(name)
        if path.is_file():
            try:
                handle = h5file(path)
            except OSError as exc:
                raise DamagedError(
                    f"{what} is damaged: the data file {path.name} in {self.sidecar} cannot be opened ({exc}); "
                    "restore it from a backup"
                ) from None
            self._files[name] = handle
            return handle
        if name in self.packed_names:
            try:
                if self._main is None:
                    self._main = h5file(self.project_path)
                return self._main["blobs"][name]
            except (OSError, KeyError) as exc:
                raise DamagedError(
                    f"{what} is damaged: the data {name} packed in {self.project_path.name} cannot be read "
                    f"({exc})"
                ) from None
        raise ProjectError(
            f"{what}: the data file {path.name} is missing from {self.sidecar}; "
            f"copy the whole folder {self.sidecar.name} next to {self.project_path.name}"
        )

    def read(self, name: str, key: str, get: Callable[[h5py.Group], np.ndarray], what: str) -> np.ndarray:
        """``get(group)`` of blob ``name``, checked against the blob's content hash under leaf ``key``."""
        g = self.group(name, what)
        try:
            array = get(g)
        except (KeyError, OSError, ValueError, IndexError, TypeError, RuntimeError) as exc:
            raise DamagedError(
                f"{what} cannot be read: data file {name}.h5 is damaged ({exc}); restore the project's data "
                "folder from a backup"
            ) from None
        return self.checker.check(name, g, key, array, what)

    def leaf_keys(self, name: str, what: str) -> list[str] | None:
        """The keys a blob lists in its (checked) table of contents, in order; None for a schema 1 blob."""
        return self.checker.leaf_keys(name, self.group(name, what), what)

    def check_all(self, name: str, what: str) -> None:
        """Read every array of blob ``name`` and check it (DamagedError naming ``what``)."""
        g = self.group(name, what)
        try:
            self.checker.check_all(name, g, what)
        except (KeyError, OSError, ValueError, IndexError, TypeError, RuntimeError) as exc:
            raise DamagedError(
                f"{what} cannot be read: data file {name}.h5 is damaged ({exc}); restore the project's data "
                "folder from a backup"
            ) from None

    def close(self) -> None:
        """Release every open handle (needed before files are renamed or removed on Windows)."""
        for handle in self._files.values():
            handle.close()
        self._files.clear()
        if self._main is not None:
            self._main.close()
            self._main = None

    # --- writing -------------------------------------------------------------------------------
    def write(self, digest: Digest, fill: Callable[[h5py.Group], None]) -> str:
        """Store a blob (``fill`` writes its datasets) unless one with the same content exists."""
        name = digest.name()
        try:
            self.sidecar.mkdir(exist_ok=True)
            self.claims.add(name)  # before the blob appears: a concurrent save must not collect it
        except OSError as exc:
            raise ProjectError(atomic.os_error_message(exc, f"the data folder {self.sidecar}")) from None
        if self.exists(name):
            return name
        target = self.file_of(name)
        with atomic.replacing(target, f"data file {target.name}") as temp, h5file(temp, "w") as f:
            f.attrs["format"] = BLOB_FORMAT
            f.attrs["kind"] = digest.kind
            f.attrs["leaves"] = digest.leaves_text()
            fill(f)
        return name

    def copy_blob_to(self, name: str, dest: h5py.Group) -> None:
        """Copy blob ``name`` into group ``dest`` (raw chunks, no recompression), checked first."""
        self.check_all(name, f"data file {name}")
        src = self.group(name)
        for key, value in src.attrs.items():
            dest.attrs[key] = value
        for key in src:
            src.copy(src[key], dest, name=key)

    def export(self, names: Iterable[str], sidecar: Path) -> None:
        """Make the blobs ``names`` present in another sidecar: hard link where possible, else copy."""
        names = [n for n in sorted(set(names)) if not (sidecar / (n + BLOB_SUFFIX)).is_file()]
        if not names:
            return
        try:
            sidecar.mkdir(exist_ok=True)
            for name in names:
                target = sidecar / (name + BLOB_SUFFIX)
                temp = atomic.temp_path_for(target)
                source = self.file_of(name)
                try:
                    if source.is_file():
                        try:
                            os.link(source, temp)  # blobs never change, so sharing the bytes is safe
                        except OSError:
                            shutil.copyfile(source, temp)
                    else:
                        with h5file(temp, "w") as f:
                            self.copy_blob_to(name, f)
                    atomic.fsync_file(temp)
                    os.replace(temp, target)
                except BaseException:
                    atomic.remove_quietly(temp)
                    raise
            atomic.fsync_dir(sidecar)
        except OSError as exc:
            raise ProjectError(atomic.os_error_message(exc, f"the data folder {sidecar}")) from None

    # --- cleaning ------------------------------------------------------------------------------
    def collect_garbage(self, referenced: set[str]) -> list[str]:
        """Delete sidecar blobs that neither ``referenced`` nor a live session needs; their names.

        Call right after a save under the writer lock: this session's own claims are then settled."""
        self.claims.clear()
        for stem in list(self._files):
            if stem not in referenced:
                self._files.pop(stem).close()
        return collect_garbage(self.sidecar, referenced, None)
