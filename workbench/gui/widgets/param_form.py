"""A form of a model's parameters, built from the registry's ``describe()``: each field starts at the
model's default in an editor of its type (see :mod:`param_fields`), and ``values()`` gives only what the
user changed (so the model's defaults stay the source)."""

from __future__ import annotations

import json
import math
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QLineEdit, QSpinBox, QWidget

from workbench.gui.widgets.param_fields import (
    ChecklistField,
    ChoiceField,
    Field,
    OptionalNumberField,
    PairField,
    WeightsField,
    float_box,
    int_box,
)

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


def named_choices(expects: str, default: str) -> list[str] | None:
    """The names a text parameter takes when its description lists them ("one of 'a', 'b' or 'c'"),
    else None (a free text)."""
    import re

    names = re.findall(r"'([^']+)'", expects)
    if len(names) >= 2 and default in names and not any(":" in n or "N" in n for n in names):
        return names
    return None


def same(a: Any, b: Any) -> bool:
    """Equal as a parameter: lists as lists, floats to the three significant digits the form shows."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-3, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return a == b


class ParamForm(QWidget):
    """``changed`` is emitted on every edit; ``values()`` -> {param: value} that differ from the default."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.layout_ = QFormLayout(self)
        self.layout_.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.fields: dict[str, tuple[QWidget, Any]] = {}
        self.installed: list[dict] = []  # installed weights, from the model service

    def set_params(self, params: dict[str, dict[str, Any]], choices: dict[str, list] | None = None) -> None:
        """Rebuild the form for ``params`` ({name: {'default', 'type'}}, as ``describe()['params']``);
        ``choices`` ({name: [allowed values]}) turns a name into a list or a checklist."""
        while self.layout_.rowCount():
            self.layout_.removeRow(0)
        self.fields = {}
        for name, spec in params.items():
            if name in HIDDEN:
                continue
            default, kind = spec.get("default"), str(spec.get("type", ""))
            expects = str(spec.get("expects", ""))
            widget = self._field(name, default, kind, (choices or {}).get(name), expects)
            widget.setToolTip(f"{name}: {expects or kind} (default {json.dumps(default)})")
            widget.setObjectName(f"param-{name}")
            self.fields[name] = (widget, default)
            self.layout_.addRow(name.replace("_", " "), widget)

    def set_installed(self, rows: list[dict]) -> None:
        """List the installed weights in every weights field."""
        self.installed = rows
        for widget, _default in self.fields.values():
            if isinstance(widget, WeightsField):
                widget.set_installed(rows)

    def _field(self, name: str, default: Any, kind: str, choices: list | None, expects: str = "") -> QWidget:
        # ``kind`` is the type's name, bare ('tuple', 'int') or written out ('tuple[int, int] | None');
        # ``expects`` says in words what the model takes ('... or None' when it may be left to it).
        base = kind.split("[")[0].split("|")[0].strip()
        optional = default is None or "| None" in kind or "or None" in expects
        if not choices and base == "str" and isinstance(default, str):
            choices = named_choices(expects, default)
        if isinstance(default, bool):
            w = QCheckBox(self)
            w.setChecked(default)
            w.toggled.connect(self.changed)
            return w
        field: Field | None = None
        if base == "tuple" and choices:
            field = ChecklistField([str(c) for c in choices], list(default or []), self)
        elif base == "tuple" and (
            default is None or (isinstance(default, list | tuple) and len(default) == 2)
        ):
            sized = "size" in name or "height, width" in expects or "pixels" in expects
            integer = "int" in kind or sized if default is None else all(isinstance(v, int) for v in default)
            names = ("height", "width") if sized else ("low", "high")
            field = PairField(default, integer, optional, names, self)
        elif "weights" in name and base == "str":
            field = WeightsField(default, self)
            field.set_installed(self.installed)
        elif choices and base == "str":
            field = ChoiceField([str(c) for c in choices], str(default), self)
        elif base in ("int", "float") and optional:
            field = OptionalNumberField(default, base == "int", self)
        if field is not None:
            field.changed.connect(self.changed)
            return field
        if isinstance(default, int) and base == "int":
            w = int_box(self, default)
            w.valueChanged.connect(self.changed)
            return w
        if isinstance(default, float) and base == "float":
            w = float_box(self, default)  # three significant digits of the default
            w.valueChanged.connect(self.changed)
            return w
        w = QLineEdit(self)
        w.setText("" if default is None else default if isinstance(default, str) else json.dumps(default))
        w.setPlaceholderText("model default" if default is None else "")
        w.editingFinished.connect(self.changed)
        return w

    def value(self, name: str) -> Any:
        widget, _default = self.fields[name]
        if isinstance(widget, Field):
            return widget.value()
        if isinstance(widget, QCheckBox):
            return widget.isChecked()
        if isinstance(widget, QSpinBox | QDoubleSpinBox):
            return widget.value()
        return _parse(widget.text())

    def set_value(self, name: str, value: Any) -> None:
        widget, _default = self.fields[name]
        if isinstance(widget, Field):
            widget.set_value(value)
        elif isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        elif isinstance(widget, QSpinBox | QDoubleSpinBox):
            widget.setValue(value)
        else:
            widget.setText(value if isinstance(value, str) else json.dumps(value))
            self.changed.emit()

    def values(self) -> dict[str, Any]:
        return {
            name: self.value(name)
            for name, (_w, default) in self.fields.items()
            if not same(self.value(name), default)
        }
