"""The settings of a video import: which frames to read (every Nth, a time range) and the pass rule
(presence statistic, hysteresis thresholds, shortest pass and gap)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QGroupBox,
    QSpinBox,
    QWidget,
)

from workbench.gui.widgets.boxes import choice_box, form, row

STATISTIC_TEXT = {"mean_abs_diff": "mean grey difference", "changed_fraction": "changed pixel fraction"}


def _ranged(box: QSpinBox | QDoubleSpinBox, lo: float, hi: float, value: float, tip: str, suffix: str):
    """``box`` with its range, value, unit and tooltip; it reports a value once the typing is done."""
    box.setRange(lo, hi)
    box.setValue(value)
    box.setSuffix(suffix)
    box.setToolTip(tip)
    box.setKeyboardTracking(False)
    return box


def _spin(
    parent: QWidget, lo: float, hi: float, value: float, step: float, decimals: int, tip: str, suffix=""
) -> QDoubleSpinBox:
    box = QDoubleSpinBox(parent)
    box.setDecimals(decimals)  # first: the range and the value are rounded to it
    box.setSingleStep(step)
    return _ranged(box, lo, hi, value, tip, suffix)


def _int_spin(parent: QWidget, lo: int, hi: int, value: int, tip: str, suffix: str = "") -> QSpinBox:
    return _ranged(QSpinBox(parent), lo, hi, value, tip, suffix)


class ImportForm(QWidget):
    """Emits ``changed`` when any setting changes; :meth:`sampling` and :meth:`rule` build the records
    the import job takes (a ValueError in the user's words when they do not fit together)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        sampling = QGroupBox("Sampling", self)
        self.every = _int_spin(sampling, 1, 1000, 1, "Read every Nth frame (1 = every frame)")
        self.start_s = _spin(sampling, 0, 1e6, 0, 1, 1, "Start of the time range read", " s")
        self.end_s = _spin(sampling, 0, 1e6, 0, 1, 1, "End of the time range read (0 = to the end)", " s")
        self.end_s.setSpecialValueText("end")
        form(("Every", self.every), ("From / to", row(self.start_s, self.end_s)), parent=sampling)

        rule = QGroupBox("Pass rule", self)
        self.statistic = choice_box(rule, STATISTIC_TEXT, "How a frame differs from the empty conveyor")
        self.high = _spin(rule, 0, 255, 12, 0.5, 3, "A pass starts when the presence reaches this")
        self.low = _spin(rule, 0, 255, 8, 0.5, 3, "A pass ends when the presence falls below this")
        self.min_pass = _int_spin(rule, 1, 100000, 5, "Shorter runs of frames are not a pass", " frames")
        self.min_gap = _int_spin(rule, 0, 100000, 5, "Shorter gaps are bridged", " frames")
        self.statistic.currentIndexChanged.connect(self._on_statistic)
        form(
            ("Presence", self.statistic),
            ("High / low", row(self.high, self.low)),
            ("Min pass / gap", row(self.min_pass, self.min_gap)),
            parent=rule,
        )
        row(sampling, (rule, 1), parent=self).setContentsMargins(0, 0, 0, 0)
        for box in (self.every, self.start_s, self.end_s, self.high, self.low, self.min_pass, self.min_gap):
            box.valueChanged.connect(lambda _v: self.changed.emit())

    def _on_statistic(self, _index: int) -> None:
        # the two statistics live on different scales: grey levels or a fraction of pixels
        fraction = self.statistic.currentData() == "changed_fraction"
        for box, grey, frac in ((self.high, 12.0, 0.05), (self.low, 8.0, 0.02)):
            box.blockSignals(True)
            box.setMaximum(1.0 if fraction else 255.0)
            box.setSingleStep(0.01 if fraction else 0.5)
            box.setValue(frac if fraction else grey)
            box.blockSignals(False)
        self.changed.emit()

    def sampling(self, fps: float) -> Any:
        """The :class:`FrameRange` to read from a video at ``fps`` frames per second."""
        from workbench.io.video import frame_range

        end = self.end_s.value() or None
        start = self.start_s.value() or None
        return frame_range(fps, start_s=start, end_s=end, every=self.every.value())

    def rule(self) -> Any:
        """The :class:`PassRule` of the form."""
        from workbench.io.passes import PassRule

        return PassRule(
            statistic=self.statistic.currentData(),
            high=self.high.value(),
            low=self.low.value(),
            min_pass=self.min_pass.value(),
            min_gap=self.min_gap.value(),
        )
