"""Paint a mask over a picture: brush (with a size slider), rectangle and polygon tools, an Erase
switch, and the mask shown see-through on the picture while you paint."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core import masks
from workbench.gui.imaging import mask_overlay
from workbench.gui.theme import DARK, Colors
from workbench.gui.widgets.draw_canvas import DrawCanvas

OverlayFn = Callable[[np.ndarray], np.ndarray]
TOOL_TEXT = (("pan", "Pan", "Move and zoom the picture (wheel zooms)"),
             ("brush", "Brush", "Paint with a round brush; hold the left button and drag"),
             ("rect", "Rectangle", "Drag a rectangle to fill"),
             ("polygon", "Polygon", "Click the corners; double-click, Enter or the first corner closes it"))  # fmt: skip


class MaskEditor(QWidget):
    """Edits an (H, W) uint8 ``mask`` in place of a picture; emits ``maskEdited(old, new)`` once per
    finished shape (a whole brush stroke is one edit), so the owner can push one undo command.

    ``value`` is what painting writes (255 for a mask, a zone number for a label image); Erase writes
    0. ``overlay`` turns the mask into the (H, W, 4) RGBA picture laid over the image.
    """

    maskEdited = Signal(object, object)

    def __init__(
        self, parent: QWidget | None = None, colors: Colors = DARK, overlay: OverlayFn | None = None
    ):
        super().__init__(parent)
        self.colors = colors
        self.overlay = overlay or (lambda m: mask_overlay(m, colors.mask))
        self.mask: np.ndarray | None = None
        self.value = 255
        self._before: np.ndarray | None = None  # the mask when the current stroke began
        self.canvas = DrawCanvas(self, colors)
        self.tool_group = QButtonGroup(self)
        self.tool_buttons: dict[str, QToolButton] = {}
        tools = QHBoxLayout()
        tools.setContentsMargins(0, 0, 0, 0)
        for key, text, tip in TOOL_TEXT:
            b = QToolButton(self)
            b.setText(text)
            b.setToolTip(tip)
            b.setCheckable(True)
            b.setAutoRaise(True)
            self.tool_group.addButton(b)
            self.tool_buttons[key] = b
            b.clicked.connect(lambda _c=False, k=key: self.set_tool(k))
            tools.addWidget(b)
        self.erase = QCheckBox("Erase", self)
        self.erase.setToolTip("Brush, rectangle and polygon remove pixels instead of adding them")
        tools.addWidget(self.erase)
        tools.addStretch(1)
        self.size_label = QLabel(self)
        self.size = QSlider(Qt.Orientation.Horizontal, self)
        self.size.setRange(1, 64)
        self.size.setToolTip("Brush radius in image pixels")
        self.size.valueChanged.connect(self._on_size)
        self.size.setValue(4)
        size_row = QHBoxLayout()
        size_row.setContentsMargins(0, 0, 0, 0)
        size_row.addWidget(QLabel("Brush", self))
        size_row.addWidget(self.size, 1)
        size_row.addWidget(self.size_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(tools)
        layout.addLayout(size_row)
        layout.addWidget(self.canvas, 1)
        self.canvas.strokeMoved.connect(self._on_stroke_moved)
        self.canvas.strokeDone.connect(self._on_stroke_done)
        self.canvas.rectDone.connect(self._on_rect)
        self.canvas.polygonDone.connect(self._on_polygon)
        self.set_tool("brush")

    # --- state ------------------------------------------------------------------------------------
    def set_image(self, image: np.ndarray | None, mask: np.ndarray | None, fit: bool = False) -> None:
        """Show ``image`` with ``mask`` (None: an empty mask of the image size) ready to paint."""
        self.canvas.set_image(image, fit=fit)
        if image is None:
            self.mask = None
        else:
            h, w = image.shape[:2]
            self.mask = masks.empty_mask(h, w) if mask is None else np.array(mask, np.uint8, copy=True)
        self.refresh()

    def set_mask(self, mask: np.ndarray | None) -> None:
        if self.mask is not None:
            h, w = self.mask.shape
            self.mask = masks.empty_mask(h, w) if mask is None else np.array(mask, np.uint8, copy=True)
            self.refresh()

    def refresh(self) -> None:
        """Redraw the overlay (after the mask or the overlay function changed)."""
        self.canvas.set_overlay(None if self.mask is None else self.overlay(self.mask))

    def set_tool(self, tool: str) -> None:
        self.canvas.set_tool(tool)
        self.tool_buttons[tool].setChecked(True)

    def set_colors(self, colors: Colors) -> None:
        self.colors = colors
        self.canvas.set_colors(colors)

    def _on_size(self, radius: int) -> None:
        self.canvas.brush_radius = radius
        self.size_label.setText(f"{radius} px")

    @property
    def paint_value(self) -> int:
        return 0 if self.erase.isChecked() else int(self.value)

    # --- drawing ----------------------------------------------------------------------------------
    def _on_stroke_moved(self, points: list) -> None:
        if self.mask is None:
            return
        if self._before is None:
            self._before = self.mask.copy()
        masks.draw_brush(self.mask, points, self.canvas.brush_radius, self.paint_value)
        self.refresh()

    def _on_stroke_done(self, points: list) -> None:
        if self.mask is None:
            return
        if self._before is None:
            self._before = self.mask.copy()
        masks.draw_brush(self.mask, points[-1:], self.canvas.brush_radius, self.paint_value)
        self._finish()

    def _on_rect(self, x: int, y: int, w: int, h: int) -> None:
        if self.mask is not None:
            self._before = self.mask.copy()
            masks.draw_rectangle(self.mask, x, y, w, h, self.paint_value)
            self._finish()

    def _on_polygon(self, points: list) -> None:
        if self.mask is not None:
            self._before = self.mask.copy()
            masks.draw_polygon(self.mask, points, self.paint_value)
            self._finish()

    def _finish(self) -> None:
        before, self._before = self._before, None
        self.refresh()
        if before is not None and not np.array_equal(before, self.mask):
            self.maskEdited.emit(before, self.mask.copy())
