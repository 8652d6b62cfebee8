"""The Import pane: open (or drop) a video, image folder or MVTec folder, scrub the video, set the sampling,
see the pass rule calibrated from the video (and why), each view's match signal and the passes it finds
(suspect ones marked), then import with a progress bar and Cancel, and review the suspect passes and the
views that did not match. Unticking "Calibrate" forces the presence thresholds of the form instead."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.frame_source import FrameFetcher, VideoInfo
from workbench.gui.panes.camera_feed import CameraFeed
from workbench.gui.station_model import StationModel
from workbench.gui.theme import DARK, Colors
from workbench.gui.undo import UndoStack
from workbench.gui.widgets.boxes import column, panel, row
from workbench.gui.widgets.image_canvas import ImageCanvas
from workbench.gui.widgets.import_form import ImportForm
from workbench.gui.widgets.job_bar import JobBar
from workbench.gui.widgets.scrubber import Scrubber
from workbench.gui.widgets.signal_plot import PALETTE, SignalPlot
from workbench.gui.widgets.timeline import Timeline
from workbench.gui.workers import Workers

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".m4v", ".wmv")
HINT = "Open or drop a video, an image folder or an MVTec folder to import it into the station."


def source_kind(path: str) -> str | None:
    """'video', 'mvtec' (a folder with train/ and test/), 'folder', or None for anything else."""
    p = Path(path)
    if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES:
        return "video"
    if p.is_dir():
        return "mvtec" if (p / "train").is_dir() and (p / "test").is_dir() else "folder"
    return None


class ImportPane(QWidget):
    """Frames come from its own :class:`FrameFetcher` (the file is not part of the station yet)."""

    def __init__(
        self, model: StationModel, undo: UndoStack, parent: QWidget | None = None, colors: Colors = DARK
    ):
        super().__init__(parent)
        self.model, self.undo, self.colors = model, undo, colors
        self.path: str | None = None
        self.kind: str | None = None
        self.info: VideoInfo | None = None
        self.last_result: Any = None
        self._threads = Workers(self, max_threads=1)
        self.setAcceptDrops(True)
        self.fetcher = FrameFetcher(self)
        self.fetcher.opened.connect(self._on_opened)
        self.fetcher.failed.connect(lambda m: self._fail("Open video", m))
        self.fetcher.frameReady.connect(self._on_frame)

        self.camera = CameraFeed(self)
        self.camera.frameReady.connect(lambda _n, frame: self.canvas.set_image(frame))
        self.camera.stopped.connect(self._on_camera_stopped)
        self.frame_sources = [self.fetcher, self.camera]  # where the Views pane may take frames from
        buttons = QHBoxLayout()
        for text, fn in (("Video …", self._ask_video), ("Image folder …", self._ask_folder)):
            b = QPushButton(text, self)
            b.clicked.connect(fn)
            buttons.addWidget(b)
        self.camera_button = QPushButton("Camera …", self)
        self.camera_button.setCheckable(True)
        self.camera_button.setToolTip(
            "Live picture: a camera index (0), genicam:CTI, or sim:VIDEO to play a file"
        )
        self.camera_button.clicked.connect(self._toggle_camera)
        buttons.addWidget(self.camera_button)
        self.path_label = QLabel(HINT, self)
        self.path_label.setWordWrap(True)
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons.addWidget(self.path_label, 1)

        self.canvas = ImageCanvas(self, colors)
        self.timeline = Timeline(self, colors)
        self.scrubber = Scrubber(self)
        self.scrubber.play_button.hide()  # a preview to pick frames from, not a player
        self.scrubber.frameChanged.connect(self.goto)
        self.timeline.seekRequested.connect(self.goto)
        self.plot = SignalPlot(self, colors, "presence")
        self.plot.seekRequested.connect(self.goto)
        self.plot.thresholdMoved.connect(self._on_line_moved)
        self.form = ImportForm(self)
        self.form.changed.connect(self._on_form_changed)
        self.calibrate_box = QCheckBox("Calibrate the pass rule from the video", self)
        self.calibrate_box.setChecked(True)
        self.calibrate_box.setToolTip(
            "Find passes from the views' own match peaks, with thresholds taken from this video (parts back to "
            "back, lighting changes and a conveyor that is never empty are fine). Untick to force the presence "
            "thresholds below."
        )
        self.calibrate_box.toggled.connect(self._on_form_changed)
        self.rule_label = QLabel(
            "Pass rule: calibrated from the video when passes are found or imported.", self
        )
        self.rule_label.setWordWrap(True)
        self.rule_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.rule_label.setObjectName("ruleText")
        self.rule_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.rule_box = QScrollArea(self)  # the rule and why, a few lines high; it scrolls
        self.rule_box.setWidget(self.rule_label)
        self.rule_box.setWidgetResizable(True)
        self.rule_box.setFrameShape(QFrame.Shape.NoFrame)
        self.rule_box.setMinimumHeight(int(3.5 * self.fontMetrics().height()))
        self.rule = None  # the rule of the last preview or import

        self.find_button = QPushButton("Find passes", self)
        self.find_button.setToolTip(
            "Compute the presence signal and the passes with the pass rule (no import)"
        )
        self.find_button.clicked.connect(self.find_passes)
        self.import_button = QPushButton("Import", self)
        self.import_button.setToolTip("Add the source and one sample per pass and view to the station")
        self.import_button.clicked.connect(self.start_import)
        self.job = JobBar(self)
        actions = row(self.find_button, self.import_button, (self.job, 1))
        self.unmatched = QListWidget(self)
        self.unmatched.setToolTip("Passes where a view's template did not reach its match threshold")
        self.unmatched.setMaximumHeight(6 * self.fontMetrics().height())  # a few rows; it scrolls
        self.unmatched.itemActivated.connect(lambda item: self.goto(item.data(Qt.ItemDataRole.UserRole)))
        self.suspects = QListWidget(self)
        self.suspects.setToolTip(
            "Passes to look at: a view missing or matched twice, views out of order, a pass much longer or "
            "shorter than usual (suspect), or cut by the video's start or end (partial); double-click to go there"
        )
        self.suspects.setMaximumHeight(5 * self.fontMetrics().height())
        self.suspects.itemActivated.connect(lambda item: self.goto(item.data(Qt.ItemDataRole.UserRole)))

        top = panel(self, (self.canvas, 1), self.timeline, self.scrubber)
        lists = row(
            (column(QLabel("Suspect and partial passes", self), self.suspects), 1),
            (column(QLabel("Unmatched views", self), self.unmatched), 1),
        )
        bottom = panel(self, (self.plot, 2), self.rule_box, self.calibrate_box, self.form, actions, lists)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setStretchFactor(0, 5)  # the picture gets the room; the plot and form keep their minimum
        split.setStretchFactor(1, 4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(split, 1)
        self._on_form_changed()
        self._update_buttons()
        model.opened.connect(lambda _s: self._update_buttons())
        model.closed.connect(self._update_buttons)

    def _fit_rule_box(self) -> None:
        """Show the whole rule where the window has room for it: its own height, at most 10 lines on a tall
        window and 4 on a short one (it scrolls beyond)."""
        line = self.fontMetrics().height()
        lines = 10 if self.window().height() >= 55 * line else 4  # the pane itself may sit in a scroll area
        width = max(self.rule_box.viewport().width(), 200)
        need = self.rule_label.heightForWidth(width) + 4
        self.rule_box.setFixedHeight(int(min(max(need, 3.5 * line), lines * line)))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._fit_rule_box()

    # --- state ------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.job.running or self._threads.busy or self.fetcher.busy

    def set_colors(self, colors: Colors) -> None:
        self.colors = colors
        for w in (self.canvas, self.timeline, self.plot):
            w.set_colors(colors)

    def shutdown(self) -> None:
        self.job.cancel()
        self.fetcher.close()
        self.camera.stop()

    # --- camera -----------------------------------------------------------------------------------
    def _toggle_camera(self, on: bool) -> None:
        if not on:
            self.camera.stop()
            return
        default = f"sim:{self.path}" if self.kind == "video" else "0"
        spec, ok = QInputDialog.getText(self, "Camera", "Camera (0, sim:VIDEO or genicam:CTI):", text=default)
        if ok and spec.strip():
            self.start_camera(spec.strip())
        else:
            self.camera_button.setChecked(False)

    def start_camera(self, spec: str) -> None:
        """Show the live picture of camera ``spec`` in the preview (the video preview pauses)."""
        self.camera_button.setChecked(True)
        self.path_label.setText(f"Live: {spec}")
        self.camera.start(spec)

    def _on_camera_stopped(self, message: str) -> None:
        self.camera_button.setChecked(False)
        self.path_label.setText(message)

    def _update_buttons(self) -> None:
        running = self.job.running
        self.find_button.setEnabled(self.kind == "video" and not running)
        self.import_button.setEnabled(
            self.kind is not None and self.model.project is not None and not running
        )
        if self.model.project is None and self.kind is not None:
            self.import_button.setToolTip("Open or create a station first (File menu)")

    def _fail(self, title: str, message: str) -> None:
        self.job.finish(f"{title}: {message}")
        self.model.failed.emit(title, message)
        self._update_buttons()

    # --- choosing what to import ------------------------------------------------------------------
    def _ask_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a video", "", "Videos (" + " ".join(f"*{s}" for s in VIDEO_SUFFIXES) + ")"
        )
        if path:
            self.open_path(path)

    def _ask_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open an image folder or an MVTec folder")
        if path:
            self.open_path(path)

    def open_path(self, path: str) -> bool:
        """Get ready to import ``path``; anything that is not a video or a folder gets a message."""
        kind = source_kind(path)
        if kind is None:
            self._fail("Not importable", f"{os.path.basename(path) or path}: expected a video "
                       f"({', '.join(VIDEO_SUFFIXES)}), an image folder or an MVTec folder")  # fmt: skip
            return False
        self.path, self.kind, self.info = path, kind, None
        self.plot.clear_signal()
        self.unmatched.clear()
        self.timeline.set_data(0, [], [])
        self.scrubber.set_range(0, 0.0)
        self.canvas.set_image(None)
        if kind == "video":
            self.path_label.setText(f"Opening {os.path.basename(path)} …")
            self.fetcher.open(path)
        else:
            self.fetcher.close()
            what = "MVTec dataset (train/, test/, ground_truth/)" if kind == "mvtec" else "image folder"
            self.path_label.setText(f"{path}\n{what}")
        self.job.finish("")
        self._update_buttons()
        return True

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        event.acceptProposedAction()
        if paths:
            self.open_path(paths[0])

    # --- the video preview ------------------------------------------------------------------------
    def _on_opened(self, info: VideoInfo) -> None:
        self.info = info
        self.path_label.setText(
            f"{info.path}\n{info.frame_count} frames · {info.width}×{info.height} · {info.fps:.1f} fps"
        )
        self.scrubber.set_range(info.frame_count, info.fps)
        self.timeline.set_data(info.frame_count, [], [])
        self.plot.set_span(info.frame_count)
        self.form.end_s.setMaximum(max(info.frame_count / max(info.fps, 1e-6), 0.1))
        self.goto(0)
        self._update_buttons()

    def goto(self, index: int) -> None:
        if self.info is None:
            return
        index = int(min(max(index, 0), self.info.frame_count - 1))
        self.scrubber.set_frame(index)
        self.timeline.set_current(index)
        self.plot.set_current(index)
        self.fetcher.request(index)

    def _on_frame(self, index: int, frame: np.ndarray) -> None:
        self.canvas.set_image(frame)

    # --- passes -------------------------------------------------------------------------------------
    @property
    def calibrated(self) -> bool:
        return self.calibrate_box.isChecked()

    def _on_form_changed(self) -> None:
        manual = not self.calibrated
        for w in (self.form.statistic, self.form.high, self.form.low, self.form.min_pass, self.form.min_gap):
            w.setEnabled(manual)
        if manual:
            self.plot.set_threshold("high", self.form.high.value(), self.colors.defective)
            self.plot.set_threshold("low", self.form.low.value(), self.colors.good)
        else:
            for name in ("high", "low"):
                self.plot.remove_threshold(name)

    def _views(self) -> tuple[list, dict[str, float]]:
        """(ViewSpecs of the station's views, the match thresholds the user set) for a preview."""
        from workbench.io.extract import ViewSpec
        from workbench.project.types import ViewInfo

        views = self.model.snapshot.views if self.model.snapshot else {}
        default = ViewInfo.__dataclass_fields__["match_threshold"].default
        specs = [
            ViewSpec(
                v.name, v.template, v.match_threshold, (v.crop.x, v.crop.y, v.crop.w, v.crop.h),
                None if v.template_origin is None else (float(v.template_origin[1]), float(v.template_origin[2]), int(v.template_origin[0])),
            )
            for v in views.values()
        ]  # fmt: skip
        # a threshold the user changed from the default is a minimum match score of the view's best frame
        given = {v.name: v.match_threshold for v in views.values() if abs(v.match_threshold - default) > 1e-9}
        return specs, given

    def _on_line_moved(self, name: str, value: float) -> None:
        box = self.form.high if name == "high" else self.form.low
        box.setValue(value)

    def _settings(self) -> tuple[Any, Any] | None:
        """(sampling, rule): the rule is None (calibrate from the video) unless the presence rule is forced."""
        try:
            rule = None if self.calibrated else self.form.rule()
            return self.form.sampling(self.info.fps if self.info else 0.0), rule
        except ValueError as exc:
            self._fail("Import settings", str(exc))
            return None

    def find_passes(self) -> None:
        """Compute the presence signal and passes in a worker thread and show them."""
        settings = self._settings() if self.kind == "video" else None
        if settings is None:
            return
        sampling, rule = settings
        path = self.path
        specs, given = self._views()
        what = "calibrating the pass rule and finding passes" if rule is None and specs else "finding passes"
        progress, cancel = self.job.start(f"Reading the video: {what} …")
        self._update_buttons()

        def work() -> Any:
            from workbench.io.extract import extract_samples, find_passes

            if rule is None and specs:
                return extract_samples(path, specs, None, sampling, 1, given or None, progress, cancel)
            return find_passes(path, rule, sampling, specs, progress=progress, cancel=cancel)

        self._threads.submit(work, self._show_passes, lambda e: self._job_failed("Find passes", e))

    def _show_result(self, result: Any) -> None:
        """Plot a preview's or an import's signals, thresholds, passes (suspect ones marked) and its rule."""
        from workbench.io.track_rule import TrackRule

        self.rule = result.rule
        names = list(result.signal_names) or ["presence"]
        signals = result.signals if result.signals is not None else np.asarray(result.presence)[:, None]
        if isinstance(result.rule, TrackRule):
            self.plot.clear_thresholds()
            for k, (name, level) in enumerate(zip(names, result.thresholds)):
                color = self.colors.box if len(names) == 1 else PALETTE[k % len(PALETTE)]
                self.plot.set_threshold(f"{name} ≥ {level:.2f}", level, color, movable=False)
            self.plot.setLabel("left", "match at home")
            self.plot.set_signals(result.frames, signals, names)
            lines = result.rule.summary()
            why = "".join(f"<br>&nbsp;· {r}" for r in result.rule.reasons)
            self.rule_label.setText(
                "<b>Pass rule calibrated from this video</b> (untick Calibrate to force presence thresholds):<br>"
                + "<br>".join(lines)
                + f"<br><i>Why:</i>{why}"
            )
            self._fit_rule_box()
        else:
            self.plot.clear_thresholds()
            self._on_form_changed()
            self.plot.setLabel("left", "presence")
            self.plot.set_signal(result.frames, signals[:, 0])
            self.rule_label.setText(
                f"<b>Pass rule forced</b>: presence starts a pass at {result.rule.high:g} and ends it below "
                f"{result.rule.low:g} (tick Calibrate to take the rule from the video)."
            )
            self._fit_rule_box()
        records = list(result.records)
        passes = [(r.first, r.last) for r in records]
        self.plot.set_passes(passes, [r.status for r in records], [r.reasons for r in records])
        self.timeline.set_data(self.info.frame_count if self.info else 0, passes, [])
        self.suspects.clear()
        for r in records:
            if r.status != "ok":
                self.suspects.addItem(r.describe())
                self.suspects.item(self.suspects.count() - 1).setData(
                    Qt.ItemDataRole.UserRole, next(iter(r.views.values()), (r.first + r.last) // 2)
                )

    def _show_passes(self, result: Any) -> None:
        self._show_result(result)
        records = list(result.records)
        n_suspect = sum(r.status == "suspect" for r in records)
        extra = f" ({n_suspect} suspect)" if n_suspect else ""
        self.job.finish(f"{len(records)} passes{extra} in {len(result.frames)} frames read")
        if records and self.timeline.pass_at(self.scrubber.frame) is None:
            self.goto((records[0].first + records[0].last) // 2)  # show a part, not the empty conveyor
        self._update_buttons()

    def _job_failed(self, what: str, error: BaseException) -> None:
        from workbench.core.progress import Cancelled

        if isinstance(error, Cancelled):
            self.job.finish(f"{what} cancelled; the station is unchanged")
            self._update_buttons()
        else:
            self._fail(what, str(error))

    # --- import -----------------------------------------------------------------------------------
    def start_import(self) -> None:
        """Run the import job on the station's I/O thread (project access stays serialised)."""
        if self.kind is None or self.model.project is None or self.job.running:
            return
        settings = self._settings() if self.kind == "video" else (None, None)
        if settings is None:
            return
        sampling, rule = settings
        path, kind = self.path, self.kind
        _, given = self._views()
        progress, cancel = self.job.start(f"Importing {os.path.basename(path)} …")
        self._update_buttons()

        def work(p: Any) -> tuple[Any, dict, dict]:
            before = p.views
            if kind == "video":
                from workbench.jobs.import_video import import_video

                if not before:
                    raise ValueError("this station has no views yet: cut a template in the Views pane first")
                result = import_video(
                    p, path, match_threshold=given or None, sampling=sampling, rule=rule, progress=progress,
                    cancel=cancel,
                )  # fmt: skip
            elif kind == "mvtec":
                from workbench.jobs.import_dataset import import_dataset

                result = import_dataset(p, path, progress=progress, cancel=cancel)
            else:
                from workbench.jobs.import_dataset import import_folder

                templates = {n: v.template for n, v in before.items()} or None
                result = import_folder(p, path, templates=templates, progress=progress, cancel=cancel)
            return result, before, p.views

        self.model.edit(work, "Import", self._import_done, lambda e: self._job_failed("Import", e))

    def _import_done(self, out: tuple[Any, dict, dict]) -> None:
        result, before, after = out
        self.last_result = result
        name = os.path.basename(self.path or "")
        self.undo.record_import(list(result.sample_ids), before, after, f"import {name}")
        self.unmatched.clear()
        for entry in getattr(result, "unmatched", []):
            self._add_unmatched(entry, result)
        passes = list(getattr(result, "passes", []))
        if self.kind == "video" and len(getattr(result, "frames", [])):
            self._show_result(result)
        extra = f" from {len(passes)} passes" if passes else ""
        n_suspect = len(getattr(result, "suspects", []))
        suspect = f", {n_suspect} suspect" if n_suspect else ""
        self.job.finish(
            f"Imported {len(result.sample_ids)} samples{extra}; {self.unmatched.count()} unmatched{suspect}"
        )
        self._update_buttons()

    def _add_unmatched(self, row: tuple, result: Any) -> None:
        where, view, score = row
        views = self.model.snapshot.views if self.model.snapshot else {}
        th = views[view].match_threshold if view in views else float("nan")
        if isinstance(where, int) and where < len(getattr(result, "passes", [])):
            a, b = result.passes[where]
            text = f"pass {where} (frames {a}-{b}), view {view}: best score {score:.3f} < threshold {th:.3f}"
            frame = (a + b) // 2
        else:
            text = f"{os.path.basename(str(where))}, view {view}: best score {score:.3f} < threshold {th:.3f}"
            frame = 0
        self.unmatched.addItem(text)
        self.unmatched.item(self.unmatched.count() - 1).setData(Qt.ItemDataRole.UserRole, frame)
