"""One threshold to set by slider or by number, with its live TP / FP / TN / FN (each a link to the samples
behind it) and its rates with their 95 % intervals beside it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDoubleSpinBox, QGridLayout, QLabel, QSlider, QWidget

from workbench.gui.runs import sig

STEPS = 1000
COUNT_KEYS = ("tp", "fp", "tn", "fn")


def rates_text(c) -> str:
    """'recall 1.00, >= 0.44 at 95 % from 3 defects · FPR 0.10, 0.02-0.40 at 95 % from 10 normals ·
    precision 0.75, 0.30-0.95 at 95 % from 4 flagged' for a Counts (eval's interval, Wilson)."""
    from workbench.metrics.intervals import format_rate

    return " · ".join(
        (
            format_rate("recall", c.tp, c.tp + c.fn, "defects"),
            format_rate("FPR", c.fp, c.fp + c.tn, "normals"),
            format_rate("precision", c.tp, c.tp + c.fp, "flagged"),
        )
    )


def readable(text: str) -> str:
    """Rates text for a rich-text label: '<=' and '>=' as signs (a bare '<' would start a tag)."""
    import html

    return html.escape(text.replace("<=", "≤").replace(">=", "≥"), quote=False)


def counts_text(c) -> str:
    """'TP 3 · FP 1 · TN 9 · FN 0 — recall 1.00, >= 0.44 at 95 % from 3 defects · …' (plain text)."""
    return f"TP {c.tp} · FP {c.fp} · TN {c.tn} · FN {c.fn} — " + rates_text(c)


def shown_text(c) -> str:
    """The plain text a row shows for a Counts (``counts_text`` with ≤ and ≥ signs)."""
    return counts_text(c).replace("<=", "≤").replace(">=", "≥")


def plain(html_text: str) -> str:
    """What a rich-text label reads as, without its markup."""
    from PySide6.QtGui import QTextDocumentFragment

    return QTextDocumentFragment.fromHtml(html_text).toPlainText()


def counts_html(c, link_color: str = "") -> str:
    """The counts as links (href 'tp', 'fp', 'tn', 'fn': open the samples behind them) and the rates."""
    style = f" style='color:{link_color}'" if link_color else ""
    links = " · ".join(
        f"<a href='{k}'{style}>{k.upper()} {getattr(c, k)}</a>" if getattr(c, k) else f"{k.upper()} 0"
        for k in COUNT_KEYS
    )
    return f"{links} — {readable(rates_text(c))}"


class ThresholdRow(QWidget):
    """``moved(value)`` on every change; ``pressed()`` when a drag or an edit starts (the reference
    for 'what just changed'); ``countClicked(key)`` ('tp', 'fp', 'tn' or 'fn'). The slider spans
    [lo, hi] (the same span for every row of one run, so one value sits at one handle position);
    the number box takes any value."""

    moved = Signal(float)
    pressed = Signal()
    countClicked = Signal(str)

    def __init__(self, title: str, lo: float, hi: float, value: float, parent: QWidget | None = None):
        super().__init__(parent)
        self.lo, self.hi = float(lo), float(hi) if hi > lo else float(lo) + 1.0
        self.title = QLabel(f"<b>{title}</b>", self)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, STEPS)
        self.slider.setPageStep(STEPS // 20)
        self.spin = QDoubleSpinBox(self)
        span = self.hi - self.lo
        # three significant digits of the span's scale, shown; finer steps still reach the value
        self.spin.setDecimals(max(0, min(8, 2 - int(f"{span:e}".split("e")[1]))))
        self.spin.setRange(-1e12, 1e12)
        self.spin.setSingleStep(span / 100)
        self.spin.setKeyboardTracking(False)
        self.counts = QLabel("", self)
        self.counts.setTextFormat(Qt.TextFormat.RichText)
        self.counts.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.LinksAccessibleByMouse
        )
        self.counts.setWordWrap(True)  # two lines in a narrow pane rather than a sideways scroll
        self.counts.linkActivated.connect(self.countClicked)
        self.counts.setToolTip("Click a count to see the samples behind it")
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

    def handle_position(self) -> int:
        """Where the slider's handle stands for the current value (0..STEPS)."""
        return self.slider.value()

    def _pos(self, value: float) -> int:
        return int(round((value - self.lo) / (self.hi - self.lo) * STEPS))

    def _sync(self, value: float) -> None:
        for w, v in ((self.slider, max(0, min(STEPS, self._pos(value)))), (self.spin, value)):
            w.blockSignals(True)
            w.setValue(v)
            w.blockSignals(False)
        self.slider.setToolTip(f"threshold {sig(value)}")

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
