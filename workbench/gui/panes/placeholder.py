"""A pane that is not built yet: says what the step will do, so the set-up order is visible already."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from workbench.gui.steps import Step


class ComingPane(QWidget):
    def __init__(self, step: Step, parent: QWidget | None = None):
        super().__init__(parent)
        self.step = step
        label = QLabel(
            f"<h3>{step.title}</h3><p>{step.summary}</p><p><i>Coming in a later version of the workbench.</i></p>",
            self,
        )
        label.setWordWrap(True)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
