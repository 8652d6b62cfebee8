"""The window's room: the active step owns the central workspace; the station tree, the video and the
inspector live in the Station step's own page and fold into side docks everywhere else.

Learned from the tools line engineers already use: MVTec's Deep Learning Tool and Cognex ViDi give the
whole window to the step being worked on (label, train, evaluate) with the image database as a strip
that comes and goes; napari keeps the canvas central and its layer list and controls as docks that
close and reopen from the Window menu. Here a step opens with the side panels it needs (none for most)
and one click on a side toggle in the step bar brings a panel back, remembered per step.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QMainWindow,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QWidget,
)

from workbench.gui.steps import SIDE_PANELS, step

START = "start"


class PageScroll(QScrollArea):
    """Holds a step's page at the viewport's size, or at the page's minimum size where that is larger
    (then, and only then, it scrolls). Unlike ``setWidgetResizable`` it does not grow the page to the
    height its word-wrapped labels would like at this width, so a page that fits never scrolls."""

    def __init__(self, page: QWidget, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidgetResizable(False)
        self.setWidget(page)
        page.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if obj is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            QTimer.singleShot(0, self.fit)  # the page's minimum may have changed
        return False

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.fit()

    def fit(self) -> None:
        page = self.widget()
        if page is None:
            return
        least = page.minimumSizeHint().expandedTo(page.minimumSize())
        room = self.maximumViewportSize()  # the viewport without scroll bars
        width, height = max(room.width(), least.width()), max(room.height(), least.height())
        if height > room.height():  # a vertical bar will take some of the width
            width = max(room.width() - self.verticalScrollBar().sizeHint().width(), least.width())
        if (page.width(), page.height()) != (width, height):
            page.resize(width, height)


class StationPage(QSplitter):
    """The Station step: tree | video | inspector side by side (the panels move here when it is shown)."""

    ORDER = ("tree", "video", "inspector")
    SHARES = (0.22, 0.48, 0.30)
    TREE_EM = 34  # the tree never starts narrower: a sample's name, pass and frame stay readable

    def _share(self) -> None:
        self._sized = True
        w = self.width()
        tree = max(
            int(w * self.SHARES[0]), min(self.TREE_EM * self.fontMetrics().horizontalAdvance("M"), w // 3)
        )
        rest = w - tree
        video = int(rest * self.SHARES[1] / (self.SHARES[1] + self.SHARES[2]))
        self.setSizes([tree, video, rest - video])

    def __init__(self, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setObjectName("station-page")
        self.setChildrenCollapsible(False)
        self._sized = False

    def take(self, panels: dict[str, QWidget]) -> None:
        for i, key in enumerate(self.ORDER):
            self.insertWidget(i, panels[key])
        if not self._sized and self.width() > 100:
            self._share()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if not self._sized and self.count() == 3 and self.width() > 100:
            self._share()
        elif self._sized and self.count() == 3:
            self._keep_tree_readable()

    def _keep_tree_readable(self) -> None:
        """A smaller window shrinks every panel in proportion; the tree gets back to its floor (from the
        video), so a window made smaller after a larger start does not clip the sample names."""
        sizes = self.sizes()
        floor = min(self.TREE_EM * self.fontMetrics().horizontalAdvance("M"), self.width() // 3)
        short = floor - sizes[0]
        if short > 0 and sizes[1] - short > sizes[0]:
            self.setSizes([floor, sizes[1] - short, sizes[2]])


class Workspace(QObject):
    """The central stack of step pages plus the three side panels, moved between page and docks.

    ``stepChanged(key)`` after a step (or ``"start"``) is shown. ``toggles[key]`` are the checkable
    actions that show or hide a side panel in the current step.
    """

    stepChanged = Signal(str)

    def __init__(self, window: QMainWindow, panels: dict[str, QWidget], remembered: dict[str, list[str]]):
        super().__init__(window)
        self.window = window
        self.panels = panels
        self.stack = QStackedWidget(window)
        self.stack.setObjectName("workspace")
        self.pages: dict[str, QWidget] = {}
        self.holders: dict[str, PageScroll] = {}
        self.station_page = StationPage(self.stack)
        self.add_page("station", self.station_page)
        self.docks: dict[str, QDockWidget] = {}
        for key, title in SIDE_PANELS.items():
            dock = QDockWidget(title, window)
            dock.setObjectName(f"dock-{key}")
            dock.setFeatures(
                QDockWidget.DockWidgetFeature.DockWidgetClosable
                | QDockWidget.DockWidgetFeature.DockWidgetMovable
                | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            )
            window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
            dock.hide()
            dock.visibilityChanged.connect(lambda _v, k=key: self._dock_toggled(k))
            self.docks[key] = dock
        window.tabifyDockWidget(self.docks["tree"], self.docks["video"])
        window.tabifyDockWidget(self.docks["video"], self.docks["inspector"])
        self.toggles: dict[str, QAction] = {}
        for key, title in SIDE_PANELS.items():
            action = QAction(title, window)
            action.setCheckable(True)
            action.setToolTip(f"Show or hide the {title.lower()} beside this step (remembered per step)")
            action.toggled.connect(lambda on, k=key: self.set_side(k, on))
            self.toggles[key] = action
        # the user's choice of side panels per step; a step not in it opens with its defaults
        self.sides: dict[str, set[str]] = {k: set(v) & set(SIDE_PANELS) for k, v in remembered.items()}
        self.current = ""
        self._moving = False

    def add_page(self, key: str, page: QWidget) -> None:
        """Add a step's page. It sits in a scroll area that only ever scrolls up and down: on a small
        screen a tall page scrolls rather than growing the window past the screen, and a page never
        scrolls sideways (the screenshot test checks that it never needs to)."""
        holder = PageScroll(page, self.stack)
        holder.setObjectName(f"page-{key}")
        self.pages[key] = page
        self.holders[key] = holder
        self.stack.addWidget(holder)

    def wanted_sides(self, key: str) -> set[str]:
        if key == START:
            return set()
        if key == "station":
            return self.sides.get(key, set(SIDE_PANELS))
        return self.sides.get(key, set(step(key).sides))

    def show(self, key: str) -> None:
        """Give ``key``'s page the workspace and fold the side panels it does not want."""
        if key not in self.pages:
            raise KeyError(f"no page named {key!r}; known: {', '.join(self.pages)}")
        self._moving = True
        try:
            wanted = self.wanted_sides(key)
            if key == "station":
                for dock in self.docks.values():
                    dock.hide()
                self.station_page.take(self.panels)
                for k, w in self.panels.items():
                    w.setVisible(k in wanted)
            else:
                for k, w in self.panels.items():
                    if self.docks[k].widget() is not w:
                        self.docks[k].setWidget(w)
                    w.show()
                    self.docks[k].setVisible(k in wanted)
                shown = [self.docks[k] for k in SIDE_PANELS if k in wanted]
                if shown:
                    shown[0].raise_()
                    self.window.resizeDocks(
                        shown[:1], [max(240, self.window.width() // 5)], Qt.Orientation.Horizontal
                    )
            self.stack.setCurrentWidget(self.holders[key])
            self.current = key
            for k, action in self.toggles.items():
                action.blockSignals(True)
                action.setChecked(k in wanted)
                action.setEnabled(key != START)
                action.blockSignals(False)
        finally:
            self._moving = False
        self.stepChanged.emit(key)

    def set_side(self, key: str, on: bool) -> None:
        """Show or hide one side panel in the current step (the toggle's click)."""
        if self.current in ("", START):
            return
        chosen = set(self.wanted_sides(self.current))
        chosen = chosen | {key} if on else chosen - {key}
        self.sides[self.current] = chosen
        self._moving = True
        try:
            if self.current == "station":
                self.panels[key].setVisible(on)
            else:
                self.docks[key].setVisible(on)
                if on:
                    self.docks[key].raise_()
        finally:
            self._moving = False

    def _dock_toggled(self, key: str) -> None:
        """A dock closed with its own × button: the step remembers that, and the toggle follows."""
        if self._moving or self.current in ("", START, "station"):
            return
        dock = self.docks[key]
        on = not dock.isHidden()
        chosen = set(self.wanted_sides(self.current))
        self.sides[self.current] = chosen | {key} if on else chosen - {key}
        self.toggles[key].blockSignals(True)
        self.toggles[key].setChecked(on)
        self.toggles[key].blockSignals(False)

    def remembered(self) -> dict[str, list[str]]:
        return {k: sorted(v) for k, v in self.sides.items()}
