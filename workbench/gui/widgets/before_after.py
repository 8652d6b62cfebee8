"""Before, after and mask of an image edit side by side with linked zoom and pan, plus a side panel.

The pictures keep their shape: in a wide, low space the three sit in a row with the side panel below
them; when there is room for bigger pictures they take two columns and the side panel fills the fourth
cell (``arranged(two_rows)`` tells the owner, to lay the panel out in a column). "Before" is a
:class:`DrawCanvas`, so the owner can take clicks or drawings on it.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from workbench.gui.imaging import as_rgb, mask_overlay
from workbench.gui.theme import DARK, Colors
from workbench.gui.widgets.draw_canvas import DrawCanvas
from workbench.gui.widgets.image_canvas import ImageCanvas


class BeforeAfter(QWidget):
    """``before``, ``after`` and ``mask_view`` canvases and the owner's ``side`` panel."""

    arranged = Signal(bool)

    def __init__(self, side: QWidget, parent: QWidget | None = None, colors=DARK):
        super().__init__(parent)
        self.colors = colors
        self.side = side
        self.aspect = 0.75  # height / width of the pictures
        self.two_rows: bool | None = None
        self.before = DrawCanvas(self, colors)
        self.after = ImageCanvas(self, colors)
        self.mask_view = ImageCanvas(self, colors)
        for c in (self.after, self.mask_view):  # zoom and pan in one, the others follow
            c.view.setXLink(self.before.view)
            c.view.setYLink(self.before.view)
        self.outline = QCheckBox("Mask outline", self)
        self.outline.setChecked(True)
        self.outline.toggled.connect(lambda _on: self.show_result(*self._result))
        self.before_title = QLabel("<b>Before</b>", self)
        self._result: tuple[np.ndarray | None, np.ndarray | None] = (None, None)
        self.cells = [
            self._cell(self.before_title, None, self.before),
            self._cell(QLabel("<b>After</b>", self), self.outline, self.after),
            self._cell(QLabel("<b>Mask</b> · the changed pixels", self), None, self.mask_view),
        ]
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(6)
        self.arrange(False)

    def _cell(self, title: QLabel, extra: QWidget | None, canvas: ImageCanvas) -> QWidget:
        cell = QWidget(self)
        title.setMinimumHeight(self.outline.sizeHint().height())  # the three pictures start level
        head = QHBoxLayout()
        head.addWidget(title)
        head.addStretch(1)
        if extra is not None:
            head.addWidget(extra)
        lay = QVBoxLayout(cell)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(head)
        lay.addWidget(canvas, 1)
        lay.addStretch(0)
        return cell

    def set_colors(self, colors: Colors) -> None:
        self.colors = colors
        for c in (self.before, self.after, self.mask_view):
            c.set_colors(colors)
        self.show_result(*self._result)

    # --- pictures ---------------------------------------------------------------------------------
    def set_before(self, image: np.ndarray | None) -> None:
        """Show the picture before the edit; its shape sets the previews' shape."""
        self.before.set_image(image)
        if image is not None:
            self.aspect = image.shape[0] / max(image.shape[1], 1)
        self.fit()

    def show_result(self, after: np.ndarray | None, mask: np.ndarray | None) -> None:
        """Show the edited picture (mask outlined when asked) and the mask over a dimmed copy of it."""
        self._result = (after, mask)
        if after is None or mask is None:
            for c in (self.after, self.mask_view):
                c.set_image(None)
            self.after.set_overlay(None)
            return
        after = as_rgb(after)
        self.after.set_image(after)
        on = self.outline.isChecked()
        self.after.set_overlay(mask_overlay(mask, self.colors.mask, fill_alpha=0) if on else None)
        shown = (after * 0.3).astype(np.uint8)
        shown[mask > 0] = self.colors.mask
        self.mask_view.set_image(shown)

    # --- layout -----------------------------------------------------------------------------------
    def arrange(self, two_rows: bool) -> None:
        """Three previews in a row with the side panel below, or two by two with the side panel last."""
        if two_rows == self.two_rows:
            return
        self.two_rows = two_rows
        for w in (*self.cells, self.side):
            self.grid.removeWidget(w)
        places = ((0, 0, 1, 1), (0, 1, 1, 1), (1, 0, 1, 1), (1, 1, 1, 1))
        if not two_rows:
            places = ((0, 0, 1, 1), (0, 1, 1, 1), (0, 2, 1, 1), (1, 0, 1, 3))
        for w, at in zip((*self.cells, self.side), places, strict=True):
            self.grid.addWidget(w, *at)
        for col in range(3):
            self.grid.setColumnStretch(col, 1 if col < (2 if two_rows else 3) else 0)
        # the first row as tall as its pictures (fit sets that), the room left to the second
        self.grid.setRowStretch(0, 0)
        self.grid.setRowStretch(1, 1)
        self.fit()
        self.arranged.emit(two_rows)

    def fit(self) -> None:
        """Pick the arrangement for the room there is and cap the previews at the pictures' height."""
        fm = self.fontMetrics()
        head = self.cells[0].layout().itemAt(0).sizeHint().height() + 2
        spacing = self.grid.verticalSpacing()
        cell = (self.width() - self.grid.horizontalSpacing()) / 2 * self.aspect + head
        below = self.height() - cell - spacing  # the second row's height when the first holds a picture
        self.arrange(below >= cell and below >= self._side_column_height())
        cols = 2 if self.two_rows else 3
        width = (self.width() - (cols - 1) * self.grid.horizontalSpacing()) / cols
        # the first row as tall as its pictures at this width; the mask below them (two rows) may
        # shrink, so the pane can get lower than two rows need and fall back to one
        cap = max(int(width * self.aspect) + 4, 6 * fm.height())
        for c in (self.before, self.after, self.mask_view):
            c.setMaximumHeight(cap)
            c.setMinimumHeight(6 * fm.height() if self.two_rows and c is self.mask_view else cap)

    def _side_column_height(self) -> int:
        """The height the side panel needs with its parts in a column: its ``column_height()`` when it
        has one, else the sum of its parts' size hints."""
        if hasattr(self.side, "column_height"):
            return int(self.side.column_height())
        lay = self.side.layout()
        parts = [lay.itemAt(i).sizeHint().height() for i in range(lay.count())]
        return sum(parts) + lay.spacing() * max(len(parts) - 1, 0)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.fit()
