"""The frame viewer: the station's video with a scrubber, its passes and samples on a timeline, and the
crop windows of the views matched on the frame shown."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QComboBox, QLabel, QStackedWidget, QWidget

from workbench.gui.frame_source import FrameFetcher, VideoInfo
from workbench.gui.panes.pane import Pane
from workbench.gui.station_model import Snapshot, StationModel, sample_box
from workbench.gui.theme import DARK, Colors
from workbench.gui.widgets.boxes import column, row, text_label
from workbench.gui.widgets.image_canvas import ImageCanvas
from workbench.gui.widgets.scrubber import Scrubber
from workbench.gui.widgets.timeline import Mark, Timeline

NO_PROJECT = "Open a station (File ▸ Open) to see its video here."


class FrameViewer(Pane):
    """Scrubbing requests frames from a :class:`FrameFetcher`; the newest request always wins."""

    def __init__(self, model: StationModel, parent: QWidget | None = None, colors: Colors = DARK):
        super().__init__(model, parent, colors)
        self.source_id: str | None = None
        self.frame_index: int | None = None  # the frame on screen
        self._wanted: int | None = None  # the frame asked for and not yet shown
        self._opening = False
        self._goto_after_open: int | None = None
        self.fetcher = FrameFetcher(self)
        self.fetcher.opened.connect(self._on_opened)
        self.fetcher.failed.connect(self._on_failed)
        self.fetcher.frameReady.connect(self._on_frame)
        self.fetcher.frameFailed.connect(self._on_frame_failed)

        self.source_box = QComboBox(self)
        self.source_box.setToolTip("Which video of the station to show")
        self.source_box.currentIndexChanged.connect(self._on_source_chosen)
        self.caption = QLabel("", self)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top = row(self.source_box, (self.caption, 1))
        self.canvas = ImageCanvas(self, colors)
        self.message = text_label(self, NO_PROJECT)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.message)
        self.stack.addWidget(self.canvas)
        self.scrubber = Scrubber(self)
        self.timeline = Timeline(self, colors)
        layout = column(top, (self.stack, 1), self.timeline, self.scrubber, parent=self)
        layout.setContentsMargins(4, 4, 4, 4)

        self.scrubber.frameChanged.connect(self.goto)
        self.scrubber.playToggled.connect(self._on_play)
        self.timeline.seekRequested.connect(self.goto)
        self._play_timer = QTimer(self)
        self._play_timer.timeout.connect(self._tick)
        ctx = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for key, fn in (
            (Qt.Key.Key_Space, lambda: self.scrubber.set_playing(not self.scrubber.playing)),
            (Qt.Key.Key_Right, lambda: self.scrubber.step(1)),
            (Qt.Key.Key_Left, lambda: self.scrubber.step(-1)),
        ):
            QShortcut(QKeySequence(key), self, fn, context=ctx)

        model.opened.connect(self._on_snapshot)
        model.changed.connect(self._on_snapshot)
        model.closed.connect(self._on_closed)
        model.sampleSelected.connect(self._on_sample_selected)
        self._set_message(NO_PROJECT)

    # --- state for callers ------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """True while a video is opening or a frame asked for is not on screen yet."""
        return self._opening or self._wanted is not None

    def set_colors(self, colors: Colors) -> None:
        super().set_colors(colors)
        self.canvas.set_colors(colors)
        self.timeline.set_colors(colors)
        self._draw_boxes()

    def shutdown(self) -> None:
        self._play_timer.stop()
        self.fetcher.close()

    # --- project ----------------------------------------------------------------------------------
    def _on_snapshot(self, snap: Snapshot) -> None:
        videos = snap.video_sources()
        self.source_box.blockSignals(True)
        self.source_box.clear()
        for s in videos:
            self.source_box.addItem(f"{s.id}  {os.path.basename(s.uri)}", s.id)
        self.source_box.setVisible(len(videos) > 1)
        ids = [s.id for s in videos]
        keep = self.source_id in ids
        self.source_box.setCurrentIndex(ids.index(self.source_id) if keep else 0)
        self.source_box.blockSignals(False)
        if not videos:
            self.fetcher.close()
            self.source_id = None
            self.scrubber.set_range(0, 0.0)
            self.timeline.set_data(0, [], [])
            self._set_message("This station has no video source yet (Import will add one).")
            return
        if keep:
            self._update_timeline()
            self._draw_boxes()
        else:
            samples = snap.samples_of(ids[0])
            first = min(samples, key=lambda s: s.id).frame if samples else 0
            self.set_source(ids[0], goto=first)

    def _on_closed(self) -> None:
        self.shutdown()
        self.source_id = None
        self.frame_index = self._wanted = None
        self._opening = False
        self.source_box.clear()
        self.scrubber.set_range(0, 0.0)
        self.timeline.set_data(0, [], [])
        self.caption.setText("")
        self._set_message(NO_PROJECT)

    def _on_source_chosen(self, index: int) -> None:
        sid = self.source_box.itemData(index)
        if sid and sid != self.source_id:
            self.set_source(sid)

    def set_source(self, source_id: str, goto: int | None = None) -> None:
        """Show video source ``source_id`` of the project, at frame ``goto`` once it is open."""
        snap = self.model.snapshot
        source = None if snap is None else snap.source(source_id)
        if source is None:
            return
        self.source_id = source_id
        self.frame_index = self._wanted = None
        self._opening = True
        self._goto_after_open = goto
        self.scrubber.set_range(0, 0.0)
        self._update_timeline()
        self.caption.setText(source.uri)
        self._set_message(f"Opening {os.path.basename(source.uri)} …")
        self.fetcher.open(source.uri)

    def _source_meta(self) -> dict[str, Any]:
        snap = self.model.snapshot
        source = None if snap is None or self.source_id is None else snap.source(self.source_id)
        return {} if source is None else source.meta

    def _update_timeline(self) -> None:
        snap = self.model.snapshot
        if snap is None or self.source_id is None:
            return
        meta = self._source_meta()
        count = (
            self.fetcher.info.frame_count
            if self.fetcher.info
            else meta.get("frames", meta.get("frame_count", 0))
        )
        marks = [
            Mark(s.frame, s.label, f"#{s.id} {s.view} ({s.split}, {s.label})")
            for s in snap.samples_of(self.source_id)
        ]
        self.timeline.set_data(int(count or 0), [tuple(p) for p in meta.get("passes") or []], marks)

    # --- video ------------------------------------------------------------------------------------
    def _on_opened(self, info: VideoInfo) -> None:
        self._opening = False
        self.scrubber.set_range(info.frame_count, info.fps)
        self._update_timeline()
        self.caption.setText(f"{info.path}  ·  {info.width}×{info.height}  ·  {info.fps:.1f} fps")
        start = self._goto_after_open or 0
        self._goto_after_open = None
        self.goto(min(max(start, 0), info.frame_count - 1))

    def _on_failed(self, message: str) -> None:
        self._opening = False
        self._goto_after_open = None
        self._update_timeline()  # passes and samples still show from the project
        self._set_message(
            f"The video of this station cannot be shown:\n{message}\n\n"
            "The project itself is fine: its samples are in the Station tree."
        )

    def goto(self, index: int) -> None:
        """Show frame ``index`` (asked from the reader thread; the picture follows when decoded)."""
        if self.fetcher.info is None:
            return
        index = int(min(max(index, 0), self.fetcher.info.frame_count - 1))
        self.scrubber.set_frame(index)
        self.timeline.set_current(index)
        if index == self.frame_index and self._wanted is None:
            return
        self._wanted = index
        self.fetcher.request(index)

    def _on_frame(self, index: int, frame: np.ndarray) -> None:
        if index == self._wanted:
            self._wanted = None
        self.frame_index = index
        self.canvas.set_image(frame)
        self.stack.setCurrentWidget(self.canvas)
        self._draw_boxes()

    def _on_frame_failed(self, index: int, message: str) -> None:
        if index == self._wanted:
            self._wanted = None
        self.scrubber.set_playing(False)
        self.caption.setText(message)

    def _draw_boxes(self) -> None:
        """Crop windows of the samples taken from the frame on screen, labelled with view and id."""
        snap = self.model.snapshot
        if snap is None or self.frame_index is None:
            self.canvas.set_boxes([])
            return
        boxes = []
        for s in snap.by_frame.get((self.source_id, self.frame_index), []):
            x, y, w, h = sample_box(s, snap.views)
            color = self.colors.cursor if s.id == self.model.selected_sample else self.colors.box
            boxes.append((x, y, w, h, f"{s.view} #{s.id}", color))  # short: boxes of views often touch
        self.canvas.set_boxes(boxes)

    def _on_sample_selected(self, sid: int) -> None:
        snap = self.model.snapshot
        s = None if snap is None else snap.sample(sid)
        if s is None or s.frame < 0:
            return
        self.scrubber.set_playing(False)
        if s.source != self.source_id:
            if snap.source(s.source) is not None and snap.source(s.source).kind == "video":
                self.source_box.blockSignals(True)
                self.source_box.setCurrentIndex(max(self.source_box.findData(s.source), 0))
                self.source_box.blockSignals(False)
                self.set_source(s.source, goto=s.frame)
            return
        if self._opening:
            self._goto_after_open = s.frame
        else:
            self.goto(s.frame)
            self._draw_boxes()  # the selected sample's box changes colour even when the frame does not

    # --- playback ---------------------------------------------------------------------------------
    def _on_play(self, on: bool) -> None:
        info = self.fetcher.info
        if on and info is not None:
            fps = info.fps if info.fps > 0 else 25.0
            self._play_timer.start(int(max(1000.0 / fps, 10)))
        else:
            self._play_timer.stop()

    def _tick(self) -> None:
        info = self.fetcher.info
        if info is None or self.scrubber.frame >= info.frame_count - 1:
            self.scrubber.set_playing(False)
            return
        if self._wanted is None:  # drop frames rather than queue them when decoding is slower than fps
            self.goto(self.scrubber.frame + 1)

    def _set_message(self, text: str) -> None:
        self.message.setText(text)
        self.stack.setCurrentWidget(self.message)
        self.canvas.set_boxes([])
