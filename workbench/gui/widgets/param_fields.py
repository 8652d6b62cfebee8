"""Typed editors for model parameters: a checklist for layers, two spin boxes for a size, a default-or-value
box for optional numbers, a list of choices for names the model knows, and a weights chooser that lists
the installed weights and takes any file. Each has ``value()``, ``set_value(v)`` and ``changed``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QWidget,
)

WEIGHT_FILES = "Weights (*.pth *.pt *.safetensors);;All files (*)"


def decimals_for(value: float, digits: int = 3) -> int:
    """Decimals that show ``value`` with ``digits`` significant digits (0.05 -> 4, 4.0 -> 2, 1e-5 -> 7)."""
    if not value:
        return digits
    return max(0, min(10, digits - 1 - math.floor(math.log10(abs(value)))))


def float_box(parent: QWidget, value: float, lo: float = -1e9, hi: float = 1e9) -> QDoubleSpinBox:
    box = QDoubleSpinBox(parent)
    box.setDecimals(decimals_for(value))
    box.setRange(lo, hi)
    box.setSingleStep(max(abs(value) / 10, 10.0 ** -box.decimals()))
    box.setValue(value)
    return box


def int_box(parent: QWidget, value: int, lo: int = -(2**31) + 1, hi: int = 2**31 - 1) -> QSpinBox:
    box = QSpinBox(parent)
    box.setRange(lo, hi)
    box.setValue(value)
    return box


def _row(widget: QWidget) -> QHBoxLayout:
    row = QHBoxLayout(widget)
    row.setContentsMargins(0, 0, 0, 0)
    return row


class Field(QWidget):
    changed = Signal()

    def value(self) -> Any:  # pragma: no cover - every field overrides it
        raise NotImplementedError

    def set_value(self, value: Any) -> None:  # pragma: no cover
        raise NotImplementedError


class ChecklistField(Field):
    """A subset of ``choices`` (e.g. the backbone layers a model reads), one check box each."""

    def __init__(self, choices: list[str], default: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        row = _row(self)
        self.boxes = {}
        for c in choices:
            box = QCheckBox(c, self)
            box.setChecked(c in default)
            box.toggled.connect(self.changed)
            row.addWidget(box)
            self.boxes[c] = box
        row.addStretch(1)

    def value(self) -> list[str]:
        return [c for c, b in self.boxes.items() if b.isChecked()]

    def set_value(self, value: Any) -> None:
        for c, b in self.boxes.items():
            b.setChecked(c in (value or []))


class PairField(Field):
    """Two numbers (a size as height × width, or two quantiles); optional: 'model default' or the pair."""

    def __init__(
        self, default: list | None, integer: bool, optional: bool, names=("height", "width"), parent=None
    ):
        super().__init__(parent)
        row = _row(self)
        start = list(default) if default is not None else ([256, 256] if integer else [0.0, 1.0])
        make = (
            (lambda v: int_box(self, int(v), 1, 100000)) if integer else (lambda v: float_box(self, float(v)))
        )
        self.a, self.b = make(start[0]), make(start[1])
        self.a.setToolTip(names[0])
        self.b.setToolTip(names[1])
        self.auto = QCheckBox("model default", self) if optional else None
        if self.auto is not None:
            self.auto.setChecked(default is None)
            self.auto.toggled.connect(self._toggled)
            row.addWidget(self.auto)
        row.addWidget(self.a)
        row.addWidget(QLabel("×", self))
        row.addWidget(self.b)
        row.addStretch(1)
        for box in (self.a, self.b):
            box.valueChanged.connect(self.changed)
        self._toggled(default is None and optional)

    def _toggled(self, auto: bool) -> None:
        self.a.setEnabled(not auto)
        self.b.setEnabled(not auto)
        self.changed.emit()

    def value(self) -> list | None:
        if self.auto is not None and self.auto.isChecked():
            return None
        return [self.a.value(), self.b.value()]

    def set_value(self, value: Any) -> None:
        if value is None:
            if self.auto is not None:
                self.auto.setChecked(True)
            return
        if self.auto is not None:
            self.auto.setChecked(False)
        self.a.setValue(value[0])
        self.b.setValue(value[1])


class OptionalNumberField(Field):
    """'model default' (None) or a number."""

    def __init__(self, default: float | int | None, integer: bool, parent: QWidget | None = None):
        super().__init__(parent)
        row = _row(self)
        self.auto = QCheckBox("model default", self)
        self.auto.setChecked(default is None)
        start = default if default is not None else (0 if integer else 1.0)
        self.box = int_box(self, int(start)) if integer else float_box(self, float(start))
        row.addWidget(self.auto)
        row.addWidget(self.box, 1)
        self.auto.toggled.connect(lambda on: (self.box.setEnabled(not on), self.changed.emit()))
        self.box.valueChanged.connect(self.changed)
        self.box.setEnabled(default is not None)

    def value(self) -> Any:
        return None if self.auto.isChecked() else self.box.value()

    def set_value(self, value: Any) -> None:
        self.auto.setChecked(value is None)
        if value is not None:
            self.box.setValue(value)


class ChoiceField(Field):
    """One of the names the model knows (backbone, PDN size)."""

    def __init__(self, choices: list[str], default: str, parent: QWidget | None = None):
        super().__init__(parent)
        row = _row(self)
        self.box = QComboBox(self)
        self.box.addItems(list(choices))
        if default not in choices:
            self.box.addItem(default)
        self.box.setCurrentText(default)
        self.box.currentTextChanged.connect(lambda _t: self.changed.emit())
        row.addWidget(self.box, 1)

    def value(self) -> str:
        return self.box.currentText()

    def set_value(self, value: Any) -> None:
        if self.box.findText(str(value)) < 0:
            self.box.addItem(str(value))
        self.box.setCurrentText(str(value))


class WeightsField(Field):
    """The weights to start from: the packaged default, an installed file, or any file the user picks.
    ``set_installed`` lists what is installed (files to pick; packages named as information)."""

    DEFAULT = "default: the packaged weights"

    def __init__(self, default: str | None, parent: QWidget | None = None):
        super().__init__(parent)
        row = _row(self)
        self.box = QComboBox(self)
        self.box.addItem(self.DEFAULT, None)
        if default:
            self.box.addItem(Path(default).name, default)
            self.box.setCurrentIndex(1)
        self.browse = QPushButton("File …", self)
        self.browse.setToolTip("Weights from a file (.pth, .pt or .safetensors)")
        self.browse.clicked.connect(self._browse)
        self.box.currentIndexChanged.connect(lambda _i: self.changed.emit())
        row.addWidget(self.box, 1)
        row.addWidget(self.browse)

    def set_installed(self, rows: list[dict]) -> None:
        """``rows``: {'name', 'ok', 'path' (a file or None), 'note'} from the model service."""
        keep = self.value()
        self.box.blockSignals(True)
        while self.box.count() > 1:
            self.box.removeItem(1)
        for r in rows:
            mark = "✔" if r.get("ok") else "✘"
            self.box.addItem(f"{mark} {r['name']}: {r.get('note', '')}", r.get("path"))
            item = self.box.model().item(self.box.count() - 1)
            if not r.get("path"):
                item.setEnabled(False)  # a package: nothing to pick, it is what the default uses
            item.setToolTip(r.get("note", ""))
        if keep and self.box.findData(keep) < 0:
            self.box.addItem(Path(keep).name, keep)
        self.box.setCurrentIndex(max(0, self.box.findData(keep)))
        self.box.blockSignals(False)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Weights file", "", WEIGHT_FILES)
        if path:
            self.set_value(path)

    def value(self) -> str | None:
        return self.box.currentData()

    def set_value(self, value: Any) -> None:
        if value is None:
            self.box.setCurrentIndex(0)
            return
        if self.box.findData(value) < 0:
            self.box.addItem(Path(str(value)).name, str(value))
        self.box.setCurrentIndex(self.box.findData(value))
