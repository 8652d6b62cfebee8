"""The open station, shared by every pane: one project, its metadata snapshot, the selection, and signals.

Panes never touch the project file themselves: they read the :class:`Snapshot` (plain records, safe in
the GUI thread) and ask :meth:`StationModel.call` for anything that reads images, which runs on the
model's single I/O thread so project access is serialised and the window never waits on the disk.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from workbench.gui.workers import Workers

if TYPE_CHECKING:  # importing workbench.project loads h5py: at start-up that would cost ~0.2 s
    from workbench.project.types import ResultInfo, RunInfo, SampleInfo, SourceInfo, ViewInfo

PROJECT_SUFFIX = ".awb"


@dataclass
class Snapshot:
    """What the panes show of a project, copied once after open/save/edit."""

    path: str
    name: str
    sources: list[SourceInfo]
    views: dict[str, ViewInfo]
    samples: list[SampleInfo]
    runs: list[RunInfo]
    results: list[ResultInfo]
    policies: dict[str, Any]
    by_frame: dict[tuple[str, int], list[SampleInfo]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        index: dict[tuple[str, int], list[SampleInfo]] = defaultdict(list)
        for s in self.samples:
            index[(s.source, s.frame)].append(s)
        self.by_frame = dict(index)
        self._by_id = {s.id: s for s in self.samples}

    def sample(self, sid: int) -> SampleInfo | None:
        return self._by_id.get(sid)

    def source(self, sid: str) -> SourceInfo | None:
        return next((s for s in self.sources if s.id == sid), None)

    def video_sources(self) -> list[SourceInfo]:
        return [s for s in self.sources if s.kind == "video"]

    def samples_of(self, source: str) -> list[SampleInfo]:
        return [s for s in self.samples if s.source == source]


def snapshot_of(project: Any) -> Snapshot:
    """Copy a project's metadata (no images); runs on the I/O thread."""
    return Snapshot(
        path=str(project.path),
        name=str(project.name),
        sources=list(project.sources),
        views=dict(project.views),
        samples=list(project.samples()),
        runs=list(project.runs),
        results=list(project.results()),
        policies=dict(project.policies),
    )


def sample_box(sample: SampleInfo, views: dict[str, ViewInfo]) -> tuple[int, int, int, int]:
    """(x, y, w, h) in frame pixels of a sample's crop window: x, y is the crop's top-left corner."""
    w, h = sample.width, sample.height
    if (w <= 0 or h <= 0) and sample.view in views:
        w, h = views[sample.view].crop.w, views[sample.view].crop.h
    return sample.x, sample.y, w, h


def _default_api() -> Any:
    from workbench.project import Project  # h5py loads on the I/O thread, not at start-up

    return Project


