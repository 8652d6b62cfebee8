"""A form of a model's parameters, built from the registry's ``describe()``: each field starts at the
model's default, and ``values()`` gives only what the user changed (so the model's defaults stay the source)."""

from __future__ import annotations

import json
import math
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QLineEdit, QSpinBox, QWidget

HIDDEN = ("seed", "device")  # the Train pane has its own controls for these


def _parse(text: str) -> Any:
    """JSON when it parses ([480, 848], 0.1, null), else the text itself, as ``workbench train --param``."""
    text = text.strip()
    if text in ("", "None"):
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


class ParamForm(QWidget):
    """``changed`` is emitted on every edit; ``values()`` -> {param: value} that differ from the default."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.layout_ = QFormLayout(self)
        self.layout_.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.fields: dict[str, tuple[QWidget, Any]] = {}

    def set_params(self, params: dict[str, dict[str, Any]]) -> None:
        """Rebuild the form for ``params`` ({name: {'default', 'type'}}, as ``describe()['params']``)."""
        while self.layout_.rowCount():
            self.layout_.removeRow(0)
        self.fields = {}
        for name, spec in params.items():
            if name in HIDDEN:
                continue
            default, kind = spec.get("default"), str(spec.get("type", ""))
            widget = self._field(default, kind)
            widget.setToolTip(f"{name}: {kind} (default {json.dumps(default)})")
            widget.setObjectName(f"param-{name}")
            self.fields[name] = (widget, default)
            self.layout_.addRow(name.replace("_", " "), widget)

    def _field(self, default: Any, kind: str) -> QWidget:
        if isinstance(default, bool):
            w = QCheckBox(self)
            w.setChecked(default)
            w.toggled.connect(self.changed)
            return w
        if isinstance(default, int) and kind == "int":
            w = QSpinBox(self)
            w.setRange(-(2**31) + 1, 2**31 - 1)
            w.setValue(default)
            w.valueChanged.connect(self.changed)
            return w
        if isinstance(default, float) and kind == "float":
            w = QDoubleSpinBox(self)
            # Enough decimals for small defaults (weight decay 1e-5): a rounded 0.0 would be sent as a change.
            w.setDecimals(max(4, 2 - math.floor(math.log10(abs(default)))) if default else 4)
            w.setRange(-1e9, 1e9)
            w.setSingleStep(max(abs(default) / 10, 0.001))
            w.setValue(default)
            w.valueChanged.connect(self.changed)
            return w
        w = QLineEdit(self)
        w.setText("" if default is None else default if isinstance(default, str) else json.dumps(default))
        w.setPlaceholderText("default (none)" if default is None else "")
        w.editingFinished.connect(self.changed)
        return w

    def value(self, name: str) -> Any:
        widget, _default = self.fields[name]
        if isinstance(widget, QCheckBox):
            return widget.isChecked()
        if isinstance(widget, QSpinBox | QDoubleSpinBox):
            return widget.value()
        return _parse(widget.text())

    def set_value(self, name: str, value: Any) -> None:
        widget, _default = self.fields[name]
        if isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        elif isinstance(widget, QSpinBox | QDoubleSpinBox):
            widget.setValue(value)
        else:
            widget.setText(value if isinstance(value, str) else json.dumps(value))
            self.changed.emit()

    def values(self) -> dict[str, Any]:
        out = {}
        for name, (_w, default) in self.fields.items():
            v = self.value(name)
            if isinstance(default, list | tuple) and isinstance(v, list | tuple):
                same = list(v) == list(default)
            else:
                same = v == default
            if not same:
                out[name] = v
        return out
