"""The Views pane: drag a rectangle on the frame to make a view's template (new or replacing one), see
its match score over the video, set the match threshold and the crop window (spin boxes or handles on
the frame), and paint its ROI and zones. Every change is one undo step."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.frame_source import FrameFetcher
from workbench.gui.panes.view_geometry import crop_of, edited, match_on, match_scores, with_crop
from workbench.gui.panes.view_roi import ViewRoiEditor
from workbench.gui.pg import pyqtgraph as pg
from workbench.gui.station_model import StationModel
from workbench.gui.theme import DARK, Colors
from workbench.gui.undo import UndoStack
from workbench.gui.widgets.boxes import row
from workbench.gui.widgets.draw_canvas import DrawCanvas
from workbench.gui.widgets.job_bar import JobBar
from workbench.gui.widgets.signal_plot import SignalPlot
from workbench.gui.workers import Workers

HINT = "Drag a rectangle on the frame, name the view above and press “Use as template”."


class ViewsPane(QWidget):
    """Shows the newest frame of any of ``fetchers`` (the station's video, the Import preview)."""

    def __init__(
        self,
        model: StationModel,
        undo: UndoStack,
        fetchers: list[FrameFetcher],
        parent: QWidget | None = None,
        colors: Colors = DARK,
    ):
        super().__init__(parent)
        self.model, self.undo, self.colors = model, undo, colors
        self.frame: np.ndarray | None = None
        self.frame_index = 0
        self.frame_path: str | None = None
        self.rect: tuple[int, int, int, int] | None = None  # the rectangle drawn for a template
        self.match: tuple[float, int, int] | None = None  # the current view on the current frame
        self._match_gen = 0
        self._stale = False  # a view or frame changed while the pane was hidden: match and load when shown
        self._threads = Workers(self, max_threads=1)
        for f in fetchers:
            f.frameReady.connect(lambda i, fr, f=f: self._on_frame(f, i, fr))

        self.view_box = QComboBox(self)
        self.view_box.setEditable(True)
        self.view_box.setToolTip("The view to edit; type a new name to make a new view")
        self.view_box.lineEdit().setPlaceholderText("view name")
        self.view_box.currentTextChanged.connect(self._on_view_chosen)
        self.cut_button = QPushButton("Use as template", self)
        self.cut_button.setToolTip("Make the rectangle drawn on the frame the template of this view")
        self.cut_button.clicked.connect(self.make_template)
        top = QHBoxLayout()
        top.addWidget(QLabel("View", self))
        top.addWidget(self.view_box, 1)
        top.addWidget(self.cut_button)

        self.canvas = DrawCanvas(self, colors)
        self.canvas.set_tool("rect")
        self.canvas.rectDone.connect(self._on_rect)
        self.crop_roi = pg.RectROI((0, 0), (10, 10), pen=pg.mkPen(colors.box, width=2), movable=True)
        self.crop_roi.addScaleHandle((0, 0), (1, 1))
        self.crop_roi.setZValue(25)
        self.crop_roi.hide()
        self.crop_roi.sigRegionChangeFinished.connect(self._on_crop_dragged)
        self.canvas.view.addItem(self.crop_roi)
        self.caption = QLabel(HINT, self)
        self.caption.setWordWrap(True)

        self.crop_spins = {}
        crop_row = QHBoxLayout()
        for key, lo in (("x", -4096), ("y", -4096), ("w", 4), ("h", 4)):
            box = QSpinBox(self)
            box.setRange(lo, 8192)
            box.setPrefix(f"{key} ")
            box.setKeyboardTracking(False)
            box.setToolTip("Crop window relative to the template match (x, y: its top-left; w, h: its size)")
            box.valueChanged.connect(self._on_crop_spin)
            self.crop_spins[key] = box
            crop_row.addWidget(box)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, 100)
        self.slider.setToolTip("Frames whose best match scores below this have no sample of this view")
        self.threshold = QDoubleSpinBox(self)
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.01)
        self.threshold.setKeyboardTracking(False)
        self.slider.valueChanged.connect(lambda v: self._set_threshold(v / 100.0))
        self.threshold.valueChanged.connect(self._set_threshold)
        th_row = QHBoxLayout()
        th_row.addWidget(self.slider, 1)
        th_row.addWidget(self.threshold)
        form = QFormLayout()
        form.addRow("Crop window", crop_row)
        form.addRow("Match threshold", th_row)
        self.every = QSpinBox(self)
        self.every.setRange(1, 1000)
        self.every.setValue(2)
        self.every.setPrefix("every ")
        self.every.setToolTip("Score every Nth frame of the video")
        self.score_button = QPushButton("Score curve", self)
        self.score_button.setToolTip(
            "Match this view's template on frames of the video and plot the best score"
        )
        self.score_button.clicked.connect(self.score_curve)
        self.job = JobBar(self)
        score_row = row(self.score_button, self.every, (self.job, 1))
        self.plot = SignalPlot(self, colors, "match score")
        self.plot.thresholdMoved.connect(lambda _n, v: self._set_threshold(v))

        frame_tab = QWidget(self)
        fl = QVBoxLayout(frame_tab)
        fl.setContentsMargins(0, 4, 0, 0)
        fl.addWidget(self.canvas, 3)
        fl.addWidget(self.caption)
        fl.addLayout(form)
        fl.addLayout(score_row)
        fl.addWidget(self.plot, 2)
        self.roi_editor = ViewRoiEditor(self, colors)
        self.roi_editor.viewEdited.connect(self._push)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(frame_tab, "Template && crop")
        self.tabs.addTab(self.roi_editor, "ROI && zones")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)

        model.opened.connect(self._on_snapshot)
        model.changed.connect(self._on_snapshot)
        model.closed.connect(lambda: self._on_snapshot(None))
        model.viewSelected.connect(self.view_box.setCurrentText)
        self._on_snapshot(None)

    # --- state ------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._threads.busy or self.job.running

    @property
    def view_name(self) -> str:
        return self.view_box.currentText().strip()

    @property
    def view(self) -> Any:
        snap = self.model.snapshot
        return None if snap is None else snap.views.get(self.view_name)

    def set_colors(self, colors: Colors) -> None:
        self.colors = colors
        for w in (self.canvas, self.plot, self.roi_editor):
            w.set_colors(colors)

    def _push(self, old: Any, new: Any, text: str, merge_key: Any = None) -> None:
        self.undo.set_view(old, new, text, merge_key)

    # --- project ----------------------------------------------------------------------------------
    def _on_snapshot(self, snap: Any) -> None:
        names = [] if snap is None else list(snap.views)
        current = self.view_name
        self.view_box.blockSignals(True)
        self.view_box.clear()
        self.view_box.addItems(names)
        self.view_box.setEditText(current if current or not names else names[0])
        self.view_box.blockSignals(False)
        self._show_view()

    def _on_view_chosen(self, _text: str) -> None:
        self.plot.clear_signal()
        self._show_view()

    def _show_view(self) -> None:
        v = self.view
        self.cut_button.setText("Replace template" if v is not None else "Use as template")
        for w in (*self.crop_spins.values(), self.slider, self.threshold, self.score_button):
            w.setEnabled(v is not None)
        if v is not None:
            values = {"x": v.crop.x, "y": v.crop.y, "w": v.crop.w, "h": v.crop.h}
            for key, box in self.crop_spins.items():
                box.blockSignals(True)
                box.setValue(values[key])
                box.blockSignals(False)
            for w, val in (
                (self.slider, round(v.match_threshold * 100)),
                (self.threshold, v.match_threshold),
            ):
                w.blockSignals(True)
                w.setValue(val)
                w.blockSignals(False)
            self.plot.set_threshold("threshold", v.match_threshold, self.colors.defective)
        self._refresh_shown()

    def _refresh_shown(self) -> None:
        """Match the view on the frame and load its crop for the ROI editor, once the pane is on
        screen (a hidden pane does no matching while the video is scrubbed or a station opens)."""
        self._stale = not self.isVisible()
        if not self._stale:
            self._match_current()
            self._load_crop_image()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._stale:
            self._refresh_shown()

    def _load_crop_image(self) -> None:
        """The ROI is painted on a sample of the view when there is one, else on the current frame."""
        v, snap = self.view, self.model.snapshot
        if v is None:
            self.roi_editor.show_view(None, None)
            return
        sample = next(
            (s for s in snap.samples if s.view == v.name and (s.height, s.width) == (v.crop.h, v.crop.w)),
            None,
        )
        if sample is None:
            self.roi_editor.show_view(v, self._frame_crop(v))
            return
        name = v.name
        self.model.call(lambda p: p.sample_image(sample.id), lambda img: self._crop_image_ready(name, img))

    def _crop_image_ready(self, name: str, image: np.ndarray) -> None:
        if self.view is not None and self.view.name == name:
            self.roi_editor.show_view(self.view, image)

    def _frame_crop(self, v: Any) -> np.ndarray | None:
        if self.frame is None or self.match is None:
            return None
        _, mx, my = self.match
        return crop_of(self.frame, mx + v.crop.x, my + v.crop.y, v.crop.w, v.crop.h)

    # --- the frame ----------------------------------------------------------------------------------
    def _on_frame(self, fetcher: FrameFetcher, index: int, frame: np.ndarray) -> None:
        self.frame, self.frame_index = frame, index
        self.frame_path = fetcher.info.path if fetcher.info else None
        self.canvas.set_image(frame)
        if fetcher.info is not None and fetcher.info.frame_count != self.plot._span:
            self.plot.set_span(fetcher.info.frame_count)
        if self.isVisible():
            self._match_current()
        else:
            self._stale = True

    def _on_rect(self, x: int, y: int, w: int, h: int) -> None:
        if self.frame is None:
            return
        H, W = self.frame.shape[:2]
        x, y = min(max(x, 0), W - 1), min(max(y, 0), H - 1)
        self.rect = (x, y, min(w, W - x), min(h, H - y))
        self._draw_boxes()

    def _match_current(self) -> None:
        """Find the view on the frame shown (worker thread) to place its crop window there."""
        v, frame = self.view, self.frame
        self._match_gen += 1
        gen = self._match_gen
        if v is None or frame is None:
            self.match = None
            self._draw_boxes()
            return
        name, template = v.name, v.template

        def done(m: tuple[float, int, int]) -> None:
            if gen == self._match_gen:
                self.match = m
                self._draw_boxes()

        def failed(e: BaseException) -> None:
            if gen == self._match_gen:
                self.match = None
                self._draw_boxes()
                self.caption.setText(f"{name} cannot be matched: {e}")

        self._threads.submit(lambda: match_on(frame, name, template), done, failed)

    def _draw_boxes(self) -> None:
        boxes = []
        if self.rect is not None:
            boxes.append((*self.rect, "new template", self.colors.cursor))
        v = self.view
        if v is not None and self.match is not None:
            score, mx, my = self.match
            th, tw = v.template.shape[:2]
            ok = score >= v.match_threshold
            boxes.append(
                (mx, my, tw, th, f"{v.name} {score:.2f}", self.colors.good if ok else self.colors.muted)
            )
            self.crop_roi.blockSignals(True)
            self.crop_roi.setPos((mx + v.crop.x, my + v.crop.y), update=False, finish=False)
            self.crop_roi.setSize((v.crop.w, v.crop.h), finish=False)
            self.crop_roi.blockSignals(False)
            self.crop_roi.show()
            self.caption.setText(
                f"Frame {self.frame_index}: {v.name} matches with score {score:.2f} "
                f"({'at or above' if ok else 'below'} its threshold {v.match_threshold:.2f}); "
                "drag the blue crop window or its corner handles to move or size it."
            )
        else:
            self.crop_roi.hide()
            self.caption.setText(
                HINT
                if self.frame is not None
                else "Scrub the station's video or an import preview to get a frame."
            )
        self.canvas.set_boxes(boxes)

    # --- edits ------------------------------------------------------------------------------------
    def make_template(self) -> None:
        """Make the drawn rectangle the template of the named view (new, or replacing its template)."""
        name, frame, rect = self.view_name, self.frame, self.rect
        if not name or frame is None or rect is None:
            self.model.failed.emit("Template", "Name the view and drag a rectangle on a frame first.")
            return
        old = self.view
        try:
            from workbench.jobs.import_video import view_from_rectangle

            made = view_from_rectangle(name, frame, rect, self.frame_index)
        except ValueError as exc:
            self.model.failed.emit("Template", str(exc))
            return
        if old is None:
            self._push(None, made, f"new view {name}")
        else:
            new = edited(old, template=made.template, template_origin=made.template_origin)
            self._push(old, new, f"replace the template of {name}")
        self.rect = None

    def _set_threshold(self, value: float) -> None:
        v = self.view
        if v is None or abs(value - v.match_threshold) < 1e-9:
            return
        self._push(
            v, edited(v, match_threshold=float(value)), f"match threshold of {v.name}", f"threshold:{v.name}"
        )

    def _set_crop(self, x: int, y: int, w: int, h: int) -> None:
        from workbench.project.types import CropWindow

        v = self.view
        crop = CropWindow(int(x), int(y), max(int(w), 4), max(int(h), 4))
        if v is not None and crop != v.crop:
            self._push(v, with_crop(v, crop), f"crop window of {v.name}")

    def _on_crop_spin(self, _value: int) -> None:
        s = {k: b.value() for k, b in self.crop_spins.items()}
        self._set_crop(s["x"], s["y"], s["w"], s["h"])

    def _on_crop_dragged(self, roi: Any) -> None:
        if self.match is None:
            return
        _, mx, my = self.match
        pos, size = roi.pos(), roi.size()
        self._set_crop(round(pos.x() - mx), round(pos.y() - my), round(size.x()), round(size.y()))

    def score_curve(self) -> None:
        """Plot the view's best match score on every Nth frame of the video shown (worker thread)."""
        v, path = self.view, self.frame_path
        if v is None or path is None or self.job.running:
            return
        name, template, every = v.name, v.template, self.every.value()
        progress, cancel = self.job.start(f"Matching {v.name} on the video …")

        def done(result: tuple[np.ndarray, np.ndarray]) -> None:
            frames, scores = result
            self.plot.set_signal(frames, scores)
            above = int((scores >= self.view.match_threshold).sum()) if self.view else 0
            self.job.finish(f"{above} of {len(frames)} frames at or above the threshold")

        def failed(e: BaseException) -> None:
            self.job.finish(f"Score curve stopped: {e}")

        self._threads.submit(
            lambda: match_scores(path, name, template, every, progress, cancel), done, failed
        )
