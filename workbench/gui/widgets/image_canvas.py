"""A zoomable, pannable image with an optional see-through overlay and labelled rectangles on it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem

from workbench.gui.pg import pyqtgraph as pg
from workbench.gui.theme import DARK, Colors


class ImageCanvas(pg.GraphicsView):
    """Shows a (H, W[, 3]) uint8 image as it is (row-major, y down); mouse wheel zooms, drag pans.

    The view fits the image when its size changes and stays where the user put it otherwise, so
    scrubbing through a video keeps the zoom.
    """

    def __init__(self, parent=None, colors: Colors = DARK):
        super().__init__(parent)
        self.view = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.setCentralItem(self.view)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item.setZValue(10)
        self.view.addItem(self.image_item)
        self.view.addItem(self.overlay_item)
        self._boxes: list[tuple[QGraphicsRectItem, pg.TextItem]] = []
        self._shape: tuple[int, ...] | None = None
        self._extent: QRectF | None = None
        self.set_colors(colors)

    @property
    def image(self) -> np.ndarray | None:
        return self.image_item.image

    def set_colors(self, colors: Colors) -> None:
        self.colors = colors
        self.setBackground(colors.canvas)

    def set_image(self, image: np.ndarray | None, fit: bool = False) -> None:
        """Show ``image`` (uint8, gray or RGB); the view refits when the size changes or ``fit``."""
        if image is None:
            self.image_item.clear()
            self._shape = None
            return
        self.image_item.setImage(image, levels=(0, 255), autoLevels=False)
        if fit or image.shape[:2] != self._shape:
            self._shape = image.shape[:2]
            self.fit(QRectF(0, 0, image.shape[1], image.shape[0]))

    def set_overlay(self, rgba: np.ndarray | None, x: float = 0, y: float = 0) -> None:
        """Show an (H, W, 4) RGBA overlay with its top-left corner at image pixel (x, y)."""
        if rgba is None:
            self.overlay_item.clear()
            return
        self.overlay_item.setImage(rgba, levels=(0, 255), autoLevels=False)
        self.overlay_item.setPos(x, y)

    def set_boxes(self, boxes: list[tuple[float, float, float, float, str, QColor | str]]) -> None:
        """Draw rectangles (x, y, w, h, label, colour) in image pixels, replacing the previous ones."""
        for rect, text in self._boxes:
            self.view.removeItem(rect)
            self.view.removeItem(text)
        self._boxes = []
        for x, y, w, h, label, color in boxes:
            c = QColor(color)
            pen = QPen(c)
            pen.setCosmetic(True)  # the line keeps its width on screen at any zoom
            pen.setWidthF(2.0)
            rect = QGraphicsRectItem(x, y, w, h)
            rect.setPen(pen)
            rect.setZValue(20)
            text = pg.TextItem(label, color=c, anchor=(0, 1), fill=pg.mkBrush(0, 0, 0, 150))
            text.setPos(x, y)
            text.setZValue(21)
            self.view.addItem(rect)
            self.view.addItem(text)
            self._boxes.append((rect, text))

    def box_labels(self) -> list[str]:
        return [text.textItem.toPlainText() for _, text in self._boxes]

    def fit(self, extent: QRectF | None = None) -> None:
        """Fit ``extent`` (image pixels; the last one given when None) into the view."""
        if extent is not None:
            self._extent = extent
        if self._extent is not None:
            self.view.setRange(rect=self._extent, padding=0.02)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.fit()  # double-click: back to the whole image after zooming in
        event.accept()
