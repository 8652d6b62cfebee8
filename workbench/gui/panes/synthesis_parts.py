"""Parts of the Synthesis pane: the samples defects may be drawn on, the drawn parameters of each
defect type in the user's words, the panel of parameters and result beside the previews, and the bead
model drawn over a sample."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QBoxLayout,
    QComboBox,
    QDoubleSpinBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.pg import pyqtgraph as pg
from workbench.gui.station_model import Snapshot
from workbench.gui.widgets.param_form import ParamForm

# parameter -> (label, what it does); the generators' own names are kept in the tooltip
PARAM_TEXT = {
    "line": ("bead line", "Which centreline of the bead the defect is on (0 = the first)"),
    "s0": ("from (px)", "Where the defect starts, in px along the centreline"),
    "s1": ("to (px)", "Where the defect ends, in px along the centreline"),
    "seam": ("bare seam", "How much the seam shows where the sealant is missing (0 none, 1 fully)"),
    "amount": ("narrowed by", "Share of the bead's width taken away in the middle (0 to 1)"),
    "ramp": ("ramp (px)", "Length of the smooth change at each end, px"),
    "shift": ("shift (px)", "How far the stretch moves sideways, px (the sign picks the side)"),
    "spread": ("spread (px)", "Distance between the two branches, px"),
    "thin": ("branch width", "Width of each branch as a share of the bead's width"),
    "rejoin": ("rejoin", "The branches meet again (else the side stream ends in a drop)"),
    "breadth": ("breadth", "Width of the void as a share of the bead's half-width"),
    "offset": ("offset", "Sideways offset of the void from the centreline, as a share of the half-width"),
    "depth": ("depth", "How dark the void is (0 to 1)"),
    "center": ("centre (x, y)", "Centre of the defect, image pixels"),
    "radius": ("radius (px)", "Size of the defect, px"),
    "angle": ("angle (rad)", "Direction of the scratch"),
    "bend": ("bend", "Curvature of the scratch"),
    "contrast": ("contrast", "Strength of the scratch's bright edge and dark line"),
    "width": ("width (px)", "Line width of the scratch, px"),
    "strength": ("strength", "How much darker the stain is (0 to 1)"),
    "light_angle": ("light from (rad)", "The direction the light comes from, which shades the dent"),
    "pieces": ("pieces", "Number of specks and fibres"),
    "level": ("level", "Brightness of the debris against the surface (0 black, 1 the same)"),
}


PARAM_ROWS = 7  # the most parameters a defect type has (bifurcation, scratch)


def drawable(snap: Snapshot | None, view: str) -> list[Any]:
    """The samples a synthetic defect may be drawn on: real, good val/test samples of ``view``, val first
    (the batch job's order, so both find the same bead)."""
    if snap is None:
        return []
    out = [s for sp in ("val", "test") for s in snap.samples if s.view == view and s.split == sp]
    return [s for s in out if s.label == "good" and not s.synthetic]


def combo_items(box: QComboBox, items: list[tuple[str, Any]]) -> None:
    """Fill ``box`` with (text, data), keeping the current data when it is still there."""
    if [(box.itemText(i), box.itemData(i)) for i in range(box.count())] == items:
        return
    current = box.currentData()
    box.blockSignals(True)
    box.clear()
    for text, data in items:
        box.addItem(text, data)
    datas = [d for _t, d in items]
    box.setCurrentIndex(datas.index(current) if current in datas else (0 if items else -1))
    box.blockSignals(False)


def fill_choices(box: QComboBox, items: list[tuple[str, Any, str]], current: int = 0) -> None:
    """Fill ``box`` with (text, data, tooltip); an empty text makes a separator."""
    box.blockSignals(True)
    box.clear()
    for text, data, tip in items:
        if not text:
            box.insertSeparator(box.count())
            continue
        box.addItem(text, data)
        box.setItemData(box.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
    box.setCurrentIndex(current)
    box.blockSignals(False)


def show_params(form: ParamForm, params: dict) -> None:
    """Fill ``form`` with a drawn defect's parameters (their values as defaults), labelled in user words."""
    form.set_params({k: {"default": v, "type": type(v).__name__} for k, v in params.items()})
    for name, (widget, default) in form.fields.items():
        if isinstance(widget, QSpinBox | QDoubleSpinBox):  # image-sized ranges keep the fields narrow
            widget.setRange(-100000, 100000)
        label, tip = PARAM_TEXT.get(name, (name.replace("_", " "), ""))
        shown = form.layout_.labelForField(widget)
        if shown is not None:
            shown.setText(label)
        widget.setToolTip(f"{tip} [{name}, drawn as {default}]" if tip else widget.toolTip())


def bead_curves(bead: Any, color: str) -> list[Any]:
    """Curves of a bead model in image pixels: each centreline dashed, its edges (half the width out) solid."""
    from workbench.synth.geometry import normals

    items = []
    for ln in bead.lines:
        nrm = normals(ln.points)
        for side in (0.0, 0.5, -0.5):
            pts = ln.points + nrm * (side * ln.widths)[:, None] + 0.5  # pixel centres sit at .5
            style = Qt.PenStyle.DashLine if side == 0 else Qt.PenStyle.SolidLine
            item = pg.PlotCurveItem(
                pts[:, 0], pts[:, 1], pen=pg.mkPen(color, width=1.5 if side == 0 else 1, style=style)
            )
            item.setZValue(15)
            items.append(item)
    return items


class DefectSide(QWidget):
    """The drawn defect's parameters (an editable form) and what it is, with the split and "Add to station"."""

    BALANCE = "val or test"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.form = ParamForm(self)
        self.form_hint = QLabel("Click on the bead: the drawn defect's parameters appear here.", self)
        self.form_hint.setWordWrap(True)
        self.form_hint.setObjectName("muted")
        holder = QWidget(self)
        hl = QVBoxLayout(holder)
        hl.setContentsMargins(0, 0, 0, 0)
        hl.addWidget(self.form_hint)
        hl.addWidget(self.form)
        hl.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(holder)
        self.params = QGroupBox("Parameters", self)
        QVBoxLayout(self.params).addWidget(scroll)
        self.holder = holder
        self.info = QLabel("", self)
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        self.split_box = QComboBox(self)
        self.split_box.addItems([self.BALANCE, "val", "test"])
        self.split_box.setToolTip("val or test: the split with fewer synthetic defects of this view")
        self.add_button = QPushButton("Add to station", self)
        self.add_button.setToolTip("Store the after image with its mask as a synthetic sample (undoable)")
        self.add_button.setEnabled(False)
        self.result = result = QGroupBox("Defect", self)
        rl = QVBoxLayout(result)
        rl.addWidget(self.info)
        rl.addWidget(self.message)
        rl.addStretch(1)
        add_row = QHBoxLayout()
        add_row.addWidget(QLabel("Split", self))
        add_row.addWidget(self.split_box, 1)
        add_row.addWidget(self.add_button)
        rl.addLayout(add_row)
        self.box = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.box.addWidget(self.params, 3)
        self.box.addWidget(result, 2)

    def column_height(self) -> int:
        """The height that shows the parameters of any defect type and the result, stacked (no scrolling);
        the same whichever type is drawn, so the pane's arrangement does not jump from type to type."""
        row = self.split_box.sizeHint().height() + 2 + max(self.form.layout_.verticalSpacing(), 0)
        frame = self.params.sizeHint().height() - self.params.layout().itemAt(0).sizeHint().height()
        rows = max(len(self.form.fields), PARAM_ROWS)
        return frame + rows * row + self.box.spacing() + self.result.sizeHint().height()

    def arrange(self, column: bool) -> None:
        """In a column (beside the mask): parameters above the result; else side by side."""
        self.box.setDirection(
            QBoxLayout.Direction.TopToBottom if column else QBoxLayout.Direction.LeftToRight
        )
        self.box.setStretch(0, 1 if column else 3)
        self.box.setStretch(1, 0 if column else 2)
