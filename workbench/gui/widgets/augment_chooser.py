"""Training-time augmentation chooser of the Train step: which augmentations (a menu of check marks),
their probability and the number of augmented copies, as the train job's 'augment' dict."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QMenu, QSizePolicy, QSpinBox, QToolButton, QWidget

from workbench.core.augment import AUGMENTATIONS, LABELS

AUGMENT_TIP = (
    "Training-time augmentation (seeds 001 and 003): each training image gets augmented copies, in which "
    "every chosen augmentation applies with the probability p; the same augmentations the report's "
    "robustness section applies. The run records what it used."
)


class AugmentChooser(QWidget):
    """Training-time augmentation: the augmentations (a menu of check marks), their probability and the
    number of augmented copies; ``value()`` is the train job's 'augment' dict, or None for none."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setToolTip(AUGMENT_TIP)
        self.button = QToolButton(self)
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.button.setToolTip(AUGMENT_TIP)
        menu = QMenu(self.button)
        self.actions_by_name: dict[str, QAction] = {}
        for name in AUGMENTATIONS:
            act = QAction(LABELS.get(name, name), menu)
            act.setCheckable(True)
            act.toggled.connect(self._update)
            menu.addAction(act)
            self.actions_by_name[name] = act
        self.button.setMenu(menu)
        self.p = QDoubleSpinBox(self)
        self.p.setRange(0.05, 1.0)
        self.p.setSingleStep(0.05)
        self.p.setDecimals(2)
        self.p.setValue(0.5)
        self.p.setPrefix("p ")
        self.p.setToolTip("The probability with which each chosen augmentation applies to a copy")
        self.copies = QSpinBox(self)
        self.copies.setRange(1, 20)
        self.copies.setSuffix(" × copies")
        self.copies.setToolTip("Augmented copies of every training image, added to the originals")
        for w in (self.p, self.copies):
            w.valueChanged.connect(self.changed)
        self.button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        for w in (self.p, self.copies):
            w.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.button, 1)
        row.addWidget(self.p)
        row.addWidget(self.copies)
        self._update()

    def names(self) -> list[str]:
        return [n for n, a in self.actions_by_name.items() if a.isChecked()]

    def set_names(self, names: list[str]) -> None:
        for n, a in self.actions_by_name.items():
            a.setChecked(n in names)

    def value(self) -> dict[str, Any] | None:
        names = self.names()
        if not names:
            return None
        return {"names": names, "p": round(self.p.value(), 2), "copies": self.copies.value()}

    def _update(self) -> None:
        chosen = [a.text() for a in self.actions_by_name.values() if a.isChecked()]
        self.button.setText(", ".join(chosen) if chosen else "none")  # Qt draws the menu arrow
        self.p.setEnabled(bool(chosen))
        self.copies.setEnabled(bool(chosen))
        self.changed.emit()
