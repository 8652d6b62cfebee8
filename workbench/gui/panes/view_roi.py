"""The ROI and zones of a view, painted on the view's crop: brush, rectangle, polygon and erase on the
ROI or on a named zone, and a margin slider that shows the grown ROI as you move it."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.panes.view_geometry import ZONE_COLORS, edited, view_overlay
from workbench.gui.theme import DARK, Colors
from workbench.gui.widgets.mask_editor import MaskEditor

ROI_LAYER = "ROI"


class ViewRoiEditor(QWidget):
    """Emits ``viewEdited(old, new, text, merge_key)`` for each finished change; the pane turns it into
    an undo command. ``show_view`` refreshes it from the project without emitting anything."""

    viewEdited = Signal(object, object, str, object)

    def __init__(self, parent: QWidget | None = None, colors: Colors = DARK):
        super().__init__(parent)
        self.colors = colors
        self.view: Any = None
        self._want_layer: int | None = None
        self.editor = MaskEditor(self, colors, overlay=self._overlay)
        self.editor.maskEdited.connect(self._on_mask_edited)
        self.layers = QListWidget(self)
        self.layers.setToolTip("What the tools paint: the ROI or one named zone")
        self.layers.currentRowChanged.connect(self._on_layer)
        self.layers.itemChanged.connect(self._on_renamed)
        em = self.fontMetrics().horizontalAdvance("M")
        self.layers.setMaximumWidth(12 * em)
        add = QPushButton("Add zone", self)
        add.clicked.connect(self.add_zone)
        rename = QPushButton("Rename", self)
        rename.setToolTip("Rename the selected zone (or double-click it)")
        rename.clicked.connect(
            lambda: self.layers.currentItem() and self.layers.editItem(self.layers.currentItem())
        )
        side = QVBoxLayout()
        side.addWidget(QLabel("Paint on", self))
        side.addWidget(self.layers, 1)
        side.addWidget(add)
        side.addWidget(rename)
        self.margin = QSlider(Qt.Orientation.Horizontal, self)
        self.margin.setRange(0, 64)
        self.margin.setToolTip("Grow the ROI by this many pixels for small alignment errors (white outline)")
        self.margin.valueChanged.connect(self._on_margin_moved)
        self.margin.sliderReleased.connect(self._commit_margin)
        self.margin_label = QLabel("0 px", self)
        margin_row = QHBoxLayout()
        margin_row.addWidget(QLabel("Margin", self))
        margin_row.addWidget(self.margin, 1)
        margin_row.addWidget(self.margin_label)
        r, g, b = colors.mask
        self.legend = QLabel(
            f"<span style='color:rgb({r},{g},{b})'>━</span> ROI: what the models look at · "
            "<span style='color:white'>━</span> the ROI grown by the margin · "
            "tinted areas: the zones, in the colours of the list (per-zone thresholds and counts)",
            self,
        )
        self.legend.setWordWrap(True)
        right = QVBoxLayout()
        right.addWidget(self.editor, 1)
        right.addWidget(self.legend)
        right.addLayout(margin_row)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(side)
        layout.addLayout(right, 1)

    @property
    def layer(self) -> int:
        """0 for the ROI, k for zone k."""
        return max(self.layers.currentRow(), 0)

    def set_colors(self, colors: Colors) -> None:
        self.colors = colors
        self.editor.set_colors(colors)
        self.editor.refresh()

    # --- refresh from the project -----------------------------------------------------------------
    def show_view(self, view: Any, image: np.ndarray | None) -> None:
        """Show ``view``'s ROI and zones over ``image`` (its crop; None keeps the picture shown)."""
        fit = view is None or self.view is None or view.name != self.view.name
        self.view = view
        row = self.layer
        if self._want_layer is not None and view is not None and self._want_layer <= len(view.zone_names):
            row, self._want_layer = self._want_layer, None
        self.layers.blockSignals(True)
        self.layers.clear()
        if view is not None:
            self.layers.addItem(ROI_LAYER)
            for k, name in enumerate(view.zone_names):
                item = QListWidgetItem(name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                item.setForeground(QColor(*ZONE_COLORS[k % len(ZONE_COLORS)]))
                self.layers.addItem(item)
            self.layers.setCurrentRow(min(row, self.layers.count() - 1))
        self.layers.blockSignals(False)
        self.margin.blockSignals(True)
        self.margin.setValue(0 if view is None else int(view.roi_margin))
        self.margin.blockSignals(False)
        self.margin_label.setText(f"{self.margin.value()} px")
        if view is None:
            self.editor.set_image(None, None)
            return
        if image is None:
            image = self.editor.canvas.image
        if image is None or image.shape[:2] != (view.crop.h, view.crop.w):
            image = np.zeros((view.crop.h, view.crop.w, 3), np.uint8)
        self.editor.set_image(image, self._plane(), fit=fit)
        self.editor.value = 255 if self.layer == 0 else self.layer

    def _plane(self) -> np.ndarray | None:
        v = self.view
        return v.roi if self.layer == 0 else v.zones

    def _overlay(self, plane: np.ndarray) -> np.ndarray | None:
        v = self.view
        if v is None:
            return None
        roi = plane if self.layer == 0 else v.roi
        zones = v.zones if self.layer == 0 else plane
        return view_overlay(roi, self.margin.value(), zones, self.colors.mask)

    # --- edits ------------------------------------------------------------------------------------
    def _on_layer(self, _row: int) -> None:
        if self.view is not None:
            self.editor.value = 255 if self.layer == 0 else self.layer
            self.editor.set_mask(self._plane())

    def _on_mask_edited(self, _old: np.ndarray, new: np.ndarray) -> None:
        v = self.view
        if self.layer == 0:
            self.viewEdited.emit(v, edited(v, roi=new), f"paint the ROI of {v.name}", None)
        else:
            name = v.zone_names[self.layer - 1]
            self.viewEdited.emit(v, edited(v, zones=new), f"paint zone {name} of {v.name}", None)

    def _on_margin_moved(self, value: int) -> None:
        self.margin_label.setText(f"{value} px")
        self.editor.refresh()  # the grown outline follows the slider live
        if not self.margin.isSliderDown():
            self._commit_margin()

    def _commit_margin(self) -> None:
        v = self.view
        if v is not None and self.margin.value() != v.roi_margin:
            self.viewEdited.emit(
                v, edited(v, roi_margin=self.margin.value()), f"ROI margin of {v.name}", f"margin:{v.name}"
            )

    def add_zone(self, name: str | None = None) -> None:
        """Add a named zone to the view (asks for the name unless given) and select it for painting."""
        v = self.view
        if v is None:
            return
        if not name:
            name, ok = QInputDialog.getText(
                self, "Add zone", "Zone name:", text=f"zone {len(v.zone_names) + 1}"
            )
            if not ok or not name.strip():
                return
        name = name.strip()
        if name in v.zone_names:
            self.editor.canvas.setToolTip(f"a zone named '{name}' exists already")
            return
        zones = v.zones if v.zones is not None else np.zeros((v.crop.h, v.crop.w), np.uint8)
        new = edited(v, zones=zones.copy(), zone_names=[*v.zone_names, name])
        self.viewEdited.emit(v, new, f"add zone {name} to {v.name}", None)
        self._want_layer = len(new.zone_names)  # selected by show_view once the project has the zone

    def _on_renamed(self, item: QListWidgetItem) -> None:
        v, row = self.view, self.layers.row(item)
        if v is None or row <= 0:
            return
        names = list(v.zone_names)
        new_name = item.text().strip()
        if not new_name or new_name in names:
            item.setText(names[row - 1])  # an empty or taken name is refused; the old one stays
            return
        old_name, names[row - 1] = names[row - 1], new_name
        self.viewEdited.emit(v, edited(v, zone_names=names), f"rename zone {old_name} to {new_name}", None)
