"""Play/pause, a slider and a frame number box to move through a video, with the time shown beside them."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QSpinBox, QStyle, QToolButton, QWidget


def format_time(seconds: float) -> str:
    """'m:ss.s' for a time in seconds ('' when the frame rate is unknown)."""
    if not seconds == seconds or seconds < 0:  # NaN
        return ""
    m, s = divmod(seconds, 60.0)
    return f"{int(m)}:{s:04.1f}"


class Scrubber(QWidget):
    """Emits ``frameChanged(index)`` when the user moves it; :meth:`set_frame` moves it silently."""

    frameChanged = Signal(int)
    playToggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._fps = 0.0
        self.play_button = QToolButton(self)
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.play_button.toggled.connect(self._on_play)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setToolTip("Drag to move through the video; arrow keys step one frame")
        self.slider.setPageStep(25)
        self.spin = QSpinBox(self)
        self.spin.setToolTip("Frame number (first frame is 0)")
        self.spin.setKeyboardTracking(False)  # typing "125" seeks once, not to 1, 12 and 125
        self.count_label = QLabel(self)
        self.time_label = QLabel(self)
        self.time_label.setMinimumWidth(self.fontMetrics().horizontalAdvance("00:00.0 / 00:00.0 "))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.play_button)
        layout.addWidget(self.slider, 1)
        layout.addWidget(QLabel("Frame", self))
        layout.addWidget(self.spin)
        layout.addWidget(self.count_label)
        layout.addWidget(self.time_label)
        self.slider.valueChanged.connect(self._on_slider)
        self.spin.valueChanged.connect(self._on_spin)
        self.set_range(0, 0.0)

    @property
    def frame(self) -> int:
        return self.slider.value()

    @property
    def frame_count(self) -> int:
        return self.slider.maximum() + 1 if self.isEnabled() else 0

    def set_range(self, frame_count: int, fps: float) -> None:
        """Cover frames 0..frame_count-1; disabled when there is no video."""
        self._fps = fps
        self.set_playing(False)
        last = max(frame_count - 1, 0)
        for w in (self.slider, self.spin):
            w.blockSignals(True)
            w.setRange(0, last)
            w.setValue(0)
            w.blockSignals(False)
        self.setEnabled(frame_count > 0)
        self.count_label.setText(f"of {last}" if frame_count else "")
        self._show_time(0)

    def set_frame(self, index: int) -> None:
        """Move to ``index`` without emitting ``frameChanged``."""
        for w in (self.slider, self.spin):
            w.blockSignals(True)
            w.setValue(index)
            w.blockSignals(False)
        self._show_time(self.slider.value())

    def step(self, delta: int) -> None:
        self.slider.setValue(self.slider.value() + delta)

    @property
    def playing(self) -> bool:
        return self.play_button.isChecked()

    def set_playing(self, on: bool) -> None:
        self.play_button.setChecked(on)

    def _on_play(self, on: bool) -> None:
        icon = QStyle.StandardPixmap.SP_MediaPause if on else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
        self.playToggled.emit(on)

    def _on_slider(self, value: int) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(value)
        self.spin.blockSignals(False)
        self._show_time(value)
        self.frameChanged.emit(value)

    def _on_spin(self, value: int) -> None:
        self.slider.setValue(value)  # emits through _on_slider

    def _show_time(self, index: int) -> None:
        if self._fps > 0 and self.isEnabled():
            total = (self.slider.maximum() + 1) / self._fps
            self.time_label.setText(f"{format_time(index / self._fps)} / {format_time(total)}")
        else:
            self.time_label.setText("")
