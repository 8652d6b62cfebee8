"""The Inspector pane: the selected sample's crop with its GT mask over it, or a view's template with its
crop window and ROI."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QCheckBox, QWidget

from workbench.gui.imaging import mask_overlay
from workbench.gui.panes.pane import Pane
from workbench.gui.station_model import StationModel
from workbench.gui.theme import DARK, Colors
from workbench.gui.widgets.boxes import column, row, text_label
from workbench.gui.widgets.image_canvas import ImageCanvas

HINT = "Click a sample or a view in the Station tree to see it here."


class InspectorPane(Pane):
    """Loads the picture in the background; a newer selection wins over a slower older one."""

    def __init__(self, model: StationModel, parent: QWidget | None = None, colors: Colors = DARK):
        super().__init__(model, parent, colors)
        self.title = text_label(self, HINT)
        self.canvas = ImageCanvas(self, colors)
        self.show_mask = QCheckBox("Show mask", self)
        self.show_mask.setChecked(True)
        self.show_mask.setToolTip("Show the ground-truth defect mask (samples) or the ROI (views)")
        self.show_mask.toggled.connect(lambda on: self.canvas.overlay_item.setVisible(on))
        self.details = text_label(self)
        below = row((self.details, 1), self.show_mask)
        column(self.title, (self.canvas, 1), below, parent=self).setContentsMargins(4, 4, 4, 4)
        self._token = 0
        self.shown: tuple[str, Any] | None = None  # what is on screen: ("sample", id) or ("view", name)
        model.sampleSelected.connect(self.show_sample)
        model.viewSelected.connect(self.show_view)
        model.opened.connect(lambda _snap: self.clear())
        model.closed.connect(self.clear)

    def set_colors(self, colors: Colors) -> None:
        super().set_colors(colors)
        self.canvas.set_colors(colors)

    def clear(self) -> None:
        self._token += 1
        self._loading = False
        self.shown = None
        self.title.setText(HINT)
        self.details.setText("")
        self.canvas.set_image(None)
        self.canvas.set_overlay(None)
        self.canvas.set_boxes([])

    def show_sample(self, sid: int) -> None:
        snap = self.model.snapshot
        s = None if snap is None else snap.sample(sid)
        if s is None:
            return
        self._token += 1
        token, self._loading = self._token, True
        self.title.setText(f"<b>Sample #{s.id}</b> · view {s.view} · pass {s.pass_index} · frame {s.frame}")
        color = self.colors.mask

        def load(project: Any) -> tuple[np.ndarray, np.ndarray | None]:
            image = project.sample_image(sid)
            mask = project.gt_mask(sid)
            return image, None if mask is None else mask_overlay(mask, color)

        def done(result: tuple[np.ndarray, np.ndarray | None]) -> None:
            if token != self._token:
                return
            image, overlay = result
            self._loading = False
            self.shown = ("sample", sid)
            self.canvas.set_boxes([])
            self.canvas.set_image(image, fit=True)
            self.canvas.set_overlay(overlay)
            h, w = image.shape[:2]
            mask_text = "GT mask shown in red" if overlay is not None else "no GT mask"
            self.details.setText(
                f"{s.split} · {s.label} · {w}×{h} px · match {s.match_score:.2f}"
                + (" · synthetic" if s.synthetic else "")
                + f" · {mask_text}"
            )

        def failed(exc: BaseException) -> None:
            if token == self._token:
                self._loading = False
                self.canvas.set_image(None)
                self.details.setText(f"Cannot show sample #{sid}: {exc}")

        self.model.call(load, done, failed)

    def show_view(self, name: str) -> None:
        snap = self.model.snapshot
        if snap is None or name not in snap.views:
            return
        self._token += 1
        self._loading = False
        v = snap.views[name]
        c = v.crop
        self.shown = ("view", name)
        self.title.setText(f"<b>View {name}</b> · template and crop window")
        self.canvas.set_image(v.template)
        overlay = None
        if v.roi is not None:
            overlay = mask_overlay(v.roi, (60, 200, 255), fill_alpha=50)
        self.canvas.set_overlay(overlay, c.x, c.y)
        th, tw = v.template.shape[:2]
        self.canvas.set_boxes(
            [
                (0, 0, tw, th, "template", self.colors.muted),
                (c.x, c.y, c.w, c.h, "crop window", self.colors.box),
            ]
        )
        x0, y0 = min(0, c.x), min(0, c.y)
        x1, y1 = max(tw, c.x + c.w), max(th, c.y + c.h)
        self.canvas.fit(QRectF(x0, y0, x1 - x0, y1 - y0))
        self.details.setText(
            f"template {tw}×{th} px · crop {c.w}×{c.h} px at ({c.x}, {c.y}) · threshold {v.match_threshold:.2f}"
            + (" · ROI shown in blue" if v.roi is not None else " · no ROI painted yet")
        )
