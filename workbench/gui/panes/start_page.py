"""The start page: what the window shows before a station is open — New station, Open, Open demo and the
recent stations (with their folder and when they were last saved; a missing one says so)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.theme import DARK, Colors
from workbench.gui.widgets.job_bar import JobBar

PATH_ROLE = Qt.ItemDataRole.UserRole


def recent_text(path: str) -> tuple[str, str, bool]:
    """(title, detail, exists) of a recent station for the list."""
    p = Path(path)
    if not p.is_file():
        return p.name, f"{p.parent} · missing (moved or deleted)", False
    when = dt.datetime.fromtimestamp(p.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    return p.name, f"{p.parent} · saved {when}", True


class StartPage(QWidget):
    """Signals: ``newRequested``, ``openRequested``, ``demoRequested``, ``recentChosen(path)``."""

    newRequested = Signal()
    openRequested = Signal()
    demoRequested = Signal()
    recentChosen = Signal(str)

    def __init__(self, parent: QWidget | None = None, colors: Colors = DARK):
        super().__init__(parent)
        self.setObjectName("start-page")
        self.colors = colors
        em = self.fontMetrics().horizontalAdvance("M")
        title = QLabel("<h1>Anomaly Workbench</h1>", self)
        intro = QLabel(
            "Set up a visual inspection station from videos of the line: import, cut templates and "
            "paint the ROI, train anomaly models, compare their heatmaps, set thresholds with live "
            "counts, export a bundle and try it on a video — all offline.",
            self,
        )
        intro.setWordWrap(True)
        self.new_button = self._big("New station …", "An empty station file; then import a video")
        self.open_button = self._big("Open …", "Open a station file (.awb)")
        self.demo_button = self._big(
            "Open the demo station",
            "A rendered sealant-bead line with real and synthetic defects, PatchCore and PaDiM already "
            "trained and a threshold policy: every step has something to show (built once, about two "
            "minutes)",
        )
        self.new_button.clicked.connect(self.newRequested)
        self.open_button.clicked.connect(self.openRequested)
        self.demo_button.clicked.connect(self.demoRequested)
        self.demo_note = QLabel("", self)
        self.demo_note.setWordWrap(True)
        self.demo_note.setObjectName("muted")
        self.job = JobBar(self)

        self.recent = QListWidget(self)
        self.recent.setObjectName("recent-stations")
        self.recent.setIconSize(QSize(0, 0))
        self.recent.setWordWrap(True)
        self.recent.itemActivated.connect(self._chosen)
        self.recent.itemClicked.connect(self._chosen)
        self.recent_empty = QLabel("No recent stations yet.", self)

        steps = QLabel(self._steps_text(), self)
        steps.setWordWrap(True)
        steps.setTextFormat(Qt.TextFormat.RichText)
        actions = QVBoxLayout()
        for b in (self.new_button, self.open_button, self.demo_button):
            actions.addWidget(b)
        actions.addWidget(self.demo_note)
        actions.addWidget(self.job)
        actions.addSpacing(em)
        actions.addWidget(QLabel("<b>The steps of a station</b>", self))
        actions.addWidget(steps)
        actions.addStretch(1)
        recent = QVBoxLayout()
        recent.addWidget(QLabel("<b>Recent stations</b>", self))
        recent.addWidget(self.recent, 1)
        recent.addWidget(self.recent_empty)
        recent.addStretch(0)
        self.recent_layout = recent  # the list takes the height, or (empty) the space below its note
        body = QHBoxLayout()
        body.addLayout(actions, 3)
        line = QFrame(self)
        line.setFrameShape(QFrame.Shape.VLine)
        body.addWidget(line)
        body.addLayout(recent, 2)
        inner = QWidget(self)
        il = QVBoxLayout(inner)
        il.addWidget(title)
        il.addWidget(intro)
        il.addSpacing(em)
        il.addLayout(body, 1)
        inner.setMaximumWidth(90 * em)
        grid = QGridLayout(self)
        grid.addWidget(inner, 0, 0, Qt.AlignmentFlag.AlignHCenter)
        grid.setContentsMargins(2 * em, 2 * em, 2 * em, 2 * em)

    @staticmethod
    def _steps_text() -> str:
        from workbench.gui.steps import STEPS

        rows = "".join(
            f"<tr><td style='padding-right:8px'>{i}&nbsp;<b>{s.title}</b></td><td>{s.summary}</td></tr>"
            for i, s in enumerate(STEPS, start=1)
        )
        return f"<table>{rows}</table>"

    def _big(self, text: str, tip: str) -> QPushButton:
        b = QPushButton(text, self)
        b.setToolTip(tip)
        b.setMinimumHeight(int(2.4 * self.fontMetrics().height()))
        return b

    def set_colors(self, colors: Colors) -> None:
        self.colors = colors

    def set_recent(self, paths: list[str]) -> None:
        self.recent.clear()
        for path in paths:
            title, detail, exists = recent_text(path)
            item = QListWidgetItem(f"{title}\n{detail}", self.recent)
            item.setData(PATH_ROLE, path)
            item.setToolTip(path)
            if not exists:
                item.setForeground(Qt.GlobalColor.gray)
        self.recent.setVisible(bool(paths))
        self.recent_empty.setVisible(not paths)
        self.recent_layout.setStretch(1, 1 if paths else 0)
        self.recent_layout.setStretch(3, 0 if paths else 1)

    def _chosen(self, item: QListWidgetItem) -> None:
        self.recentChosen.emit(str(item.data(PATH_ROLE)))