class StationModel(QObject):
    """Owns the open project; emits ``opened``/``changed`` with a fresh :class:`Snapshot` and ``failed``.

    ``project_api`` is the class with ``open(path)``/``create(path)`` (``workbench.project.Project``
    unless a test passes another).
    """

    opened = Signal(object)  # Snapshot of a newly opened or created project
    changed = Signal(object)  # Snapshot after an edit or a save
    closed = Signal()
    failed = Signal(str, str)  # (what was attempted, message in the user's words)
    saved = Signal(str)  # path
    busyChanged = Signal(bool)
    dirtyChanged = Signal(bool)
    sampleSelected = Signal(int)
    viewSelected = Signal(str)
    changedElsewhere = Signal(str)  # another process saved the file: reload before saving (message)
    DISK_CHECK_MS = 3000

    def __init__(self, parent: QObject | None = None, project_api: Any = None):
        super().__init__(parent)
        self._api = project_api
        self._io = Workers(self, max_threads=1)  # one thread: the project is not shared between threads
        self._io.busyChanged.connect(self.busyChanged)
        self.project: Any = None
        self.snapshot: Snapshot | None = None
        self.selected_sample: int | None = None
        self.selected_view: str | None = None
        self._told_changed = False  # changedElsewhere was emitted for the file as it is now
        self._disk_timer = QTimer(self)
        self._disk_timer.timeout.connect(self.check_disk)
        self._disk_timer.start(self.DISK_CHECK_MS)

    # --- state ------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._io.busy

    @property
    def path(self) -> str | None:
        return None if self.snapshot is None else self.snapshot.path

    @property
    def dirty(self) -> bool:
        return bool(self.project is not None and self.project.dirty)

    def _api_class(self) -> Any:
        if self._api is None:
            self._api = _default_api()
        return self._api

    # --- background calls -------------------------------------------------------------------------
    def call(
        self,
        fn: Callable[[Any], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Run ``fn(project)`` on the I/O thread; ``on_done(result)`` comes back in the GUI thread."""
        project = self.project
        if project is None:
            return
        self._io.submit(
            lambda: fn(project), on_done, on_error or (lambda e: self.failed.emit("Read", str(e)))
        )

    def wait(self, msecs: int = 30000) -> bool:
        return self._io.wait(msecs)

    # --- life cycle -------------------------------------------------------------------------------
    def open(self, path: str, on_done: Callable[[], None] | None = None) -> None:
        """Open ``path`` in the background; the current project stays open if that fails."""
        self._load(lambda api: api.open(path), f"Open {Path(path).name}", on_done)

    def create(self, path: str, on_done: Callable[[], None] | None = None) -> None:
        """Create an empty project at ``path`` (replacing a file the user agreed to overwrite)."""
        self._load(lambda api: api.create(path, overwrite=True), f"New {Path(path).name}", on_done)

    def _load(self, make: Callable[[Any], Any], what: str, on_done: Callable[[], None] | None) -> None:
        def work() -> tuple[Any, Snapshot]:
            project = make(self._api_class())
            try:
                return project, snapshot_of(project)
            except BaseException:
                project.close()
                raise

        def done(result: tuple[Any, Snapshot]) -> None:
            old = self.project
            self.project, self.snapshot = result
            self.selected_sample = self.selected_view = None
            self._told_changed = False
            if old is not None:
                self._io.submit(old.close)
            self.opened.emit(self.snapshot)
            self.dirtyChanged.emit(self.dirty)
            if on_done is not None:
                on_done()

        self._io.submit(work, done, lambda e: self.failed.emit(what, str(e)))

    def close(self) -> None:
        """Close the project without saving (the caller asked about unsaved changes first)."""
        old, self.project, self.snapshot = self.project, None, None
        self.selected_sample = self.selected_view = None
        if old is not None:
            self._io.submit(old.close)
        self.closed.emit()
        self.dirtyChanged.emit(False)

    def save(self, on_done: Callable[[], None] | None = None) -> None:
        self._save(lambda p: p.save(), "Save", on_done)

    def save_as(self, path: str, on_done: Callable[[], None] | None = None) -> None:
        self._save(lambda p: p.save_as(path), f"Save as {Path(path).name}", on_done)

    def _save(self, fn: Callable[[Any], None], what: str, on_done: Callable[[], None] | None) -> None:
        def work(p: Any) -> Snapshot:
            fn(p)
            return snapshot_of(p)

        def done(snap: Snapshot) -> None:
            self.snapshot = snap
            self._told_changed = False
            self.changed.emit(snap)
            self.saved.emit(snap.path)
            self.dirtyChanged.emit(self.dirty)
            if on_done is not None:
                on_done()

        def error(e: BaseException) -> None:
            if type(e).__name__ == "ProjectChangedError":  # nothing was written: offer to reload instead
                self._told_changed = True
                self.changedElsewhere.emit(str(e))
            else:
                self.failed.emit(what, str(e))

        self.call(work, done, error)

    def check_disk(self) -> None:
        """Ask (on the I/O thread) whether another process saved the open file; ``changedElsewhere`` once."""
        project = self.project
        if project is None or self._told_changed or self.busy or not hasattr(project, "changed_on_disk"):
            return

        def done(changed: bool) -> None:
            if changed and self.project is project and not self._told_changed:
                self._told_changed = True
                self.changedElsewhere.emit(
                    f"{Path(self.path or '').name} was saved by another program since it was opened here."
                )

        self.call(lambda p: p.changed_on_disk(), done, lambda e: None)

    def edit(
        self,
        fn: Callable[[Any], Any],
        what: str = "Edit",
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Apply an edit ``fn(project)`` on the I/O thread, then refresh every pane (the hook for panes
        and QUndoStack commands); ``on_done(fn's result)`` follows the refresh, ``on_error`` replaces
        the ``failed`` message."""

        def work(p: Any) -> tuple[Any, Snapshot]:
            return fn(p), snapshot_of(p)

        def done(result: tuple[Any, Snapshot]) -> None:
            self.snapshot = result[1]
            self.changed.emit(result[1])
            self.dirtyChanged.emit(self.dirty)
            if on_done is not None:
                on_done(result[0])

        self.call(work, done, on_error or (lambda e: self.failed.emit(what, str(e))))

    # --- selection --------------------------------------------------------------------------------
    def watch(self, show: Callable[..., None], *, opened: bool = False, now: bool = True) -> None:
        """Call ``show(snapshot)`` when a station opens or changes and ``show(None)`` when it closes, and once
        now with the current snapshot (None without a station) unless ``now`` is False. With ``opened``,
        opening, closing and the call now pass ``opened=True``: the pane starts over there rather than
        keeping its choices as it does across edits."""
        kw = {"opened": True} if opened else {}
        self.opened.connect(lambda snap: show(snap, **kw))
        self.changed.connect(show)
        self.closed.connect(lambda: show(None, **kw))
        if now:
            show(self.snapshot, **kw)

    def select_sample(self, sid: int) -> None:
        if self.snapshot is None or self.snapshot.sample(sid) is None:
            return
        self.selected_sample, self.selected_view = sid, None
        self.sampleSelected.emit(sid)

    def select_view(self, name: str) -> None:
        if self.snapshot is None or name not in self.snapshot.views:
            return
        self.selected_sample, self.selected_view = None, name
        self.viewSelected.emit(name)
