"""A per-frame signal over the video (presence of a part, match score of a view) with its threshold
lines, the passes shaded behind it and the current frame marked; drag a threshold line to set it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor

from workbench.gui.pg import pyqtgraph as pg
from workbench.gui.theme import DARK, Colors


class SignalPlot(pg.PlotWidget):
    """``thresholdMoved(name, value)`` when the user drags a threshold line; click seeks
    (``seekRequested(frame)``)."""

    thresholdMoved = Signal(str, float)
    seekRequested = Signal(int)

    def __init__(self, parent=None, colors: Colors = DARK, y_label: str = ""):
        super().__init__(parent)
        self.colors = colors
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=True, y=False)
        self.hideButtons()
        self.showGrid(x=False, y=True, alpha=0.25)
        self.setLabel("bottom", "frame")
        if y_label:
            self.setLabel("left", y_label)
        em = self.fontMetrics().height()
        self.setMinimumHeight(int(7 * em))
        self.curve = self.plot([], [], pen=pg.mkPen(colors.box, width=1.5))
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(colors.cursor, width=1))
        self.addItem(self.cursor)
        self.lines: dict[str, pg.InfiniteLine] = {}
        self._span = 1
        self._bands: list[pg.LinearRegionItem] = []
        self.scene().sigMouseClicked.connect(self._on_click)
        self.set_colors(colors)
        self.set_span(1)

    def set_colors(self, colors: Colors) -> None:
        self.colors = colors
        self.setBackground(colors.canvas)
        self.curve.setPen(pg.mkPen(colors.box, width=1.5))
        self.cursor.setPen(pg.mkPen(colors.cursor, width=1))

    def set_signal(self, frames: np.ndarray, values: np.ndarray) -> None:
        """Plot ``values`` (N,) at frame indices ``frames`` (N,); non-finite values leave gaps."""
        v = np.asarray(values, np.float64)
        self.curve.setData(np.asarray(frames, np.float64), v, connect="finite")
        finite = v[np.isfinite(v)]
        # the range covers the curve and the threshold lines, so a line above every value stays in sight
        tops = [ln.value() for ln in self.lines.values()] + ([float(finite.max())] if finite.size else [1.0])
        lo = min(0.0, float(finite.min())) if finite.size else 0.0
        hi = max(tops)
        self.setYRange(lo, hi * 1.08 if hi > 0 else 1.0, padding=0.02)
        if len(frames):
            self.setXRange(float(frames[0]), float(frames[-1]), padding=0.01)

    def clear_signal(self) -> None:
        self.curve.setData([], [])
        self.set_passes([])
        self.set_span(self._span)

    def set_span(self, frame_count: int) -> None:
        """Frames 0..frame_count-1 on the x axis and 0..1 up, until a signal comes."""
        self._span = max(int(frame_count), 1)
        if self.curve.yData is None or not len(self.curve.yData):
            self.setXRange(0, self._span, padding=0.01)
            top = max([1.0] + [ln.value() * 1.1 for ln in self.lines.values()])
            self.setYRange(0, top, padding=0.02)

    @property
    def values(self) -> np.ndarray:
        y = self.curve.yData
        return np.zeros(0) if y is None else np.asarray(y)

    def set_threshold(self, name: str, value: float, color: str | None = None, movable: bool = True) -> None:
        """Show (or move) the horizontal threshold line ``name``."""
        line = self.lines.get(name)
        if line is None:
            line = pg.InfiniteLine(
                angle=0,
                movable=movable,
                pen=pg.mkPen(color or self.colors.defective, width=1.5, style=pg.QtCore.Qt.PenStyle.DashLine),
                label=name,
                labelOpts={
                    "position": 0.02 + 0.08 * len(self.lines),
                    "color": color or self.colors.defective,
                    "anchors": [(0, 1), (0, 1)],
                },
            )
            line.sigPositionChangeFinished.connect(lambda ln, n=name: self.thresholdMoved.emit(n, ln.value()))
            self.addItem(line)
            self.lines[name] = line
        line.blockSignals(True)
        line.setValue(float(value))
        line.blockSignals(False)

    def set_passes(self, passes: list[tuple[int, int]]) -> None:
        """Shade the frames of each pass behind the curve."""
        for band in self._bands:
            self.removeItem(band)
        color = QColor(self.colors.passes)
        color.setAlpha(110)
        self._bands = []
        for a, b in passes:
            band = pg.LinearRegionItem((a, b), movable=False, brush=pg.mkBrush(color), pen=pg.mkPen(None))
            band.setZValue(-10)
            self.addItem(band)
            self._bands.append(band)

    def set_current(self, frame: int) -> None:
        self.cursor.setValue(frame)

    def _on_click(self, event) -> None:
        if event.button() == pg.QtCore.Qt.MouseButton.LeftButton:
            x = self.plotItem.vb.mapSceneToView(event.scenePos()).x()
            self.seekRequested.emit(int(round(x)))
