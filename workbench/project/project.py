"""A station's project: open, edit and save one ``.awb`` file (and its sidecar of bulky data) safely."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from workbench.project import atomic, jsonattr
from workbench.project import integrity as ia
from workbench.project.blob_gc import collect_garbage, owner_alive
from workbench.project.blobs import BlobStore, sidecar_for
from workbench.project.errors import ProjectError
from workbench.project.h5 import h5file
from workbench.project.integrity import DamagedError
from workbench.project.lock import ProjectChangedError, WriterLock
from workbench.project.mainfile import mask_digest, read_state, write_state
from workbench.project.records_api import RecordsMixin
from workbench.project.samples_api import SamplesMixin
from workbench.project.schema import SCHEMA_VERSION, open_checked
from workbench.project.state import MASK_MAIN, State


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


class Project(SamplesMixin, RecordsMixin):
    """An open project file; edits stay in memory (``dirty``) until :meth:`save`.

    Images, weights and maps are written to content-addressed blob files as soon as they are added
    (the project file does not refer to them until the next save), and are read back on demand, each
    checked against its content hash. A save takes the writer lock and refuses (ProjectChangedError) when
    another process saved the file since this session read it; ``open(path, lock=True)`` holds the lock
    for the whole session instead, so that a second writer waits and then gets a clear error.
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
        self._lock = WriterLock(path)
        self._session_lock = False  # True: the lock is held from open to close
        self._disk_id: DiskId | None = None  # what this session last read or wrote at its path
        self._disk_stat: tuple | None = None

    # --- life cycle ----------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, overwrite: bool = False) -> Project:
        """Write a valid empty project at ``path`` now and return it open.

        An existing file is replaced only with ``overwrite`` and only when it is a workbench project."""
        path = Path(path).absolute()
        if path.is_dir():
            raise ProjectError(f"{path} is a folder; expected a project file name such as station.awb")
        atomic.check_writable_folder(path.parent, f"the project {path.name}")
        lock = WriterLock(path)
        lock.acquire(doing="create")
        try:
            if path.exists() or path.is_symlink():
                if not overwrite:
                    raise ProjectError(f"{path} already exists; choose another name or ask to overwrite it")
                refuse_unless_project(path, "replace")
            state = State(created=now_iso(), uid=atomic.new_id())
            project = cls(path, state, BlobStore(path), SCHEMA_VERSION)
            project._dirty = True
            project._write_project(path)
        finally:
            lock.release()
        return project

    @classmethod
    def open(cls, path: str | Path, lock: bool = False, wait: float | None = None) -> Project:
        """Open an existing project, reading its metadata only; bulky data loads when asked for.

        With ``lock`` the writer lock is taken first (waiting up to ``wait`` seconds, default
        ``WORKBENCH_LOCK_WAIT`` or 10) and held until :meth:`close`: for commands that change the project.
        Every record is checked against its checksum; a damaged file raises ProjectError naming what.
        """
        path = Path(path).absolute()
        writer = WriterLock(path)
        if lock:
            if not path.is_file():
                open_checked(path)  # the clear error for a missing file or a folder
            writer.acquire(wait, doing="change")
        try:
            project = cls._read(path)
        except BaseException:
            writer.release()
            raise
        project._lock, project._session_lock = writer, lock
        return project

    @classmethod
    def _read(cls, path: Path) -> Project:
        stat = _stat_key(path)
        f, version = open_checked(path)
        try:
            state = read_state(f, path.name, verify=version >= 2)
            disk_id = _identity(f)
            migrated = version != SCHEMA_VERSION
            packed = ia.keys(ia.group(f, "blobs", path.name), path.name) if "blobs" in f else []
            is_packed = "blobs" in f
            mask_cache: dict[int, np.ndarray] = {}
            if migrated:  # the migrated copy lives in memory only: take the edited masks from it now
                with h5file(path) as raw:
                    packed = list(raw["blobs"]) if "blobs" in raw else []
                    is_packed = "blobs" in raw
                    disk_id = _identity(raw)
                for key, ds in ia.group(f, "gt_masks", path.name).items():
                    mask_cache[int(key)] = ds[()]
        except ProjectError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever a damaged file makes HDF5 raise becomes one line
            raise ProjectError(
                f"{path.name} is damaged and cannot be read ({type(exc).__name__}: {exc}); restore it from a backup"
            ) from None
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
        project._disk_id, project._disk_stat = disk_id, stat
        return project

    def save(self) -> None:
        """Write every change to the project file; a crash at any moment keeps the old or the new state.

        ProjectChangedError (nothing written) when another process saved the file after this session read
        it; ProjectBusyError when another process holds the writer lock for longer than the wait."""
        self._check_open()
        atomic.check_writable_folder(self._path.parent, f"the project {self._path.name}")
        with self._writer_lock(self._path, "save"):
            self._check_unchanged()
            self._write_project(self._path)

    def save_as(self, path: str | Path) -> None:
        """Save to a new project file (its sidecar beside it) and continue working there.

        An existing file at ``path`` is replaced only when it is a workbench project."""
        self._check_open()
        target = Path(path).absolute()
        if target == self._path:
            self.save()
            return
        atomic.check_writable_folder(target.parent, f"the project {target.name}")
        old_path, old_blobs = self._path, self._blobs
        new_lock = WriterLock(target)
        new_lock.acquire(doing="save")
        try:
            if target.exists() or target.is_symlink():
                refuse_unless_project(target, "replace")
            self._write_project(target)
        except BaseException:
            new_lock.release()
            raise
        if self._session_lock:  # the session now writes the new file: it holds that lock instead
            self._lock.release()
            self._lock = new_lock
        else:
            new_lock.release()
            self._lock = WriterLock(target)
        # blobs added since the last save belong to the new file only
        if old_blobs.claims.names:
            old_blobs.claims.clear()
            _collect_garbage_of_file(old_path)

    def pack(self, out_path: str | Path, overwrite: bool = False) -> Path:
        """Write one self-contained file (blobs inside) of the project as it is now; its path.

        An existing file is replaced only with ``overwrite`` and only when it is a workbench project."""
        self._check_open()
        out = Path(out_path).absolute()
        if out == self._path:
            raise ProjectError(f"cannot pack {out.name} onto itself; choose another output file")
        if out.is_dir():
            raise ProjectError(f"{out} is a folder; expected a file name for the packed project")
        atomic.check_writable_folder(out.parent, f"the packed project {out.name}")
        self._flush_pending()
        with self._writer_lock(out, "write"):
            replaced = out.exists() or out.is_symlink()
            if replaced:
                if not overwrite:
                    raise ProjectError(f"{out} already exists; choose another name or ask to overwrite it")
                refuse_unless_project(out, "replace")
            with atomic.replacing(out, f"the packed project {out.name}") as temp:
                with self._old_masks() as masks, h5file(temp, "w") as f:
                    write_state(f, self._state, masks)
                    group = f.create_group("blobs")
                    for name in sorted(self._state.referenced_blobs()):
                        self._blobs.copy_blob_to(name, group.create_group(name))
            if replaced:  # the replaced project's sidecar holds nothing the packed file needs
                collect_garbage(sidecar_for(out), set(), None)
        return out

    def changed_on_disk(self) -> bool:
        """True when another process saved (or replaced) the file since this session read or wrote it.

        Cheap when nothing changed (one stat); for a window that polls, e.g. every few seconds."""
        if self._closed or _stat_key(self._path) == self._disk_stat:
            return False
        try:
            return _disk_identity(self._path) != self._disk_id
        except ProjectError:
            return True

    def close(self) -> None:
        """Release file handles and the writer lock; unsaved changes are dropped (call :meth:`save` first)."""
        self._blobs.close()
        self._blobs.claims.clear()  # what this session wrote and never saved is garbage from now on
        self._pending.clear()
        self._pending_bytes = 0
        self._closed = True
        if self._session_lock:
            self._lock.release()
            self._session_lock = False

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
        """An edited GT mask kept in the project file (read on first use, checked against its checksum)."""
        if sid not in self._mask_cache:
            try:
                with h5file(self._path) as f:
                    mask = f["gt_masks"][str(sid)][()]
            except (OSError, KeyError, ValueError, RuntimeError) as exc:
                raise DamagedError(
                    f"{self._path.name} is damaged: the edited mask of sample {sid} cannot be read ({exc}); "
                    "restore the file from a backup"
                ) from None
            expected = self._state.mask_digests.get(sid)
            if expected and mask_digest(mask) != expected:
                raise DamagedError(
                    f"{self._path.name} is damaged: the edited mask of sample {sid} does not match its "
                    "checksum (changed bits); restore the file from a backup"
                )
            self._mask_cache[sid] = mask
        return self._mask_cache[sid]

    def _old_masks(self) -> _MaskSource:
        return _MaskSource(self)

    @contextmanager
    def _writer_lock(self, target: Path, doing: str) -> Iterator[None]:
        if target == self._path and self._session_lock:
            yield
            return
        lock = self._lock if target == self._path else WriterLock(target)
        lock.acquire(doing=doing)
        try:
            yield
        finally:
            lock.release()

    def _check_unchanged(self) -> None:
        """Under the writer lock: refuse to write over a state this session has not seen."""
        try:
            now = _disk_identity(self._path)
        except ProjectError as exc:
            raise ProjectChangedError(
                f"{self._path.name} was replaced by a file that cannot be read now ({exc}); nothing was "
                "written: save your changes under another name"
            ) from None
        if now is not None and now != self._disk_id:
            raise ProjectChangedError(
                f"{self._path.name} was saved by another process after this session read it; nothing was "
                "written. Reopen it to see those changes (unsaved changes here would be lost) or save "
                "these under another name"
            )

    def _write_project(self, target: Path) -> None:
        atomic.check_writable_folder(target.parent, f"the project {target.name}")
        self._flush_pending()
        referenced = self._state.referenced_blobs()
        new_sidecar = sidecar_for(target)
        if target == self._path:  # a packed file being saved: its blobs move to the sidecar once
            self._blobs.export([n for n in referenced if not self._blobs.file_of(n).is_file()], new_sidecar)
        else:
            self._blobs.export(referenced, new_sidecar)
        gone = BlobStore(target).missing(referenced)
        if gone:  # never commit a file that refers to data that is not there
            raise ProjectError(
                f"cannot save {target.name}: {len(gone)} of its data files vanished from {new_sidecar} "
                f"(first: {gone[0]}.h5); nothing was written"
            )
        state = self._state
        state.generation += 1
        try:
            # Windows cannot replace a file that is open: the blob store lets go of it just before the rename.
            with atomic.replacing(
                target, f"the project {target.name}", before_replace=self._blobs.close
            ) as temp:
                with self._old_masks() as masks, h5file(temp, "w") as f:
                    digests = write_state(f, state, masks)
                    disk_id = _identity(f)
        except BaseException:
            state.generation -= 1
            raise
        # committed: from here on the new file is the project
        state.mask_digests = digests
        old = self._blobs
        if target == self._path:
            old.claims.clear()
        self._path = target
        self._blobs = BlobStore(target)
        self._blobs.collect_garbage(referenced)
        self._schema_on_disk = SCHEMA_VERSION
        self._packed = False
        self._dirty = False
        self._disk_id, self._disk_stat = disk_id, _stat_key(target)
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
            try:
                if self._file is None:
                    self._file = h5file(p._path)
                masks[sid] = self._file["gt_masks"][str(sid)]
            except (KeyError, OSError, RuntimeError, ValueError) as exc:
                self.__exit__()
                raise DamagedError(
                    f"{p._path.name} is damaged: the edited mask of sample {sid} cannot be read ({exc}); "
                    "nothing was written; restore the file from a backup"
                ) from None
        return masks

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


