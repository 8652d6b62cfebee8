"""A progress bar with the job's message and a Cancel button, fed from any thread by the job's own
``progress(fraction, message)`` callable and stopped through its cancel token."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget


class JobBar(QWidget):
    """:meth:`start` gives a ``(progress, cancel)`` pair for one job; :meth:`finish` ends it.

    ``progressed`` is emitted from the job's thread; Qt queues it into the GUI thread, so the job
    never touches a widget.
    """

    progressed = Signal(float, str)
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop the job; the station stays as it was")
        self.cancel_button.clicked.connect(self.cancel)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.message)
        self.progressed.connect(self._show)
        self.token: Any = None
        self.finish("")

    @property
    def running(self) -> bool:
        return self.token is not None

    def start(self, message: str) -> tuple[Any, Any]:
        from workbench.core.progress import CancelToken

        self.token = CancelToken()
        self.bar.setValue(0)
        self.bar.setRange(0, 1000)
        self.cancel_button.setEnabled(True)
        self.bar.setVisible(True)
        self.cancel_button.setVisible(True)
        self.message.setText(message)

        def progress(fraction: float | None, text: str = "") -> None:
            self.progressed.emit(-1.0 if fraction is None else float(fraction), text)

        return progress, self.token

    def cancel(self) -> None:
        if self.token is not None:
            self.token.cancel()
            self.cancel_button.setEnabled(False)
            self.message.setText("Cancelling …")
            self.cancelRequested.emit()

    def finish(self, message: str) -> None:
        self.token = None
        self.bar.setVisible(False)
        self.cancel_button.setVisible(False)
        self.message.setText(message)

    @Slot(float, str)
    def _show(self, fraction: float, text: str) -> None:
        if self.token is None or self.token.cancelled:
            return
        if fraction < 0:
            self.bar.setRange(0, 0)  # busy indicator when the job cannot say how far it is
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * min(max(fraction, 0.0), 1.0)))
        if text:
            self.message.setText(text)
