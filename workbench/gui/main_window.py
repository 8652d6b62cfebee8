"""The workbench window: a start page, the steps in a bar with the active one owning the workspace, the
station tree, video and inspector as side panels, menus, drag and drop of station files, and a status
bar with device and memory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSizePolicy,
    QToolBar,
    QWidget,
)

from workbench import __version__
from workbench.gui import theme
from workbench.gui.file_actions import FileActions
from workbench.gui.panes.analysis import analysis_panes
from workbench.gui.panes.demo_opener import DemoOpener
from workbench.gui.panes.frame_viewer import FrameViewer
from workbench.gui.panes.import_pane import ImportPane, source_kind
from workbench.gui.panes.inspector import InspectorPane
from workbench.gui.panes.model_process import ModelService
from workbench.gui.panes.samples_pane import SamplesPane
from workbench.gui.panes.start_page import StartPage
from workbench.gui.panes.station import StationPane
from workbench.gui.panes.synthesis_pane import SynthesisPane
from workbench.gui.panes.views_pane import ViewsPane
from workbench.gui.settings import Settings
from workbench.gui.station_model import Snapshot, StationModel
from workbench.gui.status_bar import StatusBar
from workbench.gui.steps import STEPS
from workbench.gui.undo import UndoStack
from workbench.gui.workspace import START, Workspace

APP_TITLE = "Anomaly Workbench"
WARM_UP_AFTER_MS = 1500  # the first paint lands before the background imports start


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
        self.warmed: Any = None  # set when the warm-up imports are done
        self.setAcceptDrops(True)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks
            | QMainWindow.DockOption.AllowTabbedDocks
            | QMainWindow.DockOption.AllowNestedDocks
        )

        # the side panels: in the Station step's page, folded into docks beside every other step
        self.viewer = FrameViewer(self.model, self, self.colors)
        self.station = StationPane(self.model, self, self.colors)
        self.inspector = InspectorPane(self.model, self, self.colors)
        em = self.fontMetrics().horizontalAdvance("M")  # sizes in font units follow the user's scaling
        self.station.setMinimumWidth(14 * em)
        self.inspector.setMinimumWidth(14 * em)
        panels = {"tree": self.station, "video": self.viewer, "inspector": self.inspector}
        self.workspace = Workspace(self, panels, self.settings.side_panels())
        self.docks = self.workspace.docks
        self.setCentralWidget(self.workspace.stack)
        self.start_page = StartPage(self, self.colors)
        self.workspace.add_page(START, self.start_page)

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
        for key in (s.key for s in STEPS if s.key != "station"):
            self.workspace.add_page(key, self.setup_panes[key])

        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.files = FileActions(self, self.model, self.settings, self.report)
        self.demo = DemoOpener(self, self.model, self.start_page, self.files)
        self._connect_start_page()
        self._build_menus()
        self._build_toolbar()
        self._connect_steps()

        self.model.opened.connect(self._on_opened)
        self.model.changed.connect(lambda _s: self._update_title())
        self.model.closed.connect(self._update_title)
        self.model.closed.connect(self._update_steps_enabled)
        self.model.closed.connect(lambda: self.show_pane(START))
        self.model.dirtyChanged.connect(lambda _d: self._update_title())
        self.model.saved.connect(lambda p: self.status.showMessage(f"Saved {p}", 5000))
        self.model.failed.connect(self.report)
        self.model.busyChanged.connect(self.status.set_busy)
        self._update_title()
        self._restore_layout()
        self.show_pane(START)
        self._update_steps_enabled()
        if probe_device:
            self.status.probe_device()

    # --- construction -----------------------------------------------------------------------------
    def _connect_start_page(self) -> None:
        page = self.start_page
        page.newRequested.connect(self.files.new_project)
        page.openRequested.connect(self.files.open_dialog)
        page.demoRequested.connect(self.demo.open_demo)
        page.recentChosen.connect(self.open_project)
        page.set_recent(self.settings.recent_projects())
        self.files.recentChanged.connect(lambda: page.set_recent(self.settings.recent_projects()))

    def _connect_steps(self) -> None:
        """Buttons inside the steps that lead to the next one."""
        train, compare = self.analysis_panes["train"], self.analysis_panes["compare"]
        thresholds = self.analysis_panes["thresholds"]
        train.compareRequested.connect(lambda ids: (self.show_pane("compare"), compare.show_runs(ids)))
        thresholds.samplesRequested.connect(self._show_samples_grid)
        thresholds.policyChosen.connect(compare.choose_policy)
        thresholds.policyChosen.connect(self.analysis_panes["report"].choose_policy)
        export = self.analysis_panes["export"]
        export.previewRequested.connect(
            lambda path: (self.show_pane("line"), self.analysis_panes["line"].use_bundle(path))
        )

    def _show_samples_grid(self, run_ids: list[str], sample_ids: list[int], title: str) -> None:
        self.show_pane("compare")
        self.analysis_panes["compare"].show_samples(run_ids, sample_ids, title)

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
        panels = view.addMenu("&Side panels")
        for action in self.workspace.toggles.values():
            panels.addAction(action)
        view.addSeparator()
        view.addAction("&Reset layout", self.reset_layout)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction("&About", self._about)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Steps", self)
        bar.setObjectName("toolbar-steps")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.step_bar = bar
        self.step_actions: dict[str, QAction] = {}
        group = QActionGroup(self)  # the step being worked on stays highlighted
        start = bar.addAction("Start")
        start.setCheckable(True)
        start.setToolTip("New station, open one, the demo station, recent stations")
        start.triggered.connect(lambda _c=False: self.show_pane(START))
        group.addAction(start)
        self.step_actions[START] = start
        bar.addSeparator()
        for i, s in enumerate(STEPS, start=1):
            action = bar.addAction(f"{i} {s.title}")
            action.setCheckable(True)
            group.addAction(action)
            action.setToolTip(f"{s.title}: {s.summary}")
            action.triggered.connect(lambda _c=False, k=s.key: self.show_pane(k))
            self.step_actions[s.key] = action
        spacer = QWidget(bar)
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        bar.addWidget(QLabel("Side:", bar))
        short = {"tree": "Tree", "video": "Video", "inspector": "Picture"}
        for key, action in self.workspace.toggles.items():
            action.setText(short[key])
            bar.addAction(action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self.workspace.stepChanged.connect(self._on_step)

    def _on_step(self, key: str) -> None:
        action = self.step_actions.get(key)
        if action is not None:
            action.setChecked(True)

    def _update_steps_enabled(self) -> None:
        has = self.model.snapshot is not None
        for key, action in self.step_actions.items():
            action.setEnabled(key == START or has)
            if key != START:
                tip = action.toolTip().split(" (open a station first)")[0]
                action.setToolTip(tip if has else tip + " (open a station first)")

    def _restore_layout(self) -> None:
        geometry, _state = self.settings.window_state()
        restored = geometry is not None and self.restoreGeometry(geometry)
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        if not restored or self.width() < 800 or self.height() < 500:
            # First start, or a remembered size too small to work in: a roomy window that fits the screen.
            w, h = 1400, 900
            if screen is not None:
                w, h = min(w, int(screen.width() * 0.95)), min(h, int(screen.height() * 0.92))
            self.resize(w, h)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self.warmed is None:
            self.warmed = False
            QTimer.singleShot(WARM_UP_AFTER_MS, self._warm_up)

    def _warm_up(self) -> None:
        from workbench.gui import warm_up

        self.warmed = warm_up.start()  # while the user looks at the start page

    def reset_layout(self) -> None:
        """Every step back to its own side panels, docks back on the left."""
        self.workspace.sides.clear()
        for dock in self.docks.values():
            dock.setFloating(False)
            self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.tabifyDockWidget(self.docks["tree"], self.docks["video"])
        self.tabifyDockWidget(self.docks["video"], self.docks["inspector"])
        self.show_pane(self.workspace.current or START)

    # --- behaviour --------------------------------------------------------------------------------
    def show_pane(self, key: str) -> None:
        """Give step ``key`` (or ``"start"``) the workspace."""
        self.workspace.show(key)

    def set_theme(self, name: str) -> None:
        app = QApplication.instance()
        self.colors = theme.apply(app, name) if app is not None else theme.colors(name)
        self.theme_name = name
        self.settings.set_theme(name)
        self.theme_actions[name].setChecked(True)
        self.viewer.set_colors(self.colors)
        self.inspector.set_colors(self.colors)
        self.start_page.set_colors(self.colors)
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
        self._update_steps_enabled()
        if self.workspace.current in ("", START):
            self.show_pane("import" if not snap.samples and not snap.sources else "station")
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
        self.settings.set_side_panels(self.workspace.remembered())
        self.demo.shutdown()
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