DiskId = tuple[str, int, str]


def _identity(f: h5py.File) -> DiskId:
    """(uid, generation, records digest) of an open project file; schema 1 files have none: ("", 0, "")."""
    a = f.attrs
    return (
        ia.text(a["uid"]) if "uid" in a else "",
        int(a["generation"]) if "generation" in a else 0,
        ia.text(a["records_digest"]) if "records_digest" in a else "",
    )


def _disk_identity(path: Path) -> DiskId | None:
    """The identity of the file at ``path`` now; None when there is none."""
    if not path.exists():
        return None
    try:
        with h5file(path) as f:
            return _identity(f)
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise ProjectError(f"{path.name} cannot be read ({exc})") from None


def _stat_key(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def refuse_unless_project(path: Path, doing: str) -> None:
    """ProjectError unless ``path`` is a workbench project file: never replace a file of something else."""
    if path.is_dir():
        raise ProjectError(f"{path} is a folder; it is not replaced")
    try:
        f, _ = open_checked(path)
        f.close()
        return
    except ProjectError as exc:
        if "newer workbench" in str(exc) or "damaged" in str(exc):
            return  # a project all the same: the user asked to replace it
        raise ProjectError(
            f"{path.name} exists and is not a workbench project; will not {doing} it (choose another name)"
        ) from None


def _collect_garbage_of_file(path: Path) -> None:
    """Drop blobs in ``path``'s sidecar that its saved file does not refer to and no session claims
    (best effort: skipped when another process is writing it or it cannot be read)."""
    lock = WriterLock(path)
    try:
        lock.acquire(0, doing="clean")
    except ProjectError:
        return
    try:
        f, version = open_checked(path)
        try:
            referenced = read_state(f, path.name, verify=version >= 2).referenced_blobs()
        finally:
            f.close()
        collect_garbage(sidecar_for(path), referenced, None)
    except Exception:  # noqa: BLE001 - cleaning is a courtesy; an unreadable file keeps all its blobs
        return
    finally:
        lock.release()


def _remove_stale_main_temps(target: Path) -> None:
    """Temporary project files left by a writer that was killed mid-save."""
    try:
        candidates = list(target.parent.glob(target.name + atomic.TEMP_MARK + "*"))
    except OSError:
        return
    for temp in candidates:
        if not owner_alive(temp, atomic.TEMP_MARK):
            atomic.remove_quietly(temp)
