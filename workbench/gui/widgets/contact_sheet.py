"""A contact sheet of samples with their GT masks outlined: a scrolling grid of pictures captioned with
what each defect is (type, size, view and zone), loaded in the background like the Samples grid."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from workbench.gui.imaging import as_rgb, outline
from workbench.gui.theme import DARK, Colors
from workbench.gui.widgets.thumbnail_model import ThumbnailModel, small_image


def outlined(
    image: np.ndarray, mask: np.ndarray | None, size: int, color: tuple[int, int, int]
) -> np.ndarray:
    """(h, w, 3) uint8: ``image`` shrunk to ``size`` px with the border of ``mask`` drawn in ``color``."""
    small = as_rgb(small_image(image, size)).copy()
    if mask is not None and mask.any():
        import cv2

        h, w = small.shape[:2]
        m = cv2.resize((mask > 0).astype(np.uint8) * 255, (w, h), interpolation=cv2.INTER_AREA) > 60
        edge = cv2.dilate(outline(m).astype(np.uint8), np.ones((2, 2), np.uint8)) > 0
        small[edge] = color
    return small


class OutlinedThumbnails(ThumbnailModel):
    """Thumbnails with the GT mask outlined, captioned by their synthetic-defect provenance."""

    def caption(self, s: Any) -> str:
        prov = (s.meta or {}).get("synthetic") or {}
        if not prov:
            return super().caption(s)
        zone = f" · {prov['zone']}" if prov.get("zone") else ""
        return f"{prov.get('type', '?')} · {prov.get('size', '?')}\n{s.view}{zone} · {s.split}"

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole:
            return None  # every sample here is defective: captions in the plain text colour
        return super().data(index, role)

    def picture(self, project: Any, sid: int) -> np.ndarray:
        return outlined(project.sample_image(sid), project.gt_mask(sid), self.size, self.colors.mask)


class ContactSheet(QListView):
    """``show_samples(samples)`` fills the sheet; pictures arrive through ``load`` (the station's I/O)."""

    def __init__(self, load, parent: QWidget | None = None, size: int = 150, colors: Colors = DARK):
        super().__init__(parent)
        self.thumbs = OutlinedThumbnails(load, size, colors)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setModel(self.thumbs)
        self._fit_cells(1.0)

    @property
    def busy(self) -> bool:
        return self.thumbs.busy

    def set_colors(self, colors: Colors) -> None:
        self.thumbs.colors = colors

    def _fit_cells(self, aspect: float) -> None:
        """Cells as wide as a picture and as tall as one of ``aspect`` (height / width) plus its caption."""
        size, fm = self.thumbs.size, self.fontMetrics()
        icon = QSize(size, max(int(round(size * min(aspect, 1.0))), 1))
        self.setIconSize(icon)
        self.setGridSize(
            QSize(max(size + 12, 14 * fm.horizontalAdvance("M")), icon.height() + 3 * fm.height())
        )

    def show_samples(self, samples: list[Any]) -> None:
        shapes = [s.height / s.width for s in samples if s.width > 0 and s.height > 0]
        self._fit_cells(max(shapes) if shapes else 1.0)
        self.thumbs.set_samples(samples)

    def samples(self) -> list[Any]:
        return list(self.thumbs.samples)
