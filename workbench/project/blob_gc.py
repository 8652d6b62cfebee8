"""Which sidecar blobs may be deleted after a save: unreferenced ones that no live session still needs.

A session writes a blob before the save that refers to it, and another process may save the same project
in between. So each session lists the blobs it wrote (or found already there and relies on) in a small
claims file in the sidecar, ``.claims-<pid>-<random>``, before the blob appears; a save deletes an
unreferenced blob only when no claims file of a live process names it. Claims of dead processes (killed
writers) no longer count, so what they left behind is collected by the next save.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

from workbench.project import atomic

CLAIMS_MARK = ".claims-"
BLOB_SUFFIX = ".h5"
STALE_SECONDS = 24 * 3600


def pid_alive(pid: int) -> bool:
    if sys.platform == "win32":  # no cheap probe; the age of the file decides
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def owner_alive(entry: Path, mark: str) -> bool:
    """Whether the process named in a temp/claims file name (``<mark><pid>-...``) may still use it."""
    tail = entry.name.split(mark, 1)[1]
    try:
        pid = int(tail.split("-", 1)[0])
    except ValueError:
        return True  # not ours to judge
    if pid == os.getpid():
        return True
    if not pid_alive(pid):
        return False
    try:
        return time.time() - entry.stat().st_mtime <= STALE_SECONDS
    except OSError:
        return False


class Claims:
    """This session's claims file in one sidecar folder (made on the first claim)."""

    def __init__(self, sidecar: Path) -> None:
        self.sidecar = sidecar
        self.path = sidecar / f"{CLAIMS_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.names: set[str] = set()

    def add(self, name: str) -> None:
        if name in self.names:
            return
        self.sidecar.mkdir(exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(name + "\n")
        self.names.add(name)

    def clear(self) -> None:
        """After a save: everything claimed is now referenced by the saved file, or garbage."""
        self.names.clear()
        atomic.remove_quietly(self.path)


def live_claims(sidecar: Path, own: Claims | None) -> set[str]:
    """Blob names claimed by other live sessions; claims files of dead ones are removed."""
    names: set[str] = set()
    try:
        entries = [e for e in sidecar.iterdir() if e.name.startswith(CLAIMS_MARK)]
    except OSError:
        return names
    for entry in entries:
        if own is not None and entry == own.path:
            continue
        if not owner_alive(entry, CLAIMS_MARK):
            atomic.remove_quietly(entry)
            continue
        try:
            names.update(line.strip() for line in entry.read_text(encoding="utf-8").splitlines())
        except OSError:
            continue
    if own is not None:
        names |= own.names
    return names


def collect_garbage(sidecar: Path, referenced: set[str], own: Claims | None) -> list[str]:
    """Delete sidecar blobs that ``referenced`` (the file just saved) does not name and no live session
    claims, and temporary files of dead writers; the removed blob names. Call it holding the writer lock."""
    removed: list[str] = []
    try:
        entries = list(sidecar.iterdir())  # listed before the claims are read: a newer blob is claimed
    except OSError:
        return removed
    claimed = live_claims(sidecar, own)
    for entry in entries:
        name = entry.name
        if atomic.TEMP_MARK in name:
            if not owner_alive(entry, atomic.TEMP_MARK):
                atomic.remove_quietly(entry)
            continue
        if not name.endswith(BLOB_SUFFIX) or name.startswith("."):
            continue  # not ours: never delete a user's file
        stem = name[: -len(BLOB_SUFFIX)]
        if stem not in referenced and stem not in claimed:
            atomic.remove_quietly(entry)
            removed.append(stem)
    try:
        sidecar.rmdir()  # only succeeds when empty: an empty project keeps no folder
    except OSError:
        pass
    return removed
