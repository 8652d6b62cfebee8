"""A strip under the scrubber: the passes of a video as bands, its samples' frames as ticks, click to seek."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from workbench.gui.theme import DARK, Colors


@dataclass(frozen=True)
class Mark:
    """A sample on the timeline: its source frame, label (colours it) and a short text for tooltips."""

    frame: int
    label: str
    text: str


class Timeline(QWidget):
    """Paints passes [first, last] and sample marks over frames 0..frame_count-1; emits ``seekRequested``."""

    seekRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None, colors: Colors = DARK):
        super().__init__(parent)
        self.colors = colors
        self.frame_count = 0
        self.passes: list[tuple[int, int]] = []
        self.marks: list[Mark] = []
        self.current = 0
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("")
        self.setAccessibleName("Timeline of passes and samples")

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        # from the font, not fixed pixels: the strip grows with the user's scale factor
        return QSize(400, int(self.fontMetrics().height() * 2.6))

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(100, self.sizeHint().height())

    def set_data(self, frame_count: int, passes: list[tuple[int, int]], marks: list[Mark]) -> None:
        self.frame_count = max(int(frame_count), 0)
        self.passes = [(int(a), int(b)) for a, b in passes]
        self.marks = sorted(marks, key=lambda m: m.frame)
        self.update()

    def set_colors(self, colors: Colors) -> None:
        self.colors = colors
        self.update()

    def set_current(self, frame: int) -> None:
        if frame != self.current:
            self.current = frame
            self.update()

    # --- geometry ---------------------------------------------------------------------------------
    def _x_of(self, frame: float) -> float:
        span = max(self.frame_count - 1, 1)
        return 1 + (self.width() - 2) * frame / span

    def frame_at(self, x: float) -> int:
        if self.frame_count <= 0:
            return 0
        span = max(self.frame_count - 1, 1)
        f = round((x - 1) * span / max(self.width() - 2, 1))
        return int(min(max(f, 0), self.frame_count - 1))

    def pass_at(self, frame: int) -> int | None:
        for i, (a, b) in enumerate(self.passes):
            if a <= frame <= b:
                return i
        return None

    # --- painting ---------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        c = self.colors
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        h = self.height()
        p.fillRect(self.rect(), QColor(c.track))
        if self.frame_count <= 0:
            p.setPen(QColor(c.muted))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no video")
            p.end()
            return
        # upper half: pass bands with their names; lower half: one tick per sample, coloured by label
        band_top, band_h = h * 0.08, h * 0.5
        metrics = self.fontMetrics()
        for k, (a, b) in enumerate(self.passes):
            x0, x1 = self._x_of(a), self._x_of(b)
            band = QRectF(x0, band_top, max(x1 - x0, 2.0), band_h)
            p.fillRect(band, QColor(c.passes))
            name = next(
                (t for t in (f"pass {k}", str(k)) if metrics.horizontalAdvance(t) + 6 < band.width()), ""
            )
            if name:  # named only where the name fits
                p.setPen(QColor(c.text))
                p.drawText(
                    band.adjusted(4, 0, 0, 0),
                    Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                    name,
                )
        mark_top = band_top + band_h + 2
        for m in self.marks:
            pen = QPen(c.label_color(m.label))
            pen.setWidthF(2.0)
            p.setPen(pen)
            x = self._x_of(m.frame)
            p.drawLine(QPointF(x, mark_top), QPointF(x, h - 2))
        pen = QPen(QColor(c.cursor))
        pen.setWidthF(2.0)
        p.setPen(pen)
        x = self._x_of(self.current)
        p.drawLine(QPointF(x, 0), QPointF(x, h))
        p.setBrush(QColor(c.cursor))
        p.drawRect(QRectF(x - 3, 0, 6, band_top + 3))
        p.end()

    # --- mouse ------------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton and self.frame_count > 0:
            self.seekRequested.emit(self._snap(self.frame_at(event.position().x())))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self.frame_count <= 0:
            return
        frame = self.frame_at(event.position().x())
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.seekRequested.emit(frame)
        QToolTip.showText(event.globalPosition().toPoint(), self.describe(frame), self)

    def _snap(self, frame: int) -> int:
        """A click within a few pixels of a sample mark lands on the sample's frame exactly."""
        tolerance = 4 * max(self.frame_count - 1, 1) / max(self.width(), 1)
        near = [m for m in self.marks if abs(m.frame - frame) <= tolerance]
        return min(near, key=lambda m: abs(m.frame - frame)).frame if near else frame

    def describe(self, frame: int) -> str:
        """Tooltip text: the frame, its pass and the samples taken near it."""
        parts = [f"frame {frame}"]
        k = self.pass_at(frame)
        if k is not None:
            parts.append(f"pass {k} ({self.passes[k][0]}-{self.passes[k][1]})")
        tolerance = 4 * max(self.frame_count - 1, 1) / max(self.width(), 1)
        parts += [m.text for m in self.marks if abs(m.frame - frame) <= tolerance][:6]
        return "\n".join(parts)
