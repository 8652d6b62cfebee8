"""Layouts from lists: the rows, columns, panels, splitters and forms the panes are built of.

An item is a widget or a layout, ``(item, stretch)`` for one that takes the spare room, or :data:`STRETCH`
for empty room. ``row(self.write_button, self.preview_button, STRETCH)`` reads as the row it makes.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)


class _Stretch:
    def __repr__(self) -> str:
        return "STRETCH"


STRETCH = _Stretch()  # empty room that grows
Item = QWidget | QLayout | tuple[QWidget | QLayout, int] | _Stretch


def fill(layout: QBoxLayout, items: Iterable[Item]) -> QBoxLayout:
    """Add ``items`` to ``layout`` in order; the layout."""
    for item in items:
        if item is STRETCH:
            layout.addStretch(1)
            continue
        thing, stretch = item if isinstance(item, tuple) else (item, 0)
        if isinstance(thing, QLayout):
            layout.addLayout(thing, stretch)
        else:
            layout.addWidget(thing, stretch)
    return layout


def row(*items: Item, parent: QWidget | None = None) -> QHBoxLayout:
    """A horizontal layout of ``items`` (the layout of ``parent`` when given)."""
    return fill(QHBoxLayout(parent) if parent is not None else QHBoxLayout(), items)


def column(*items: Item, parent: QWidget | None = None) -> QVBoxLayout:
    """A vertical layout of ``items`` (the layout of ``parent`` when given)."""
    return fill(QVBoxLayout(parent) if parent is not None else QVBoxLayout(), items)


def panel(parent: QWidget, *items: Item) -> QWidget:
    """A widget holding ``items`` in a column without margins: one side of a splitter, one block of a pane."""
    w = QWidget(parent)
    column(*items, parent=w).setContentsMargins(0, 0, 0, 0)
    return w


def side_by_side(
    parent: QWidget, left: QWidget, right: QWidget, stretch: tuple[int, int] = (1, 1)
) -> QSplitter:
    """A horizontal splitter of two widgets sharing the width ``stretch`` to ``stretch``; neither collapses."""
    split = QSplitter(Qt.Orientation.Horizontal, parent)
    split.addWidget(left)
    split.addWidget(right)
    split.setStretchFactor(0, stretch[0])
    split.setStretchFactor(1, stretch[1])
    split.setChildrenCollapsible(False)
    return split


def form(*rows: tuple[str, QWidget | QLayout], parent: QWidget | None = None) -> QFormLayout:
    """A form of (label, field) rows (the layout of ``parent`` when given); an empty label for a check box
    that names itself."""
    layout = QFormLayout(parent) if parent is not None else QFormLayout()
    for label, field in rows:
        layout.addRow(label, field)
    return layout


def grid_field(
    grid: QGridLayout,
    label: str,
    field: QWidget,
    row: int,
    col: int,
    span: tuple[int, int] = (1, 1),
    top: bool = False,
) -> None:
    """``label`` at (row, col) of ``grid`` (at the cell's top when ``top``: beside a tall list) and
    ``field`` to its right over ``span`` (rows, columns)."""
    name = QLabel(label, field.parentWidget())
    if top:
        grid.addWidget(name, row, col, Qt.AlignmentFlag.AlignTop)
    else:
        grid.addWidget(name, row, col)
    grid.addWidget(field, row, col + 1, *span)


def choice_box(parent: QWidget, choices: dict[str, str], tip: str = "") -> QComboBox:
    """A combo box showing the texts of ``choices`` ({key: text}), each item's data its key."""
    box = QComboBox(parent)
    for key, text in choices.items():
        box.addItem(text, key)
    if tip:
        box.setToolTip(tip)
    return box


def text_label(parent: QWidget, text: str = "", selectable: bool = False) -> QLabel:
    """A word-wrapped label (its text selectable with the mouse when ``selectable``, to copy it)."""
    label = QLabel(text, parent)
    label.setWordWrap(True)
    if selectable:
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def table(parent: QWidget, columns: Iterable[str]) -> QTableWidget:
    """A read-only table with these column headers, no row numbers, selected by whole rows."""
    headers = list(columns)
    t = QTableWidget(0, len(headers), parent)
    t.setHorizontalHeaderLabels(headers)
    t.verticalHeader().setVisible(False)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    return t
