"""A station's project: open, edit and save one ``.awb`` file (and its sidecar of bulky data) safely."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from workbench.project import atomic, jsonattr
from workbench.project.blobs import BlobStore, sidecar_for
from workbench.project.errors import ProjectError
from workbench.project.h5 import h5file
from workbench.project.mainfile import read_state, write_state
from workbench.project.records_api import RecordsMixin
from workbench.project.samples_api import SamplesMixin
from workbench.project.schema import SCHEMA_VERSION, open_checked
from workbench.project.state import MASK_MAIN, State


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


class Project(SamplesMixin, RecordsMixin):
    """An open project file; edits stay in memory (``dirty``) until :meth:`save`.

    Images, weights and maps are written to content-addressed blob files as soon as they are added
    (the project file does not refer to them until the next save), and are read back on demand.
    """

    def __init__(
        self, path: Path, state: State, blobs: BlobStore, schema_version: int, packed: bool = False
    ) -> None:
        self._path = path
        self._packed = packed
        self._state = state
        self._blobs = blobs
        self._schema_on_disk = schema_version
        self._dirty = False
        self._closed = False
        self._mask_cache: dict[int, np.ndarray] = {}  # edited GT masks read or set in this session
        self._pending: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}  # images not yet in a blob
        self._pending_bytes = 0

    # --- life cycle ----------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, overwrite: bool = False) -> Project:
        """Write a valid empty project at ``path`` now and return it open."""
        path = Path(path).absolute()
        if path.exists() and not overwrite:
            raise ProjectError(f"{path} already exists; choose another name or ask to overwrite it")
        if path.is_dir():
            raise ProjectError(f"{path} is a folder; expected a project file name such as station.awb")
        state = State(created=now_iso())
        project = cls(path, state, BlobStore(path), SCHEMA_VERSION)
        project._dirty = True
        project.save()
        return project

    @classmethod
    def open(cls, path: str | Path) -> Project:
        """Open an existing project, reading its metadata only; bulky data loads when asked for."""
        path = Path(path).absolute()
        f, version = open_checked(path)
        try:
            state = read_state(f)
            migrated = version != SCHEMA_VERSION
            packed = list(f["blobs"]) if "blobs" in f else []
            is_packed = "blobs" in f
            mask_cache: dict[int, np.ndarray] = {}
            if migrated:  # the migrated copy lives in memory only: take the edited masks from it now
                with h5file(path) as raw:
                    packed = list(raw["blobs"]) if "blobs" in raw else []
                    is_packed = "blobs" in raw
                for key, ds in f.get("gt_masks", {}).items():
                    mask_cache[int(key)] = ds[()]
        except ProjectError:
            raise
        except (KeyError, TypeError, ValueError, OSError) as exc:
            raise ProjectError(f"{path.name} is damaged and cannot be read ({exc!r})") from None
        finally:
            f.close()
        blobs = BlobStore(path, packed)
        missing = blobs.missing(state.referenced_blobs())
        if missing:
            raise ProjectError(
                f"{path.name} refers to {len(missing)} data file(s) missing from {blobs.sidecar} "
                f"(first: {missing[0]}.h5); copy the whole folder {blobs.sidecar.name} next to the project"
            )
        project = cls(path, state, blobs, version, packed=is_packed)
        project._mask_cache = mask_cache
        return project

    def save(self) -> None:
        """Write every change to the project file; a crash at any moment keeps the old or the new state."""
        self._check_open()
        self._write_project(self._path)

    def save_as(self, path: str | Path) -> None:
        """Save to a new project file (its sidecar beside it) and continue working there."""
        self._check_open()
        target = Path(path).absolute()
        if target == self._path:
            self.save()
            return
        old_path = self._path
        self._write_project(target)
        _collect_garbage_of_file(old_path)  # blobs added since the last save belong to the new file only

    def pack(self, out_path: str | Path) -> Path:
        """Write one self-contained file (blobs inside) of the project as it is now; its path."""
        self._check_open()
        out = Path(out_path).absolute()
        if out == self._path:
            raise ProjectError(f"cannot pack {out.name} onto itself; choose another output file")
        atomic.check_writable_folder(out.parent, f"the packed project {out.name}")
        self._flush_pending()
        with atomic.replacing(out, f"the packed project {out.name}") as temp:
            with self._old_masks() as masks, h5file(temp, "w") as f:
                write_state(f, self._state, masks)
                group = f.create_group("blobs")
                for name in sorted(self._state.referenced_blobs()):
                    self._blobs.copy_blob_to(name, group.create_group(name))
        return out

    def close(self) -> None:
        """Release file handles; unsaved changes are dropped (call :meth:`save` first)."""
        self._blobs.close()
        self._pending.clear()
        self._pending_bytes = 0
        self._closed = True

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Project({str(self._path)!r}, samples={len(self._state.samples)}, dirty={self._dirty})"

    # --- properties ----------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        return self._path

    @property
    def name(self) -> str:
        return self._path.stem

    @property
    def dirty(self) -> bool:
        return self._dirty

    @property
    def schema_version(self) -> int:
        """The schema of the file on disk (old files become current at their next save)."""
        return self._schema_on_disk

    @property
    def packed(self) -> bool:
        """True when the file on disk carries its bulky data inside (made by :meth:`pack`)."""
        return self._packed

    @property
    def meta(self) -> dict[str, Any]:
        """Free station metadata (a copy: change it with :meth:`set_meta`)."""
        return jsonattr.copy(self._state.meta, "the station metadata")

    def set_meta(self, key: str, value: Any) -> None:
        self._check_open()
        self._state.meta[str(key)] = jsonattr.copy(value, f"station metadata '{key}'")
        self._touch()

    def summary(self) -> dict[str, Any]:
        """Counts for `workbench info`: samples per view, split and label; runs, results, policies, sources."""
        s = self._state
        per_view: dict[str, dict[str, Any]] = {}
        for info in s.samples.values():
            v = per_view.setdefault(info.view, {"samples": 0, "split": {}, "label": {}, "with_mask": 0})
            v["samples"] += 1
            v["split"][info.split] = v["split"].get(info.split, 0) + 1
            v["label"][info.label] = v["label"].get(info.label, 0) + 1
            v["with_mask"] += int(info.has_mask)
        return {
            "name": self.name,
            "path": str(self._path),
            "schema_version": self._schema_on_disk,
            "packed": self.packed,
            "dirty": self._dirty,
            "created": s.created,
            "samples": len(s.samples),
            "views": sorted(s.views),
            "per_view": dict(sorted(per_view.items())),
            "sources": [{"id": x.id, "kind": x.kind, "uri": x.uri} for x in s.sources.values()],
            "runs": [{"id": r.id, "model": r.model, "view": r.view} for r in s.runs.values()],
            "results": [{"id": r.id, "run": r.run, "samples": len(r.sample_ids)} for r in s.results.values()],
            "policies": sorted(s.policies),
            "meta": self.meta,
        }

    # --- internals shared with the mixins ------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise ProjectError(f"project {self.name} is closed; open it again")

    def _touch(self) -> None:
        self._dirty = True

    def _main_mask(self, sid: int) -> np.ndarray:
        """An edited GT mask kept in the project file (read on first use)."""
        if sid not in self._mask_cache:
            try:
                with h5file(self._path) as f:
                    self._mask_cache[sid] = f["gt_masks"][str(sid)][()]
            except (OSError, KeyError) as exc:
                raise ProjectError(
                    f"{self._path.name}: the mask of sample {sid} cannot be read ({exc})"
                ) from None
        return self._mask_cache[sid]

    def _old_masks(self) -> _MaskSource:
        return _MaskSource(self)

    def _write_project(self, target: Path) -> None:
        atomic.check_writable_folder(target.parent, f"the project {target.name}")
        self._flush_pending()
        referenced = self._state.referenced_blobs()
        new_sidecar = sidecar_for(target)
        if target == self._path:  # a packed file being saved: its blobs move to the sidecar once
            self._blobs.export([n for n in referenced if not self._blobs.file_of(n).is_file()], new_sidecar)
        else:
            self._blobs.export(referenced, new_sidecar)
        # Windows cannot replace a file that is open: the blob store lets go of it just before the rename.
        with atomic.replacing(target, f"the project {target.name}", before_replace=self._blobs.close) as temp:
            with self._old_masks() as masks, h5file(temp, "w") as f:
                write_state(f, self._state, masks)
        # committed: from here on the new file is the project
        self._path = target
        self._blobs = BlobStore(target)
        self._blobs.collect_garbage(referenced)
        self._schema_on_disk = SCHEMA_VERSION
        self._packed = False
        self._dirty = False
        _remove_stale_main_temps(target)


class _MaskSource:
    """The edited GT masks to write: from memory when touched this session, else copied from disk."""

    def __init__(self, project: Project) -> None:
        self._project = project
        self._file: h5py.File | None = None

    def __enter__(self) -> dict[int, np.ndarray | h5py.Dataset]:
        p = self._project
        masks: dict[int, np.ndarray | h5py.Dataset] = {}
        for sid, ref in p._state.refs.items():
            if ref.mask != MASK_MAIN:
                continue
            if sid in p._mask_cache:
                masks[sid] = p._mask_cache[sid]
                continue
            if self._file is None:
                self._file = h5file(p._path)
            masks[sid] = self._file["gt_masks"][str(sid)]
        return masks

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()


def _collect_garbage_of_file(path: Path) -> None:
    """Drop blobs in ``path``'s sidecar that its saved file does not refer to (best effort)."""
    try:
        f, _ = open_checked(path)
        try:
            referenced = read_state(f).referenced_blobs()
        finally:
            f.close()
    except ProjectError:
        return
    store = BlobStore(path)
    store.collect_garbage(referenced)
    store.close()


def _remove_stale_main_temps(target: Path) -> None:
    """Temporary project files left by a writer that was killed mid-save."""
    try:
        candidates = list(target.parent.glob(target.name + atomic.TEMP_MARK + "*"))
    except OSError:
        return
    for temp in candidates:
        if BlobStore._stale_temp(temp):
            atomic.remove_quietly(temp)
