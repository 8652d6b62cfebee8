"""Results waiting for the MQTT broker, on disk and in order: an SQLite file per line run.

Inspection writes each result here (one small transaction, synced) and goes on; the publisher sends the
oldest first and deletes a result only when the broker acknowledged it (QoS 1), so a result is delivered
at least once even if the broker is away for minutes or the run is killed. A run that starts adopts the
results a dead run left for the same broker (its queue file is unlocked) and sends them first.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import sys
import threading
from pathlib import Path

import filelock

log = logging.getLogger(__name__)

SUFFIX = ".outbox"


def default_folder(host: str, port: int) -> Path:
    """Where queues of the broker ``host:port`` live: $WORKBENCH_MQTT_QUEUE, else the user's cache folder."""
    root = os.environ.get("WORKBENCH_MQTT_QUEUE")
    if root:
        base = Path(root)
    elif sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home())) / "workbench" / "mqtt-queue"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "workbench" / "mqtt-queue"
    return base / re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{host}_{port}")


class Outbox:
    """The queue of one run (``<folder>/<owner>.outbox``), locked while the run lives."""

    def __init__(self, folder: str | os.PathLike, owner: str) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OSError(f"MQTT queue folder {self.folder} cannot be made: {exc.strerror or exc}") from None
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", owner)
        self.path = self.folder / f"{safe}{SUFFIX}"
        self._lock = filelock.FileLock(f"{self.path}.lock", thread_local=False)
        self._lock.acquire(timeout=0)
        self._mutex = threading.Lock()  # inspection puts, the publisher reads and deletes
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a queued result survives a power cut
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT, payload TEXT)"
        )
        self.adopted = self._adopt()

    def put(self, topic: str, payload: str) -> int:
        """Queue one message; its sequence number (messages go out in this order)."""
        with self._mutex:
            cur = self._db.execute("INSERT INTO outbox (topic, payload) VALUES (?, ?)", (topic, payload))
        return int(cur.lastrowid)

    def next(self, after: int, limit: int) -> list[tuple[int, str, str]]:
        """Up to ``limit`` queued (seq, topic, payload) with seq > ``after``, oldest first."""
        with self._mutex:
            return self._db.execute(
                "SELECT seq, topic, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
            ).fetchall()

    def done(self, seqs: list[int]) -> None:
        """Forget messages the broker acknowledged."""
        if seqs:
            with self._mutex:
                self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])

    def count(self) -> int:
        with self._mutex:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        """Close the queue; an empty one is removed, a non-empty one waits for the next run."""
        left = self.count()
        with self._mutex:
            self._db.close()
        if left == 0:
            for extra in ("", "-wal", "-shm"):
                Path(f"{self.path}{extra}").unlink(missing_ok=True)
        self._lock.release()
        if left == 0:
            Path(f"{self.path}.lock").unlink(missing_ok=True)
            try:
                self.folder.rmdir()  # only when empty: no folder per broker left behind
            except OSError:
                pass

    def _adopt(self) -> int:
        """Move the messages of dead runs' queues (unlocked) in front of this run's; how many."""
        moved = 0
        for other in sorted(self.folder.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime):
            if other == self.path:
                continue
            lock = filelock.FileLock(f"{other}.lock", thread_local=False)
            try:
                lock.acquire(timeout=0)
            except filelock.Timeout:
                continue  # a live run sends its own
            try:
                src = sqlite3.connect(other, isolation_level=None)
                try:
                    rows = src.execute("SELECT topic, payload FROM outbox ORDER BY seq").fetchall()
                except sqlite3.DatabaseError as exc:
                    log.warning("MQTT queue %s cannot be read (%s); it is left as it is", other.name, exc)
                    src.close()
                    continue
                src.close()
                self._db.execute("BEGIN")
                self._db.executemany("INSERT INTO outbox (topic, payload) VALUES (?, ?)", rows)
                self._db.execute("COMMIT")
                for extra in ("", "-wal", "-shm"):
                    Path(f"{other}{extra}").unlink(missing_ok=True)
                moved += len(rows)
            finally:
                lock.release()
            Path(f"{other}.lock").unlink(missing_ok=True)
        if moved:
            log.warning("MQTT: %d result(s) left by an earlier run are sent first", moved)
        return moved
