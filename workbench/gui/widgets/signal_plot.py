"""Per-frame signals over the video (each view's match score at its home, or the presence of a part) with
their threshold lines, the passes shaded behind them (suspect passes in the alarm colour with a "!" and
their reasons on hover, partial ones lighter) and the current frame marked; drag a threshold line to set
it (presence rule) or read the calibrated ones; click to seek."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsRectItem

from workbench.gui.pg import pyqtgraph as pg
from workbench.gui.theme import DARK, Colors

BAND_REACH = 1e6  # a pass's band reaches this far up and down: past any score the plot shows
PALETTE = ("#33c3ff", "#ffb347", "#b48cff", "#7ee081", "#ff7eb6", "#e0e060")


def _translucent(color: str, alpha: int) -> QColor:
    out = QColor(color)
    out.setAlpha(alpha)
    return out


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
        self.curves: list = [self.curve]  # one per signal; the first is ``curve``
        self.legend = None
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(colors.cursor, width=1))
        self.addItem(self.cursor)
        self.lines: dict[str, pg.InfiniteLine] = {}
        self._span = 1
        self._bands: list[pg.LinearRegionItem] = []
        self._marks: list = []
        self.pass_status: list[str] = []
        self.scene().sigMouseClicked.connect(self._on_click)
        self.set_colors(colors)
        self.set_span(1)

    def set_colors(self, colors: Colors) -> None:
        self.colors = colors
        self.setBackground(colors.canvas)
        self.curve.setPen(pg.mkPen(colors.box, width=1.5))
        self.cursor.setPen(pg.mkPen(colors.cursor, width=1))

    def set_signal(self, frames: np.ndarray, values: np.ndarray) -> None:
        """Plot one signal ``values`` (N,) at frame indices ``frames`` (N,); non-finite values leave gaps."""
        self.set_signals(frames, np.asarray(values, np.float64).reshape(-1, 1), [""])

    def set_signals(self, frames: np.ndarray, values: np.ndarray, names: list[str]) -> None:
        """Plot signals ``values`` (N, S) named ``names`` at frame indices ``frames`` (N,), one colour each."""
        v = np.asarray(values, np.float64).reshape(len(frames), -1)
        x = np.asarray(frames, np.float64)
        while len(self.curves) < v.shape[1]:
            self.curves.append(self.plot([], []))
        for k, c in enumerate(self.curves):
            if k < v.shape[1]:
                col = self.colors.box if v.shape[1] == 1 else PALETTE[k % len(PALETTE)]
                c.setPen(pg.mkPen(col, width=1.5))
                c.setData(x, v[:, k], connect="finite")
            else:
                c.setData([], [])
        if self.legend is not None:
            self.legend.clear()
        if v.shape[1] > 1:
            if self.legend is None:
                self.legend = self.addLegend(offset=(-8, 4), labelTextColor=self.colors.text)
            for c, name in zip(self.curves, names):
                self.legend.addItem(c, name)
        finite = v[np.isfinite(v)]
        tops = [ln.value() for ln in self.lines.values()] + ([float(finite.max())] if finite.size else [1.0])
        lo = min(0.0, float(finite.min())) if finite.size else 0.0
        hi = max(tops)
        self.setYRange(lo, hi * 1.08 if hi > 0 else 1.0, padding=0.02)
        if len(frames):
            self.setXRange(float(frames[0]), float(frames[-1]), padding=0.01)

    def clear_signal(self) -> None:
        for c in self.curves:
            c.setData([], [])
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
        """(N,) the largest signal per frame (the only one for a single signal)."""
        ys = [np.asarray(c.yData) for c in self.curves if c.yData is not None and len(c.yData)]
        if not ys:
            return np.zeros(0)
        with np.errstate(invalid="ignore"):
            return np.nanmax(np.stack([np.where(np.isfinite(y), y, np.nan) for y in ys]), axis=0)

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
                    # on the plot's own background, so the label stays readable where curves cross it
                    "fill": pg.mkBrush(_translucent(self.colors.canvas, 200)),
                },
            )
            line.sigPositionChangeFinished.connect(lambda ln, n=name: self.thresholdMoved.emit(n, ln.value()))
            self.addItem(line)
            self.lines[name] = line
        line.setMovable(movable)
        line.blockSignals(True)
        line.setValue(float(value))
        line.blockSignals(False)

    def remove_threshold(self, name: str) -> None:
        line = self.lines.pop(name, None)
        if line is not None:
            self.removeItem(line)

    def clear_thresholds(self) -> None:
        for line in self.lines.values():
            self.removeItem(line)
        self.lines = {}

    def set_passes(
        self,
        passes: list[tuple[int, int]],
        status: list[str] | None = None,
        reasons: list[list[str]] | None = None,
    ) -> None:
        """Shade the frames of each pass behind the curves; a suspect pass in the alarm colour, marked "!"
        with its reasons on hover, a partial one (cut by the video's start or end) lighter."""
        for item in [*self._bands, *self._marks]:
            self.removeItem(item)
        self._bands, self._marks = [], []
        status = list(status) if status is not None else ["ok"] * len(passes)
        self.pass_status = status
        for k, (a, b) in enumerate(passes):
            st = status[k] if k < len(status) else "ok"
            color = QColor(self.colors.defective if st == "suspect" else self.colors.passes)
            color.setAlpha({"suspect": 90, "partial": 55}.get(st, 110))
            # A plain rectangle, tall past any score, kept out of the auto-range: forty LinearRegionItems
            # (two InfiniteLines each) cost the GUI thread ~100 ms to add and paint on a 40-pass video.
            band = QGraphicsRectItem(QRectF(a, -BAND_REACH, max(b - a, 1), 2 * BAND_REACH))
            band.setBrush(pg.mkBrush(color))
            band.setPen(pg.mkPen(None))
            band.setZValue(-10)
            why = "; ".join(reasons[k]) if reasons and k < len(reasons) else ""
            band.setToolTip(f"pass {k} (frames {a}-{b}): {st}" + (f": {why}" if why else ""))
            self.addItem(band, ignoreBounds=True)
            self._bands.append(band)
            if st == "suspect":
                mark = pg.TextItem("!", color=self.colors.defective, anchor=(0.5, 0.0))
                font = mark.textItem.font()
                font.setBold(True)
                font.setPointSizeF(font.pointSizeF() * 1.4)
                mark.setFont(font)
                vr = self.viewRange()[1]
                mark.setPos((a + b) / 2, vr[1])
                self.addItem(mark)
                self._marks.append(mark)

    @property
    def suspect_marks(self) -> int:
        return len(self._marks)

    def set_current(self, frame: int) -> None:
        self.cursor.setValue(frame)

    def _on_click(self, event) -> None:
        if event.button() == pg.QtCore.Qt.MouseButton.LeftButton:
            x = self.plotItem.vb.mapSceneToView(event.scenePos()).x()
            self.seekRequested.emit(int(round(x)))
