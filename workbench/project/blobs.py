"""Content-addressed HDF5 blob files: the bulky, never-changing data of a project (images, weights, maps).

A blob is written once, under a name derived from its content (``img-<hash>``), to a temporary file
that is fsynced and renamed into the sidecar folder ``<project>.awb.d/``. The project file refers to
blobs by name. A packed project carries the same blobs as groups under ``/blobs/<name>`` in itself.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import h5py
import numpy as np

from workbench.project import atomic
from workbench.project.errors import ProjectError
from workbench.project.h5 import h5file

BLOB_FORMAT = "anomaly-workbench-blob"
BLOB_SUFFIX = ".h5"
_STALE_TEMP_SECONDS = 24 * 3600


def sidecar_for(project_path: Path) -> Path:
    """Where the blobs of ``station.awb`` live: ``station.awb.d/`` beside it."""
    return project_path.with_name(project_path.name + ".d")


class Digest:
    """A running content hash over arrays, with their shapes and dtypes, for a blob's name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._h = hashlib.blake2b(kind.encode(), digest_size=16)

    def add(self, key: str, array: np.ndarray) -> None:
        self._h.update(f"|{key}|{array.dtype.str}|{array.shape}|".encode())
        self._h.update(np.ascontiguousarray(array).data)

    def name(self) -> str:
        return f"{self.kind}-{self._h.hexdigest()}"


def _pid_alive(pid: int) -> bool:
    if sys.platform == "win32":  # no cheap probe; fall back to the age of the file
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class BlobStore:
    """Reads and writes the blobs of one project: its sidecar folder, and ``/blobs`` when packed."""

    def __init__(self, project_path: Path, packed_names: Iterable[str] = ()) -> None:
        self.project_path = project_path
        self.sidecar = sidecar_for(project_path)
        self.packed_names = set(packed_names)  # blobs inside the project file itself
        self._files: dict[str, h5py.File] = {}
        self._main: h5py.File | None = None

    # --- reading -------------------------------------------------------------------------------
    def file_of(self, name: str) -> Path:
        return self.sidecar / (name + BLOB_SUFFIX)

    def exists(self, name: str) -> bool:
        return name in self.packed_names or self.file_of(name).is_file()

    def missing(self, names: Iterable[str]) -> list[str]:
        return sorted(n for n in set(names) if not self.exists(n))

    def group(self, name: str) -> h5py.Group:
        """The open root group of blob ``name``; ProjectError when it is gone or damaged."""
        if name in self._files:
            return self._files[name]
        path = self.file_of(name)
        if path.is_file():
            try:
                handle = h5file(path)
            except OSError as exc:
                raise ProjectError(
                    f"the data file {path.name} in {self.sidecar} is damaged ({exc}); restore it from a backup"
                ) from None
            self._files[name] = handle
            return handle
        if name in self.packed_names:
            if self._main is None:
                self._main = h5file(self.project_path)
            return self._main["blobs"][name]
        raise ProjectError(
            f"the data file {path.name} is missing from {self.sidecar}; "
            f"copy the whole folder {self.sidecar.name} next to {self.project_path.name}"
        )

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
        if self.exists(name):
            return name
        try:
            self.sidecar.mkdir(exist_ok=True)
        except OSError as exc:
            raise ProjectError(atomic.os_error_message(exc, f"the data folder {self.sidecar}")) from None
        target = self.file_of(name)
        with atomic.replacing(target, f"data file {target.name}") as temp, h5file(temp, "w") as f:
            f.attrs["format"] = BLOB_FORMAT
            f.attrs["kind"] = digest.kind
            fill(f)
        return name

    def copy_blob_to(self, name: str, dest: h5py.Group) -> None:
        """Copy blob ``name`` into group ``dest`` (raw chunks, no recompression)."""
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
        """Delete sidecar blobs nothing refers to and temporary files of dead writers; their names."""
        removed: list[str] = []
        try:
            entries = list(self.sidecar.iterdir())
        except OSError:
            return removed
        for entry in entries:
            name = entry.name
            if atomic.TEMP_MARK in name:
                if self._stale_temp(entry):
                    atomic.remove_quietly(entry)
                continue
            if not name.endswith(BLOB_SUFFIX):
                continue  # not ours: never delete a user's file
            stem = name[: -len(BLOB_SUFFIX)]
            if stem not in referenced:
                handle = self._files.pop(stem, None)
                if handle is not None:
                    handle.close()
                atomic.remove_quietly(entry)
                removed.append(stem)
        try:
            self.sidecar.rmdir()  # only succeeds when empty: an empty project keeps no folder
        except OSError:
            pass
        return removed

    @staticmethod
    def _stale_temp(entry: Path) -> bool:
        tail = entry.name.split(atomic.TEMP_MARK, 1)[1]
        pid_text = tail.split("-", 1)[0]
        try:
            pid = int(pid_text)
        except ValueError:
            return False
        if pid == os.getpid():
            return False  # ours, and not being written now (writes finish before a save)
        if not _pid_alive(pid):
            return True
        try:
            return time.time() - entry.stat().st_mtime > _STALE_TEMP_SECONDS
        except OSError:
            return False
