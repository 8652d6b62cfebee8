"""Schema versions of the project file: header checks and the migrations that bring old files up to date.

Every change to the layout bumps ``SCHEMA_VERSION`` and adds ``migrate_v{n}_to_v{n+1}(f)`` to
``MIGRATIONS``; it edits an in-memory copy of the (small) project file in place, so opening an old
file never changes it on disk. ``tests/fixtures/project/`` keeps a file of every version.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py

from workbench.project.errors import ProjectError
from workbench.project.h5 import h5file

FORMAT = "anomaly-workbench-project"
# 1: first release; 2: a checksum per record (``records``), identity ``uid`` and save counter ``generation``
SCHEMA_VERSION = 2


def migrate_v1_to_v2(f: h5py.File) -> None:
    """Schema 1 had no identity and no checksums: an unknown identity, generation 0, nothing to verify."""
    f.attrs["uid"] = ""
    f.attrs["generation"] = 0


# migrate_v{n}_to_v{n+1}: edits an h5py.File (writable, in memory) from schema n to n + 1
MIGRATIONS: dict[int, Callable[[h5py.File], None]] = {1: migrate_v1_to_v2}


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def open_checked(path: Path) -> tuple[h5py.File, int]:
    """Open a project file for reading, migrated to ``SCHEMA_VERSION``; (file, version found on disk).

    ProjectError for a missing file, a file that is not HDF5, a damaged or truncated file, an HDF5
    file of another program, or a file of a newer workbench. The file on disk is never modified.
    """
    if not path.exists():
        raise ProjectError(f"no project at {path}: the file does not exist")
    if path.is_dir():
        raise ProjectError(f"{path} is a folder; expected a project file (.awb)")
    try:
        is_hdf5 = h5py.is_hdf5(path)
    except OSError as exc:
        raise ProjectError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not is_hdf5:
        raise ProjectError(
            f"{path.name} is not a workbench project: expected an HDF5 project file, found other data"
        )
    try:
        f = h5file(path)
    except OSError as exc:
        raise ProjectError(
            f"{path.name} is damaged or truncated and cannot be opened ({exc}); restore it from a backup"
        ) from None
    try:
        fmt = f.attrs.get("format")
        if fmt is None and _looks_like_project(f):
            raise ProjectError(
                f"{path.name} is damaged: its format attribute cannot be read; restore it from a backup"
            )
        if fmt is None or _text(fmt) != FORMAT:
            found = "no 'format' attribute" if fmt is None else f"format '{_text(fmt)}'"
            raise ProjectError(f"{path.name} is an HDF5 file but not a workbench project ({found})")
        try:
            version = int(f.attrs["schema_version"])
        except (KeyError, TypeError, ValueError):
            raise ProjectError(
                f"{path.name} is damaged: its schema version is missing or unreadable"
            ) from None
        if version > SCHEMA_VERSION:
            raise ProjectError(
                f"{path.name} was made by a newer workbench (schema {version}); "
                f"this one reads up to {SCHEMA_VERSION}"
            )
        if version < 1:
            raise ProjectError(
                f"{path.name} has an unknown schema version {version}; expected 1 to {SCHEMA_VERSION}"
            )
        if version < 2 and "records" in f.attrs:
            raise ProjectError(f"{path.name} is damaged: it carries checksums but states schema {version}")
        if version < SCHEMA_VERSION:
            f = _migrated(f, version, path)
        return f, version
    except ProjectError:
        f.close()
        raise
    except (OSError, KeyError, RuntimeError) as exc:
        f.close()
        raise ProjectError(f"{path.name} is damaged and cannot be read ({exc})") from None


def _looks_like_project(f: h5py.File) -> bool:
    """A file whose header lost its attributes but that holds a project's groups."""
    try:
        return sum(k in f for k in ("views", "samples", "gt_masks", "runs", "results")) >= 3
    except (OSError, KeyError, RuntimeError):
        return False


def _migrated(f: h5py.File, version: int, path: Path) -> h5py.File:
    """An in-memory copy of ``f`` brought up to ``SCHEMA_VERSION`` (``f`` is closed)."""
    mem = h5py.File(f"{path.name}-migrated-{id(f)}", "w", driver="core", backing_store=False)
    for key, value in f.attrs.items():
        mem.attrs[key] = value
    for key in f:
        if key != "blobs":  # packed blobs are bulky and unchanged; they are read from the file itself
            f.copy(f[key], mem, name=key)
    f.close()
    for step in range(version, SCHEMA_VERSION):
        migrate = MIGRATIONS.get(step)
        if migrate is None:
            mem.close()
            raise ProjectError(
                f"{path.name}: no migration from schema {step} to {step + 1} (a workbench bug)"
            )
        migrate(mem)
        mem.attrs["schema_version"] = step + 1
    return mem
