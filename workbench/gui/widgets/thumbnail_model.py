"""A list model of samples for a thumbnail grid: caption and label colour at once, pictures loaded
lazily in the background the first time a row is shown, a few dozen per read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QIcon, QPixmap

from workbench.gui.imaging import thumbnail
from workbench.gui.theme import DARK, Colors

SampleRole = Qt.ItemDataRole.UserRole + 1
BATCH = 48


def small_image(image: np.ndarray, size: int) -> np.ndarray:
    """The image shrunk to fit ``size`` pixels (runs in the worker: the GUI thread only wraps it)."""
    import cv2

    h, w = image.shape[:2]
    scale = min(size / max(h, w), 1.0)
    if scale >= 1.0:
        return image
    return cv2.resize(
        image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )


class ThumbnailModel(QAbstractListModel):
    """Rows are SampleInfo records. ``load(ids, done)`` reads pictures in the background (the station
    model's ``call``); the model asks for the ids of rows painted without a picture yet."""

    def __init__(
        self,
        load: Callable[[Callable[[Any], Any], Callable[[Any], None]], None],
        size: int = 96,
        colors: Colors = DARK,
    ):
        super().__init__()
        self._call = load
        self.size = size
        self.colors = colors
        self.samples: list[Any] = []
        self._icons: dict[int, QIcon] = {}
        self._wanted: list[int] = []
        self._loading = False
        self._placeholder = QPixmap(size, size)
        self._placeholder.fill(QColor(colors.track))
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._load_some)

    @property
    def busy(self) -> bool:
        return self._loading or bool(self._wanted)

    def set_samples(self, samples: list[Any], keep_icons: bool = True) -> None:
        self.beginResetModel()
        self.samples = list(samples)
        if not keep_icons:
            self._icons.clear()
        self._wanted = []
        self._loading = False  # a read still in flight lands harmlessly; a lost one must not stall loading
        self.endResetModel()

    def forget(self, ids: list[int]) -> None:
        """Drop the cached pictures of ``ids`` (their image changed) so they load again."""
        for i in ids:
            self._icons.pop(i, None)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008 - Qt's signature
        return 0 if parent.isValid() else len(self.samples)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.samples):
            return None
        s = self.samples[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.caption(s)
        if role == Qt.ItemDataRole.DecorationRole:
            icon = self._icons.get(s.id)
            if icon is None:
                self._want(s.id)
                return self._placeholder
            return icon
        if role == Qt.ItemDataRole.ForegroundRole:
            return self.colors.label_color(s.label)
        if role == Qt.ItemDataRole.ToolTipRole:
            mask = "with GT mask" if s.has_mask else "no GT mask"
            synth = "\n◆ synthetic defect (never used for training)" if getattr(s, "synthetic", False) else ""
            return (
                f"sample {s.id}: view {s.view}, pass {s.pass_index}, frame {s.frame}\n{s.split}, {s.label}, "
                f"{mask}{synth}"
            )
        if role == SampleRole:
            return s
        return None

    def caption(self, s: Any) -> str:
        """The text under a sample's picture; a synthetic sample carries a ◆ badge."""
        badge = " ◆ synth" if getattr(s, "synthetic", False) else ""
        return f"#{s.id} {s.view}{badge}\n{s.split} · {s.label}"

    def picture(self, project: Any, sid: int) -> np.ndarray:
        """The picture of sample ``sid``, at most ``size`` px (runs on the I/O thread)."""
        return small_image(project.sample_image(sid), self.size)

    def row_of(self, sid: int) -> int:
        return next((i for i, s in enumerate(self.samples) if s.id == sid), -1)

    # --- lazy pictures ------------------------------------------------------------------------------
    def _want(self, sid: int) -> None:
        if sid not in self._wanted:
            self._wanted.append(sid)
        if not self._loading:
            self._timer.start(0)  # gather the rows of one paint into one read

    def _load_some(self) -> None:
        if self._loading or not self._wanted:
            return
        ids, self._wanted = self._wanted[:BATCH], self._wanted[BATCH:]
        self._loading = True

        def read(p: Any) -> list[tuple[int, np.ndarray]]:
            known = {s.id for s in p.samples()}
            return [(i, self.picture(p, i)) for i in ids if i in known]

        self._call(read, self._on_loaded)

    def _on_loaded(self, pictures: list[tuple[int, np.ndarray]]) -> None:
        self._loading = False
        rows = {s.id: r for r, s in enumerate(self.samples)}
        for sid, image in pictures:
            self._icons[sid] = thumbnail(image, self.size)
            if sid in rows:
                idx = self.index(rows[sid])
                self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])
        if self._wanted:
            self._timer.start(0)

    def icon_size(self) -> QSize:
        return QSize(self.size, self.size)
