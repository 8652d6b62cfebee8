"""Crash-safe file replacement: write beside the target, fsync, rename, fsync the folder."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from workbench.project.errors import ProjectError

TEMP_MARK = ".tmp-"


def temp_path_for(target: Path) -> Path:
    """A fresh temporary name in the target's folder, so that the final rename is atomic."""
    return target.with_name(f"{target.name}{TEMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}")


def fsync_file(path: Path) -> None:
    """Push a closed file's bytes to the disk before it is renamed into place."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace(temp: Path, target: Path) -> None:
    """Rename a finished, fsynced temporary file over ``target`` and make the rename durable."""
    os.replace(temp, target)
    fsync_dir(target.parent)


@contextmanager
def replacing(target: Path, what: str, before_replace: Callable[[], None] | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; when the block ends, fsync it and rename it over ``target``.

    On any error the temporary file is removed and ``target`` is untouched; an OSError becomes one
    ProjectError naming ``what``. ``before_replace`` runs just before the rename (e.g. closing handles).
    """
    temp = temp_path_for(target)
    try:
        yield temp
        fsync_file(temp)
        if before_replace is not None:
            before_replace()
        replace(temp, target)
    except OSError as exc:
        remove_quietly(temp)
        raise ProjectError(os_error_message(exc, what)) from None
    except BaseException:
        remove_quietly(temp)
        raise


def remove_quietly(path: Path) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def check_writable_folder(folder: Path, what: str) -> None:
    """ProjectError when ``folder`` cannot take new files (missing, not a folder, or read-only)."""
    if not folder.exists():
        raise ProjectError(f"cannot write {what}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise ProjectError(f"cannot write {what}: {folder} is a file, expected a folder")
    if not os.access(folder, os.W_OK):
        raise ProjectError(f"cannot write {what}: the folder {folder} is read-only")


def os_error_message(exc: OSError, what: str) -> str:
    """One line for an OSError met while writing ``what``."""
    reason = exc.strerror or str(exc)
    where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    return f"cannot write {what}: {reason}{where}"


def new_id() -> str:
    return uuid.uuid4().hex
