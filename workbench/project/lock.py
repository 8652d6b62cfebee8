"""One writer at a time: an OS lock beside the project (``station.awb.lock``), held while a save writes, or
for a whole session by a command that changes the project (``Project.open(path, lock=True)``).

The lock is ``filelock.FileLock`` (flock on POSIX, LockFileEx on Windows): the OS releases it when its
process dies, so a killed writer never leaves a project locked. A second writer waits up to
``WORKBENCH_LOCK_WAIT`` seconds (10 by default), then gets a ProjectBusyError naming who holds the lock.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
from pathlib import Path

import filelock

from workbench.project.errors import ProjectError

LOCK_SUFFIX = ".lock"
DEFAULT_WAIT_S = 10.0


class ProjectBusyError(ProjectError):
    """Another process is writing the project; the message says which and what to do."""


class ProjectChangedError(ProjectError):
    """Another process saved the project after this session read it: saving would overwrite its changes."""


def lock_path_for(project_path: Path) -> Path:
    return project_path.with_name(project_path.name + LOCK_SUFFIX)


def default_wait() -> float:
    try:
        return max(0.0, float(os.environ.get("WORKBENCH_LOCK_WAIT", DEFAULT_WAIT_S)))
    except ValueError:
        return DEFAULT_WAIT_S


def _command() -> str:
    args = [os.path.basename(sys.argv[0] or "python"), *sys.argv[1:3]] if sys.argv else ["python"]
    return " ".join(args)[:80]


class WriterLock:
    """The writer lock of one project path; re-entrant within its holder."""

    def __init__(self, project_path: Path) -> None:
        self.project_path = project_path
        self.path = lock_path_for(project_path)
        self._lock = filelock.FileLock(self.path, thread_local=False)

    @property
    def held(self) -> bool:
        return self._lock.is_locked

    def acquire(self, wait: float | None = None, doing: str = "write") -> None:
        """Take the lock, waiting up to ``wait`` seconds; ProjectBusyError naming the holder when it stays taken."""
        wait = default_wait() if wait is None else wait
        try:
            self._lock.acquire(timeout=wait)
        except filelock.Timeout:
            raise ProjectBusyError(
                f"cannot {doing} {self.project_path.name}: {self._holder()} is changing it "
                f"(waited {wait:g} s); try again when it has finished"
            ) from None
        except OSError as exc:
            raise ProjectError(
                f"cannot {doing} {self.project_path.name}: its lock file {self.path.name} cannot be made "
                f"({exc.strerror or exc})"
            ) from None
        if self._lock.lock_counter == 1:
            self._write_holder()

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release()

    def __enter__(self) -> WriterLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _write_holder(self) -> None:
        # who holds the lock, for the message a waiting writer gets; the lock itself is the OS's
        info = {
            "pid": os.getpid(),
            "command": _command(),
            "since": _dt.datetime.now().isoformat("T", "seconds"),
        }
        try:
            with open(self.path, "r+", encoding="utf-8") as f:
                f.truncate(0)
                f.write(json.dumps(info))
        except OSError:
            pass  # Windows locks the file's bytes; the message then names no process

    def _holder(self) -> str:
        try:
            info = json.loads(self.path.read_text(encoding="utf-8"))
            return (
                f"another workbench process (pid {info['pid']}, '{info['command']}', since {info['since']})"
            )
        except (OSError, ValueError, KeyError, TypeError):
            return "another workbench process"
