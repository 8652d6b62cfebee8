"""The workbench window: set-up steps in a toolbar, the Station tree, the video with its timeline, the
Inspector, menus, drag and drop of station files, and a status bar with device and memory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFrame,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QToolBar,
    QWidget,
)

from workbench import __version__
from workbench.gui import theme
from workbench.gui.file_actions import FileActions
from workbench.gui.panes.analysis import analysis_panes
from workbench.gui.panes.frame_viewer import FrameViewer
from workbench.gui.panes.import_pane import ImportPane, source_kind
from workbench.gui.panes.inspector import InspectorPane
from workbench.gui.panes.model_process import ModelService
from workbench.gui.panes.placeholder import ComingPane
from workbench.gui.panes.samples_pane import SamplesPane
from workbench.gui.panes.station import StationPane
from workbench.gui.panes.synthesis_pane import SynthesisPane
from workbench.gui.panes.views_pane import ViewsPane
from workbench.gui.settings import Settings
from workbench.gui.station_model import Snapshot, StationModel
from workbench.gui.status_bar import StatusBar
from workbench.gui.steps import STEPS
from workbench.gui.undo import UndoStack

APP_TITLE = "Anomaly Workbench"


def initial_sample(snap: Snapshot) -> int | None:
    """The sample to show when a station opens: the first one with a GT mask, else the first one."""
    with_mask = [s for s in snap.samples if s.has_mask]
    pool = with_mask or snap.samples
    return min(pool, key=lambda s: s.id).id if pool else None


class MainWindow(QMainWindow):
    """``settings`` and ``project_api`` default to the user's QSettings and ``workbench.project.Project``."""

    ready = Signal()  # emitted by when_ready: the window is shown and the data asked for is on screen

    def __init__(self, settings: Settings | None = None, project_api: Any = None, probe_device: bool = True):
        super().__init__()
        self.settings = settings if settings is not None else Settings()
        self.theme_name = self.settings.theme()
        self.colors = theme.colors(self.theme_name)
        self.model = StationModel(self, project_api=project_api)
        self.last_error: tuple[str, str] | None = None
        self._close_confirmed = False
        self._loading_requested = False
        self.setAcceptDrops(True)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks
            | QMainWindow.DockOption.AllowTabbedDocks
            | QMainWindow.DockOption.AllowNestedDocks
        )

        self.viewer = FrameViewer(self.model, self, self.colors)
        self.setCentralWidget(self.viewer)
        self.station = StationPane(self.model, self)
        self.inspector = InspectorPane(self.model, self, self.colors)
        em = self.fontMetrics().horizontalAdvance("M")  # sizes in font units follow the user's scaling
        self.station.setMinimumWidth(16 * em)
        self.inspector.setMinimumWidth(16 * em)
        self.docks: dict[str, QDockWidget] = {}
        self._add_dock("station", "Station", self.station, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._add_dock("inspector", "Inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea)
        self.undo = UndoStack(self.model, self)  # every edit of every pane goes through it
        self.import_pane = ImportPane(self.model, self.undo, self, self.colors)
        self.views_pane = ViewsPane(
            self.model, self.undo, [self.viewer.fetcher, *self.import_pane.frame_sources], self, self.colors
        )
        self.samples_pane = SamplesPane(self.model, self.undo, self, self.colors)
        self.setup_panes = {
            "import": self.import_pane,
            "views": self.views_pane,
            "samples": self.samples_pane,
            "synthesis": SynthesisPane(self.model, self.undo, self, self.colors),
        }
        self.model_service = ModelService(self)  # one helper process: the window itself never loads torch
        self.analysis_panes = analysis_panes(self.model, self.undo, self.model_service, self, self.colors)
        self.setup_panes.update(self.analysis_panes)
        for key, pane in self.setup_panes.items():
            # The Import form is wide: a scroll area keeps it from pushing the window past 1366 px.
            holder: QWidget = pane
            if key == "import":
                holder = QScrollArea()
                holder.setWidgetResizable(True)
                holder.setFrameShape(QFrame.Shape.NoFrame)
                holder.setWidget(pane)
            dock = self._add_dock(
                key,
                next(s.title for s in STEPS if s.key == key),
                holder,
                Qt.DockWidgetArea.RightDockWidgetArea,
            )
            self.tabifyDockWidget(self.docks["inspector"], dock)
            dock.hide()
        self.placeholders: dict[str, ComingPane] = {}
        for step in STEPS:
            if not step.built:
                pane = ComingPane(step, self)
                self.placeholders[step.key] = pane
                dock = self._add_dock(step.key, step.title, pane, Qt.DockWidgetArea.RightDockWidgetArea)
                self.tabifyDockWidget(self.docks["inspector"], dock)
                dock.hide()
        self.docks["inspector"].raise_()

        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.files = FileActions(self, self.model, self.settings, self.report)
        self._build_menus()
        self._build_toolbar()

        self.model.opened.connect(self._on_opened)
        self.model.changed.connect(lambda _s: self._update_title())
        self.model.closed.connect(self._update_title)
        self.model.dirtyChanged.connect(lambda _d: self._update_title())
        self.model.saved.connect(lambda p: self.status.showMessage(f"Saved {p}", 5000))
        self.model.failed.connect(self.report)
        self.model.busyChanged.connect(self.status.set_busy)
        self._update_title()
        self._restore_layout()
        if probe_device:
            self.status.probe_device()

    # --- construction -----------------------------------------------------------------------------
    def _add_dock(self, key: str, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{key}")  # saveState/restoreState find docks by object name
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks[key] = dock
        return dock

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.files.fill_menu(bar.addMenu("&File"))
        edit = bar.addMenu("&Edit")
        edit.addActions(list(self.undo.actions(self)))
        view = bar.addMenu("&View")
        theme_menu = view.addMenu("&Theme")
        group = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for name, text in (("dark", "&Dark"), ("light", "&Light")):
            action = theme_menu.addAction(text)
            action.setCheckable(True)
            action.setChecked(name == self.theme_name)
            action.triggered.connect(lambda _c=False, n=name: self.set_theme(n))
            group.addAction(action)
            self.theme_actions[name] = action
        panes = view.addMenu("&Panes")
        for dock in self.docks.values():
            panes.addAction(dock.toggleViewAction())
        view.addSeparator()
        view.addAction("&Reset layout", self.reset_layout)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction("&About", self._about)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Set-up steps", self)
        bar.setObjectName("toolbar-steps")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.step_actions: dict[str, QAction] = {}
        group = QActionGroup(self)  # the step being worked on stays highlighted
        for i, step in enumerate(STEPS, start=1):
            action = bar.addAction(f"{i} {step.title}")
            action.setCheckable(True)
            action.setChecked(step.key == "station")
            group.addAction(action)
            action.setEnabled(step.built)
            action.setToolTip(f"{step.title}: {step.summary}" + ("" if step.built else " (coming)"))
            action.triggered.connect(lambda _c=False, k=step.key: self.show_pane(k))
            self.step_actions[step.key] = action
            if i < len(STEPS):
                bar.addSeparator()
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)

    def _restore_layout(self) -> None:
        self._default_state = self.saveState()
        geometry, state = self.settings.window_state()
        restored = geometry is not None and self.restoreGeometry(geometry)
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        if not restored or self.width() < 800 or self.height() < 500:
            # First start, or a remembered size too small to work in: a roomy window that fits the screen.
            w, h = 1400, 900
            if screen is not None:
                w, h = min(w, int(screen.width() * 0.95)), min(h, int(screen.height() * 0.92))
            self.resize(w, h)
        self._sized = state is not None and self.restoreState(state)  # the user's own layout wins

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self._sized:  # first start: share the width once the window has its real size
            self._sized = True
            QTimer.singleShot(0, self._size_docks)

    def _size_docks(self) -> None:
        # the tree and the inspector get about a quarter of the width each, the video the rest
        w = max(self.width(), 800)
        self.resizeDocks(
            [self.docks["station"], self.docks["inspector"]], [w // 4, w // 4], Qt.Orientation.Horizontal
        )

    def reset_layout(self) -> None:
        self.restoreState(self._default_state)
        for dock in self.docks.values():
            dock.setVisible(dock.widget() not in self.placeholders.values())
        self.docks["inspector"].raise_()
        self._size_docks()

    # --- behaviour --------------------------------------------------------------------------------
    def show_pane(self, key: str) -> None:
        dock = self.docks.get(key)
        if dock is not None:
            dock.show()
            dock.raise_()

    def set_theme(self, name: str) -> None:
        app = QApplication.instance()
        self.colors = theme.apply(app, name) if app is not None else theme.colors(name)
        self.theme_name = name
        self.settings.set_theme(name)
        self.theme_actions[name].setChecked(True)
        self.viewer.set_colors(self.colors)
        self.inspector.set_colors(self.colors)
        for pane in self.setup_panes.values():
            pane.set_colors(self.colors)

    def open_project(self, path: str) -> bool:
        """Open a station file (with the unsaved-changes prompt); a bad file gets a message."""
        self._loading_requested = True
        return self.files.open_path(path)

    def report(self, title: str, message: str) -> None:
        """Tell the user what went wrong without blocking the window; nothing open is lost."""
        self.last_error = (title, message)
        self.status.showMessage(f"{title}: {message}", 10000)
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _on_opened(self, snap: Snapshot) -> None:
        self._update_title()
        self.status.showMessage(
            f"Opened {snap.name}: {len(snap.samples)} samples, {len(snap.views)} views, {len(snap.runs)} runs",
            5000,
        )
        sid = initial_sample(snap)
        if sid is not None:
            self.model.select_sample(sid)

    def _update_title(self) -> None:
        snap = self.model.snapshot
        if snap is None:
            self.setWindowTitle(APP_TITLE)
            self.setWindowModified(False)
            return
        self.setWindowTitle(f"{snap.name}[*] — {APP_TITLE}")
        self.setWindowModified(self.model.dirty)

    def _about(self) -> None:
        QMessageBox.about(
            self,
            f"About {APP_TITLE}",
            f"<b>{APP_TITLE}</b> {__version__}<br>Offline visual anomaly detection for production lines.",
        )

    # --- readiness (screenshots, benchmarks, tests) -----------------------------------------------
    def is_ready(self) -> bool:
        """Shown, and nothing asked for is still loading (project, frame, sample picture)."""
        if not self.isVisible() or self.model.busy or self.viewer.busy or self.inspector.busy:
            return False
        if any(p.busy and p.isVisible() for p in self.setup_panes.values()):
            return False
        return not self._loading_requested or self.model.snapshot is not None or self.last_error is not None

    def when_ready(self, callback: Callable[[], None], poll_ms: int = 50) -> None:
        """Call ``callback`` once :meth:`is_ready` holds on two polls in a row (lets the last paint land)."""
        state = {"hits": 0}
        timer = QTimer(self)

        def poll() -> None:
            state["hits"] = state["hits"] + 1 if self.is_ready() else 0
            if state["hits"] >= 2:
                timer.stop()
                timer.deleteLater()
                self.ready.emit()
                callback()

        timer.timeout.connect(poll)
        timer.start(poll_ms)

    # --- drag and drop ----------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        event.acceptProposedAction()
        self.drop_paths(paths)

    def drop_paths(self, paths: list[str]) -> None:
        """Open the dropped station, or get a dropped video or image folder ready to import; anything
        else gets a message and the open station stays."""
        projects = [p for p in paths if Path(p).suffix.lower() == ".awb"]
        sources = [p for p in paths if source_kind(p) is not None]
        if not projects and sources:  # a video or image folder goes to the Import pane
            self.show_pane("import")
            self.import_pane.open_path(sources[0])
            return
        if not projects:
            names = ", ".join(Path(p).name for p in paths[:3]) or "nothing"
            self.report("Not a station", f"Dropped {names}: drop a station project (.awb file) to open it.")
            return
        if len(projects) > 1:
            self.status.showMessage(f"Opening {Path(projects[0]).name}; one station at a time", 8000)
        self.open_project(projects[0])

    # --- closing ----------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self._close_confirmed and self.model.dirty:
            event.ignore()
            self.files.proceed(self._close_now)
            return
        self.settings.save_window_state(self.saveGeometry(), self.saveState())
        self.viewer.shutdown()
        self.import_pane.shutdown()
        for pane in self.analysis_panes.values():
            pane.shutdown()
        self.model_service.shutdown()
        self.status.shutdown()
        if self.model.project is not None:
            self.model.close()
        self.model.wait(10000)
        event.accept()

    def _close_now(self) -> None:
        self._close_confirmed = True
        QTimer.singleShot(0, self.close)  # Qt ignores a close() issued from inside closeEvent
