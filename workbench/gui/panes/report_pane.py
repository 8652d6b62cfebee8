"""Write the station's evaluation report (one self-contained HTML page) to a folder and open it in the
browser; the report job runs in a worker process, so the window stays usable meanwhile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
)

from workbench.gui.panes.model_process import ReportProcess
from workbench.gui.panes.pane import Pane
from workbench.gui.runs import sig
from workbench.gui.station_model import Snapshot, StationModel
from workbench.gui.theme import DARK, Colors
from workbench.gui.widgets.boxes import column, form, row, text_label
from workbench.gui.widgets.job_bar import JobBar

NO_POLICY = "(none: F1-best thresholds on each run's test split)"
COLUMNS = (
    "View",
    "Run",
    "Model",
    "Masking",
    "Test samples",
    "Image AUROC",
    "AP",
    "Best F1",
    "Fit",
    "Per image",
)


def open_in_browser(path: str) -> bool:
    """Open a local file with the desktop's default application (tests replace this)."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(path))


class ReportPane(Pane):
    """``written(path)`` once ``index.html`` is on disk (and was handed to the browser)."""

    written = Signal(str)

    def __init__(self, model: StationModel, parent=None, colors: Colors = DARK):
        super().__init__(model, parent, colors)
        self.chosen: str | None = None  # the policy the Thresholds step stands for
        self.follow = False  # the report follows the Thresholds step until a policy is picked here
        self.job = ReportProcess(model, self)
        self.folder = QLineEdit(self)
        self.folder.setPlaceholderText("folder for index.html")
        browse = QPushButton("Choose …", self)
        browse.clicked.connect(self._browse)
        self.policy = QComboBox(self)
        self.policy.activated.connect(lambda _i: setattr(self, "follow", False))
        self.robustness = QCheckBox("Robustness study (predicts augmented copies: slower)", self)
        self.note = text_label(self)
        self.write_button = QPushButton("Write report and open it", self)
        self.write_button.clicked.connect(self.write)
        self.open_button = QPushButton("Open the report", self)
        self.open_button.setToolTip("Open index.html of the folder above in the browser (written before)")
        self.open_button.clicked.connect(self.open_report)
        self.folder.textChanged.connect(lambda _t: self._update_open())
        self.bar = JobBar(self)
        self.bar.cancelRequested.connect(self.job.cancel)
        self.job.progressed.connect(lambda f, m: self._progress(f, m))
        self.job.finished.connect(self._on_written)
        self.job.failed.connect(lambda m: self._finish(f"The report could not be written: {m}"))
        self.job.cancelled.connect(lambda: self._finish("Cancelled: no report written."))
        self._progress: Any = lambda f, m: None
        # what the report will cover, at a glance: each run's test metrics from its stored scores
        self.runs_title = QLabel("<b>The runs in the report</b> (test split, from the stored scores)", self)
        self.runs = QTableWidget(0, len(COLUMNS), self)
        self.runs.setHorizontalHeaderLabels(list(COLUMNS))
        self.runs.verticalHeader().setVisible(False)
        self.runs.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.runs.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.runs.horizontalHeader().setStretchLastSection(True)
        self._shown_runs: tuple[str, ...] | None = None

        intro = text_label(
            self,
            "Metrics per view and run, curves, histograms, the worst cases with heatmaps, statistics "
            "over seeds and timings — one HTML page with every figure inside.",
        )
        choices = form(
            ("Folder", row((self.folder, 1), browse)), ("Policy", self.policy), ("", self.robustness)
        )
        buttons = row((self.write_button, 1), self.open_button)
        column(intro, choices, self.note, buttons, self.bar, self.runs_title, (self.runs, 1), parent=self)
        model.dirtyChanged.connect(lambda _d: self._on_snapshot(model.snapshot))
        model.watch(self._on_snapshot)

    def shutdown(self) -> None:
        self.job.shutdown()

    def choose_policy(self, name: str) -> None:
        """Report under this policy (the one the Thresholds step stands for), until the user picks
        another one here."""
        self.chosen, self.follow = name, True
        if self.policy.findText(name) >= 0:
            self.policy.setCurrentText(name)

    def _on_snapshot(self, snap: Snapshot | None) -> None:
        current = self.policy.currentText()
        self.policy.clear()
        self.policy.addItem(NO_POLICY)
        if snap is not None:
            names = list(snap.policies)
            self.policy.addItems(sorted(names))
            if not self.folder.text():
                self.folder.setText(str(Path(snap.path).with_name(f"{Path(snap.path).stem}-report")))
            # the one the Thresholds step stands for (until a policy is picked here), the one asked
            # before, else the newest of the station
            asked = current if current != NO_POLICY else None
            first = (self.chosen, asked) if self.follow else (asked, self.chosen)
            for want in (*first, names[-1] if names else None):
                if want and want in snap.policies:
                    self.policy.setCurrentText(want)
                    break
        if snap is None:
            self.note.setText("Open a station first.")
        elif not snap.runs:
            self.note.setText("The station has no trained run yet: train a model first.")
        elif self.model.dirty:
            self.note.setText(
                "The station has unsaved changes: the report is written from the saved file. "
                "Save first (Ctrl+S) to include them."
            )
        else:
            self.note.setText("")
        self.write_button.setEnabled(snap is not None and bool(snap.runs) and not self.job.running)
        self._update_open()
        self._fill_runs(snap)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._fill_runs(self.model.snapshot)

    def _fill_runs(self, snap: Snapshot | None) -> None:
        """One row per run with its test metrics, read on the I/O thread once the pane is on screen and
        again when the station's runs change."""
        ids = tuple(r.id for r in snap.runs) if snap is not None else ()
        if not self.isVisible() or ids == self._shown_runs:
            return
        self._shown_runs = ids
        self.runs.setRowCount(0)
        self.runs_title.setVisible(bool(ids))
        self.runs.setVisible(bool(ids))
        if not ids:
            return
        from workbench.gui.run_metrics import run_metrics

        models = {r.id: r for r in snap.runs}
        self.model.call(
            lambda p: run_metrics(p, list(ids)),
            lambda rows: self._show_runs(ids, rows, models),
            lambda e: self.runs_title.setText(f"The runs could not be read: {e}"),
        )

    def _show_runs(self, ids: tuple[str, ...], rows: list[dict], runs: dict) -> None:
        if ids != self._shown_runs:
            return  # the runs changed meanwhile: a newer read follows
        self.runs.setRowCount(len(rows))
        for i, r in enumerate(rows):
            run = runs.get(r["run"])
            n = r.get("n_test")
            cells = (
                r["view"],
                r["run"],
                run.model if run else "",
                run.meta.get("masking", "–") if run else "",
                f"{n} ({r['n_defective']} defective)" if n else r.get("note", ""),
                *(sig(r[k]) if r.get(k) is not None else "–" for k in ("auroc", "ap", "f1")),
                f"{sig(r['train_seconds'])} s" if r.get("train_seconds") is not None else "–",
                f"{sig(r['ms_per_image'])} ms" if r.get("ms_per_image") is not None else "–",
            )
            for j, text in enumerate(cells):
                self.runs.setItem(i, j, QTableWidgetItem(str(text)))
        self.runs.resizeColumnsToContents()

    def index_path(self) -> Path:
        return Path(self.folder.text().strip() or ".") / "index.html"

    def _update_open(self) -> None:
        self.open_button.setEnabled(bool(self.folder.text().strip()) and self.index_path().is_file())

    def open_report(self) -> None:
        """Open the folder's index.html (written earlier) in the browser."""
        path = self.index_path()
        if not path.is_file():
            self.bar.finish(f"No report in {path.parent} yet: write it first.")
            self._update_open()
            return
        if not open_in_browser(str(path)):
            self.bar.finish(f"No browser could open {path}")

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for the report", self.folder.text())
        if path:
            self.folder.setText(path)

    def write(self) -> None:
        """Write the report to the chosen folder in a worker process, then open it."""
        snap = self.model.snapshot
        out = self.folder.text().strip()
        if snap is None or not out:
            self.bar.finish("Choose a folder for the report first.")
            return
        policy = self.policy.currentText()
        self._progress, _token = self.bar.start("Writing the report …")
        self.write_button.setEnabled(False)
        self.job.start(snap.path, out, None if policy == NO_POLICY else policy, self.robustness.isChecked())

    def _on_written(self, path: str) -> None:
        opened = open_in_browser(path)
        self._finish(f"Wrote {path}" + ("" if opened else " (no browser could open it)"))
        self.written.emit(path)

    def _finish(self, message: str) -> None:
        self.bar.finish(message)
        self._on_snapshot(self.model.snapshot)
