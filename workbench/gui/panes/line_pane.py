"""The Line step: run a bundle on a video in the window, as ``workbench run`` does on the line — the parts
as they pass with their verdict (OK / NG), the suspect passes marked, and for the chosen part each view's
crop with its heatmap in units of its threshold. The runtime works in a child process."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QTableWidgetItem,
    QWidget,
)

from workbench.gui.panes.model_process import LineProcess
from workbench.gui.panes.pane import Pane
from workbench.gui.runs import sig
from workbench.gui.station_model import Snapshot, StationModel
from workbench.gui.theme import DARK, Colors
from workbench.gui.widgets.boxes import STRETCH, column, form, panel, row, side_by_side, table, text_label
from workbench.gui.widgets.heat import heat_overlay
from workbench.gui.widgets.job_bar import JobBar

COLUMNS = ("Part", "Frames", "Verdict", "Pass", "Views")
SUSPECT = "suspect"


def part_status(result: dict[str, Any]) -> str:
    """The pass as the line's tracking judged it: 'ok', 'suspect' (a view missing or matched twice, views
    out of order, a pass much longer or shorter than usual) or 'partial' (cut off by the stream's end)."""
    return str(result.get("status", "ok"))


def status_reasons(result: dict[str, Any]) -> str:
    reasons = result.get("reasons") or []
    return "; ".join(str(r) for r in reasons) or "the pass tracking doubts this pass"


def view_text(result: dict[str, Any]) -> str:
    """'front OK 0.81 · center NG 1.42 …' with each score in units of its view's threshold."""
    out = []
    for name, v in result.get("views", {}).items():
        if v.get("verdict") == "MISSING":
            out.append(f"{name} missing")
            continue
        thr = v.get("threshold") or 0.0
        rel = v["score"] / thr if thr else float("nan")
        out.append(f"{name} {v['verdict']} {sig(rel)}×")
    return " · ".join(out)


class LinePane(Pane):
    """``partSeen(result)`` for every part the runtime reports; ``finished(summary)`` at the end."""

    partSeen = Signal(dict)
    finished = Signal(dict)

    def __init__(self, model: StationModel, parent: QWidget | None = None, colors: Colors = DARK):
        super().__init__(model, parent, colors)
        self.job = LineProcess(model, self)
        self.parts: list[tuple[dict, dict, dict]] = []
        self.summary: dict[str, Any] | None = None
        self._progress: Any = lambda f, m: None

        self.bundle = QLineEdit(self)
        self.bundle.setPlaceholderText("a bundle folder written by the Export step or `workbench export`")
        pick_bundle = QPushButton("Choose …", self)
        pick_bundle.clicked.connect(self._browse_bundle)
        self.source = QLineEdit(self)
        self.source.setPlaceholderText("a video of the line")
        pick_source = QPushButton("Choose …", self)
        pick_source.clicked.connect(self._browse_source)
        self.realtime = QCheckBox("At the video's speed (as a live camera)", self)
        self.realtime.setToolTip("Off: as fast as the video decodes")
        self.run_button = QPushButton("Run on the video", self)
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.start)
        self.bar = JobBar(self)
        self.bar.cancelRequested.connect(self.job.cancel)
        self.job.progressed.connect(lambda f, m: self._progress(f, m))
        self.job.part.connect(self._on_part)
        self.job.finished.connect(self._on_finished)
        self.job.failed.connect(lambda m: self._finish(f"The line preview stopped: {m}", error=True))
        self.job.cancelled.connect(lambda: self._finish(f"Stopped after {len(self.parts)} parts."))
        self.totals = text_label(self)

        self.table = table(self, COLUMNS)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.table.horizontalHeader()
        for c in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._show_selected)
        self.detail_title = text_label(self, "Choose a part to see its views.")
        self.pictures = QWidget(self)
        self.picture_grid = QGridLayout(self.pictures)
        self.legend = text_label(
            self,
            "Heatmap over the crop in units of the view's threshold: dark below half of it, bright at "
            "twice it; ring = where the map reaches the threshold.",
        )
        self.legend.setObjectName("muted")

        inputs = form(
            ("Bundle", row((self.bundle, 1), pick_bundle)), ("Video", row((self.source, 1), pick_source))
        )
        left = panel(self, self.totals, (self.table, 1))
        right = panel(self, self.detail_title, (self.pictures, 1), self.legend)
        column(
            inputs,
            row(self.run_button, self.realtime, STRETCH),
            self.bar,
            (side_by_side(self, left, right, (3, 2)), 1),
            parent=self,
        )

        model.opened.connect(lambda _snap: self.source.clear())  # before the snapshot shows
        model.watch(self._on_snapshot)  # a video imported later fills the empty box

    def shutdown(self) -> None:
        self.job.shutdown()

    def _on_snapshot(self, snap: Snapshot | None) -> None:
        videos = snap.video_sources() if snap is not None else []
        if videos and not self.source.text():
            self.source.setText(videos[0].uri)
        self._update_enabled()

    def use_bundle(self, path: str) -> None:
        """Take the bundle the Export step just wrote."""
        self.bundle.setText(path)
        self._update_enabled()

    def _update_enabled(self) -> None:
        self.run_button.setEnabled(not self.job.running)

    def _browse_bundle(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "A bundle folder", self.bundle.text())
        if path:
            self.bundle.setText(path)

    def _browse_source(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "A video of the line", self.source.text(), "Videos (*.mp4 *.avi *.mkv *.mov);;All files (*)"
        )
        if path:
            self.source.setText(path)

    # --- running ----------------------------------------------------------------------------------------
    def start(self) -> None:
        bundle, source = self.bundle.text().strip(), self.source.text().strip()
        problem = None
        if not bundle or not (Path(bundle) / "manifest.json").is_file():
            problem = f"{bundle or 'No bundle'}: not a bundle folder (it has no manifest.json); write one in Export."
        elif not source or not Path(source).is_file():
            problem = f"{source or 'No video'}: no such video file."
        if problem:
            self.bar.finish(problem)
            return
        self.parts, self.summary = [], None
        self.table.setRowCount(0)
        self._clear_pictures()
        self.totals.setText("")
        self._progress, _token = self.bar.start(f"Running {Path(bundle).name} on {Path(source).name} …")
        self.job.start(bundle, source, self.realtime.isChecked())
        self._update_enabled()

    def _on_part(self, result: dict, crops: dict, maps: dict) -> None:
        self.parts.append((result, crops, maps))
        r = self.table.rowCount()
        self.table.insertRow(r)
        status = part_status(result)
        first, last = result.get("frames", ["?", "?"])
        cells = (
            str(result.get("part", r + 1)),
            f"{first}–{last}",
            result["verdict"],
            status,
            view_text(result),
        )
        color = QColor(self.colors.defective if result["verdict"] == "NG" else self.colors.good)
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if c == 2:
                item.setForeground(color)
            if c == 3 and status != "ok":
                item.setForeground(QColor(self.colors.warn))
                item.setToolTip(status_reasons(result))
            self.table.setItem(r, c, item)
        if self.table.currentRow() < 0 or self.table.currentRow() == r - 1:
            self.table.selectRow(r)  # follow the newest part until the user picks another
        self._update_totals()
        self.partSeen.emit(result)

    def _update_totals(self) -> None:
        n = len(self.parts)
        ng = sum(p[0]["verdict"] == "NG" for p in self.parts)
        suspect = sum(part_status(p[0]) == SUSPECT for p in self.parts)
        partial = sum(part_status(p[0]) == "partial" for p in self.parts)
        text = (
            f"<b>{n}</b> parts · <span style='color:{self.colors.good}'>{n - ng} OK</span> · "
            f"<span style='color:{self.colors.defective}'>{ng} NG</span> · "
            f"<span style='color:{self.colors.warn}'>{suspect} suspect passes</span>"
            + (f" · {partial} cut off" if partial else "")
        )
        if self.summary is not None:
            providers = sorted({p for ps in self.summary.get("providers", {}).values() for p in ps})
            text += (
                f"<br>{self.summary['frames']} frames in {sig(self.summary['seconds'])} s "
                f"({sig(self.summary['fps'])} frames/s) · {', '.join(providers) or 'no runtime'}"
            )
        self.totals.setText(text)

    def _on_finished(self, summary: dict) -> None:
        self.summary = summary
        self._update_totals()
        self._finish(f"Done: {summary['parts']} parts, {summary['ng']} NG.")
        self.finished.emit(summary)

    def _finish(self, message: str, error: bool = False) -> None:
        self.bar.finish(message)
        self.bar.message.setStyleSheet(f"color: {self.colors.defective};" if error else "")
        self._update_enabled()

    # --- the chosen part ----------------------------------------------------------------------------------
    def _clear_pictures(self) -> None:
        while self.picture_grid.count():
            w = self.picture_grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()

    def _show_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.parts):
            return
        result, crops, maps = self.parts[rows[0].row()]
        self._clear_pictures()
        status = part_status(result)
        why = f" ({html.escape(status_reasons(result))})" if status != "ok" else ""
        self.detail_title.setText(
            f"<b>Part {result.get('part')}</b> · {result['verdict']} · frames {result.get('frames')} · "
            f"pass {status}{why}"
        )
        for c, (name, v) in enumerate(result.get("views", {}).items()):
            label = Picture(self.pictures)
            if name in crops:
                amap = np.asarray(maps[name], np.float32)
                label.set_rgb(heat_overlay(np.asarray(crops[name]), amap, v.get("threshold")))
            else:
                label.setText("not found in this pass")
            caption = QLabel(
                f"<b>{name}</b> {v.get('verdict')}"
                + (
                    f" · score {sig(v['score'])} / threshold {sig(v.get('threshold'))}"
                    if "score" in v
                    else ""
                ),
                self.pictures,
            )
            caption.setWordWrap(True)
            self.picture_grid.addWidget(label, 0, c)
            self.picture_grid.addWidget(caption, 1, c)
        self.picture_grid.setRowStretch(0, 1)


class Picture(QLabel):
    """A picture that fits whatever room it is given (it never asks for its own size, so a large crop
    cannot push the window wider)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMinimumSize(40, 30)
        self._image: QImage | None = None

    def set_rgb(self, rgb: np.ndarray) -> None:
        rgb = np.ascontiguousarray(rgb)
        h, w = rgb.shape[:2]
        self._image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        self._fit()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self._image is not None and self.width() > 1 and self.height() > 1:
            scaled = self._image.scaled(
                self.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
            self.setPixmap(QPixmap.fromImage(scaled))
