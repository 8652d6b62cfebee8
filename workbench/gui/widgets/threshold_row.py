"""One threshold to set by slider or by number, with its live TP / FP / TN / FN and rates beside it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDoubleSpinBox, QGridLayout, QLabel, QSlider, QWidget

STEPS = 1000


def counts_text(c) -> str:
    """'TP 3 · FP 1 · TN 9 · FN 0 — precision 0.75 · recall 1.00 · FPR 0.10 · FNR 0.00' for a Counts;
    a rate without samples to divide by (no defect, nothing flagged) reads '–'."""

    def rate(name: str, value: float, denominator: int) -> str:
        return f"{name} {value:.2f}" if denominator else f"{name} –"

    rates = (
        rate("precision", c.precision, c.tp + c.fp),
        rate("recall", c.recall, c.tp + c.fn),
        rate("FPR", c.fpr, c.fp + c.tn),
        rate("FNR", c.fnr, c.fn + c.tp),
    )
    return f"TP {c.tp} · FP {c.fp} · TN {c.tn} · FN {c.fn} — " + " · ".join(rates)


class ThresholdRow(QWidget):
    """``moved(value)`` on every change; ``pressed()`` when a drag or an edit starts (the reference
    for 'what just changed'). The slider spans [lo, hi]; the number box takes any value."""

    moved = Signal(float)
    pressed = Signal()

    def __init__(self, title: str, lo: float, hi: float, value: float, parent: QWidget | None = None):
        super().__init__(parent)
        self.lo, self.hi = float(lo), float(hi) if hi > lo else float(lo) + 1.0
        self.title = QLabel(f"<b>{title}</b>", self)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, STEPS)
        self.slider.setPageStep(STEPS // 20)
        self.spin = QDoubleSpinBox(self)
        span = self.hi - self.lo
        self.spin.setDecimals(max(2, min(8, 3 - int(f"{span:e}".split("e")[1]))))
        self.spin.setRange(-1e12, 1e12)
        self.spin.setSingleStep(span / 100)
        self.spin.setKeyboardTracking(False)
        self.counts = QLabel("", self)
        self.counts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.counts.setWordWrap(True)  # two lines in a narrow pane rather than a sideways scroll
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 2, 0, 2)
        grid.addWidget(self.title, 0, 0)
        grid.addWidget(self.slider, 0, 1)
        grid.addWidget(self.spin, 0, 2)
        grid.addWidget(self.counts, 1, 0, 1, 3)
        grid.setColumnStretch(1, 1)
        self._value = float(value)
        self._sync(self._value)
        self.slider.sliderPressed.connect(self.pressed)
        self.slider.valueChanged.connect(self._from_slider)
        self.spin.valueChanged.connect(self._from_spin)

    def value(self) -> float:
        return self._value

    def set_value(self, value: float) -> None:
        """Set the threshold from outside (the histogram's line); emits ``moved``."""
        self._set(float(value))

    def _pos(self, value: float) -> int:
        return int(round((value - self.lo) / (self.hi - self.lo) * STEPS))

    def _sync(self, value: float) -> None:
        for w, v in ((self.slider, max(0, min(STEPS, self._pos(value)))), (self.spin, value)):
            w.blockSignals(True)
            w.setValue(v)
            w.blockSignals(False)

    def _set(self, value: float) -> None:
        if value == self._value:
            return
        self._value = value
        self._sync(value)
        self.moved.emit(value)

    def _from_slider(self, pos: int) -> None:
        if not self.slider.isSliderDown():
            self.pressed.emit()  # keyboard and page steps: each one is its own change
        self._set(self.lo + (self.hi - self.lo) * pos / STEPS)

    def _from_spin(self, value: float) -> None:
        self.pressed.emit()
        self._set(float(value))
