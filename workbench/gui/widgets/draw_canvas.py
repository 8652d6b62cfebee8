"""An image canvas you can draw on: brush strokes, rectangles and polygons in image pixels, with a
rubber band while drawing; the wheel still zooms and the Pan tool (or the middle button) pans."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsPathItem, QGraphicsRectItem

from workbench.gui.theme import DARK, Colors
from workbench.gui.widgets.image_canvas import ImageCanvas

TOOLS = ("pan", "brush", "rect", "polygon")


def _pixel(p: QPointF) -> tuple[float, float]:
    # pixel (i, j) covers [j, j + 1) x [i, i + 1): shifting by half a pixel makes rounding pick the
    # pixel under the pointer, which is what the brush and the polygon corners should hit
    return p.x() - 0.5, p.y() - 0.5


class DrawCanvas(ImageCanvas):
    """``tool`` is one of :data:`TOOLS`. Signals carry image coordinates (x right, y down):

    ``strokeMoved(points)`` while a brush is dragged and ``strokeDone(points)`` on release;
    ``rectDone(x, y, w, h)`` (whole pixels, at least 1×1); ``polygonDone(points)`` when a polygon is
    closed (double-click, Enter or a click on its first vertex; right-click or Esc drops it).
    """

    strokeMoved = Signal(list)
    strokeDone = Signal(list)
    rectDone = Signal(int, int, int, int)
    polygonDone = Signal(list)

    def __init__(self, parent=None, colors: Colors = DARK):
        super().__init__(parent, colors)
        self.tool = "pan"
        self.brush_radius = 4
        self._stroke: list[tuple[float, float]] = []
        self._rect_start: QPointF | None = None
        self._polygon: list[QPointF] = []
        pen = QPen(QColor(colors.cursor))
        pen.setCosmetic(True)
        pen.setWidthF(1.5)
        pen.setStyle(Qt.PenStyle.DashLine)
        self._band = QGraphicsRectItem()
        self._path = QGraphicsPathItem()
        self._cursor = QGraphicsEllipseItem()
        for item in (self._band, self._path, self._cursor):
            item.setPen(pen)
            item.setZValue(30)
            item.hide()
            self.view.addItem(item)
        self.setMouseTracking(True)

    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown drawing tool '{tool}'; expected one of {', '.join(TOOLS)}")
        self.cancel_drawing()
        self.tool = tool
        self._cursor.setVisible(False)
        self.setCursor(Qt.CursorShape.OpenHandCursor if tool == "pan" else Qt.CursorShape.CrossCursor)

    def cancel_drawing(self) -> None:
        self._stroke, self._rect_start, self._polygon = [], None, []
        self._band.hide()
        self._path.hide()

    def image_pos(self, widget_pos: QPointF) -> QPointF:
        """Image coordinates of a point in the widget (pixel centres at .5)."""
        return self.view.mapSceneToView(self.mapToScene(widget_pos.toPoint()))

    def widget_pos(self, x: float, y: float) -> QPointF:
        """The widget point showing image coordinates (x, y) (for tests and tooltips)."""
        return QPointF(self.mapFromScene(self.view.mapViewToScene(QPointF(x, y))))

    def _drawing(self, event) -> bool:
        return self.tool != "pan" and self.image is not None and event.button() != Qt.MouseButton.MiddleButton

    # --- mouse ------------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if not self._drawing(event):
            super().mousePressEvent(event)
            return
        p = self.image_pos(event.position())
        if event.button() == Qt.MouseButton.RightButton:
            self.cancel_drawing()
        elif self.tool == "brush":
            self._stroke = [_pixel(p)]
            self.strokeMoved.emit(list(self._stroke))
        elif self.tool == "rect":
            self._rect_start = p
            self._band.setRect(QRectF(p, p))
            self._band.show()
        elif self.tool == "polygon":
            if len(self._polygon) >= 3 and self._near_first(p):
                self._close_polygon()
            else:
                self._polygon.append(p)
                self._draw_polygon(p)
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self.tool == "pan" or self.image is None:
            super().mouseMoveEvent(event)
            return
        p = self.image_pos(event.position())
        if self.tool == "brush":
            r = self.brush_radius
            self._cursor.setRect(QRectF(p.x() - r, p.y() - r, 2 * r, 2 * r))
            self._cursor.show()
            if self._stroke and event.buttons() & Qt.MouseButton.LeftButton:
                self._stroke.append(_pixel(p))
                self.strokeMoved.emit(list(self._stroke[-2:]))
        elif self.tool == "rect" and self._rect_start is not None:
            self._band.setRect(QRectF(self._rect_start, p).normalized())
        elif self.tool == "polygon" and self._polygon:
            self._draw_polygon(p)
        event.accept()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if not self._drawing(event):
            super().mouseReleaseEvent(event)
            return
        p = self.image_pos(event.position())
        if self.tool == "brush" and self._stroke:
            points, self._stroke = self._stroke, []
            self.strokeDone.emit(points)
        elif self.tool == "rect" and self._rect_start is not None:
            r = QRectF(self._rect_start, p).normalized()
            self._rect_start = None
            self._band.hide()
            x0, y0 = int(round(r.left())), int(round(r.top()))
            x1, y1 = int(round(r.right())), int(round(r.bottom()))
            self.rectDone.emit(x0, y0, max(x1 - x0, 1), max(y1 - y0, 1))
        event.accept()

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        if self.tool == "polygon" and len(self._polygon) >= 3:
            self._close_polygon()
            event.accept()
        elif self.tool in ("pan", "polygon"):
            super().mouseDoubleClickEvent(event)
        else:
            event.accept()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if self.tool == "polygon" and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if len(self._polygon) >= 3:
                self._close_polygon()
        elif event.key() == Qt.Key.Key_Escape:
            self.cancel_drawing()
        else:
            super().keyPressEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: N802
        self._cursor.hide()
        super().leaveEvent(event)

    # --- polygon ----------------------------------------------------------------------------------
    def _near_first(self, p: QPointF) -> bool:
        # a few screen pixels, whatever the zoom: the first vertex is hard to hit exactly when zoomed out
        first = self.widget_pos(self._polygon[0].x(), self._polygon[0].y())
        here = self.widget_pos(p.x(), p.y())
        return (first - here).manhattanLength() <= 8

    def _draw_polygon(self, hover: QPointF) -> None:
        path = QPainterPath(self._polygon[0])
        for q in self._polygon[1:]:
            path.lineTo(q)
        path.lineTo(hover)
        self._path.setPath(path)
        self._path.show()

    def _close_polygon(self) -> None:
        points = [_pixel(q) for q in self._polygon]
        self.cancel_drawing()
        self.polygonDone.emit(points)
