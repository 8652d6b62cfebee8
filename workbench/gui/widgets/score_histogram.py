"""The image scores of normal and defective samples as two histograms, with a draggable threshold line
that says its value; the title names the view (and zone) and the run it shows."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor

from workbench.gui.pg import pyqtgraph as pg
from workbench.gui.runs import sig
from workbench.gui.theme import DARK, Colors


def _fill(color: str, alpha: int) -> QColor:
    c = QColor(color)
    c.setAlpha(alpha)
    return c


class ScoreHistogram(pg.PlotWidget):
    """``thresholdDragged(value)`` while the user drags the line."""

    thresholdDragged = Signal(float)

    def __init__(self, parent=None, colors: Colors = DARK):
        super().__init__(parent)
        self.setMenuEnabled(False)
        self.hideButtons()
        self.setMouseEnabled(x=False, y=False)
        self.setLabel("bottom", "image score")
        self.setLabel("left", "samples")
        self.normals = self.plot([], [], stepMode="center", fillLevel=0, name="normal")
        self.defects = self.plot([], [], stepMode="center", fillLevel=0, name="defective")
        self.line = pg.InfiniteLine(angle=90, movable=True)
        self.line.sigDragged.connect(lambda ln: self._dragged(float(ln.value())))
        self.label = pg.InfLineLabel(self.line, text="", position=0.92, anchors=[(0, 0), (0, 0)])
        self.addItem(self.line)
        self.setMinimumHeight(8 * self.fontMetrics().height())
        self._caption = ""
        self.set_colors(colors)

    def set_caption(self, text: str) -> None:
        """The title, with the colour key of the two groups (in the title, never over the bars)."""
        self._caption = text
        c = self.colors
        self.setTitle(
            f"{text} &nbsp; <span style='color:{c.good}'>■</span> normal "
            f"&nbsp; <span style='color:{c.defective}'>■</span> defective"
        )

    def set_colors(self, colors: Colors) -> None:
        self.colors = colors
        self.set_caption(self._caption)
        self.setBackground(colors.canvas)
        self.normals.setPen(pg.mkPen(colors.good, width=1.5))
        self.normals.setBrush(_fill(colors.good, 90))
        self.defects.setPen(pg.mkPen(colors.defective, width=1.5))
        self.defects.setBrush(_fill(colors.defective, 110))
        self.line.setPen(pg.mkPen(colors.cursor, width=2))
        self.label.setColor(colors.cursor)

    def clear_scores(self) -> None:
        self.normals.setData([], [])
        self.defects.setData([], [])

    def set_scores(self, normal: np.ndarray, defective: np.ndarray, bins: int = 30) -> None:
        """Histograms of the two groups on shared bins spanning both."""
        both = np.concatenate([normal, defective]).astype(np.float64)
        both = both[np.isfinite(both)]
        if both.size == 0:
            self.clear_scores()
            return
        lo, hi = float(both.min()), float(both.max())
        if hi <= lo:
            hi = lo + 1.0
        edges = np.linspace(lo, hi, max(5, min(bins, both.size * 2)) + 1)
        counts = [np.histogram(values, edges)[0] for values in (normal, defective)]
        self.normals.setData(edges, counts[0].astype(float))
        self.defects.setData(edges, counts[1].astype(float))
        pad = 0.05 * (hi - lo)
        self.setXRange(lo - pad, hi + pad, padding=0)
        top = max(1, int(max(c.max(initial=0) for c in counts)))
        step = max(1, int(np.ceil(top / 5)))  # whole samples on the axis
        self.getAxis("left").setTickSpacing(step, step)
        self.setYRange(0, top * 1.1, padding=0)

    def _dragged(self, value: float) -> None:
        self.label.setText(f"threshold {sig(value)}")
        self.thresholdDragged.emit(value)

    def set_threshold(self, value: float) -> None:
        self.line.blockSignals(True)
        self.line.setValue(value)
        self.line.blockSignals(False)
        self.label.setText(f"threshold {sig(value)}")
