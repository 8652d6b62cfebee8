"""The layout helpers the panes are built of, and the station-following helper of StationModel."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView, QHBoxLayout, QLabel, QPushButton, QWidget

from workbench.gui.station_model import StationModel
from workbench.gui.widgets.boxes import (
    STRETCH,
    choice_box,
    column,
    form,
    grid_field,
    panel,
    row,
    side_by_side,
    table,
    text_label,
)


def test_row_keeps_order_stretch_and_spare_room(qtbot):
    host = QWidget()
    qtbot.addWidget(host)
    a, b = QPushButton("a", host), QLabel("b", host)
    inner = QHBoxLayout()
    layout = row(a, (b, 3), STRETCH, inner, parent=host)
    assert host.layout() is layout
    assert [layout.itemAt(i).widget() for i in range(2)] == [a, b]
    assert layout.stretch(0) == 0 and layout.stretch(1) == 3
    assert layout.itemAt(2).spacerItem() is not None  # the empty room
    assert layout.itemAt(3).layout() is inner
    col = column(QLabel("c", host), (QLabel("d", host), 2))
    assert col.count() == 2 and col.stretch(1) == 2


def test_panel_and_side_by_side(qtbot):
    host = QWidget()
    qtbot.addWidget(host)
    left = panel(host, QLabel("x", host), (QLabel("y", host), 1))
    m = left.layout().contentsMargins()
    assert (m.left(), m.top(), m.right(), m.bottom()) == (0, 0, 0, 0)
    assert left.layout().stretch(1) == 1
    right = QWidget(host)
    split = side_by_side(host, left, right, (3, 2))
    assert split.widget(0) is left and split.widget(1) is right
    assert not split.childrenCollapsible()
    # QSplitter keeps a widget's stretch factor as its size policy's stretch: 3 to 2
    assert (left.sizePolicy().horizontalStretch(), right.sizePolicy().horizontalStretch()) == (3, 2)


def test_form_grid_choices_labels_and_table(qtbot):
    host = QWidget()
    qtbot.addWidget(host)
    field = QPushButton("f", host)
    layout = form(("Name", field), ("", QLabel("self-named", host)), parent=host)
    assert host.layout() is layout and layout.rowCount() == 2
    assert layout.labelForField(field).text() == "Name"

    from PySide6.QtWidgets import QGridLayout

    grid = QGridLayout()
    tall = QLabel("tall", host)
    grid_field(grid, "Runs", tall, 0, 2, (4, 1), top=True)
    assert grid.getItemPosition(grid.indexOf(tall)) == (0, 3, 4, 1)
    assert grid.itemAtPosition(0, 2).widget().text() == "Runs"

    box = choice_box(host, {"any": "NG when any view is NG", "all": "NG only when every view is"}, "tip")
    assert [box.itemData(i) for i in range(box.count())] == ["any", "all"]
    assert box.itemText(1) == "NG only when every view is" and box.toolTip() == "tip"

    label = text_label(host, "long text", selectable=True)
    assert label.wordWrap() and label.text() == "long text"

    t = table(host, ("Part", "Verdict"))
    assert t.columnCount() == 2 and t.horizontalHeaderItem(1).text() == "Verdict"
    assert t.editTriggers() == QAbstractItemView.EditTrigger.NoEditTriggers
    assert t.selectionBehavior() == QAbstractItemView.SelectionBehavior.SelectRows
    assert not t.verticalHeader().isVisible()


def test_watch_follows_open_change_and_close(qtbot):
    model = StationModel()
    seen, starts = [], []
    model.watch(seen.append)
    model.watch(lambda snap, opened=False: starts.append((snap, opened)), opened=True, now=False)
    assert seen == [None] and starts == []  # the call now: no station yet
    model.opened.emit("snap-1")
    model.changed.emit("snap-2")
    model.closed.emit()
    assert seen == [None, "snap-1", "snap-2", None]
    assert starts == [("snap-1", True), ("snap-2", False), (None, True)]  # an edit keeps the pane's choices
