"""One synthetic defect by hand: pick a view, a normal sample, a defect type and size, click on the bead
(drawn over the sample: centreline dashed, edges solid), and see before, after and the exact mask side
by side; tweak the drawn parameters; add the defect to the station as one undo step.

Pictures are read and defects drawn on the station's I/O thread, so the window never waits for them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.imaging import as_rgb
from workbench.gui.panes.synthesis_parts import (
    DefectSide,
    bead_curves,
    combo_items,
    drawable,
    fill_choices,
    show_params,
)
from workbench.gui.pg import pyqtgraph as pg
from workbench.gui.station_model import Snapshot, StationModel
from workbench.gui.theme import DARK, Colors
from workbench.gui.undo import UndoStack
from workbench.gui.widgets.before_after import BeforeAfter

CLICK_HINT = "Click on the bead in “Before” to place the defect there."
DRAW_HINT = "Click points along the bead's centre; double-click or Enter finishes, Esc cancels."


class DefectPlacer(QWidget):
    """``previewed`` after each drawn preview (the :class:`Synthesized` is in ``made``)."""

    previewed = Signal()

    def __init__(self, model: StationModel, undo: UndoStack, parent: QWidget | None = None, colors=DARK):
        super().__init__(parent)
        self.model, self.undo, self.colors = model, undo, colors
        self.image: np.ndarray | None = None  # the chosen sample's picture (RGB)
        self.bead: Any = None  # its bead model (fitted to it), or None
        self.point: tuple[float, float] | None = None  # where the user clicked, image pixels
        self.made: Any = None  # the last preview (workbench.synth.defects.Synthesized)
        self._placed: dict | None = None  # parameters as placed at the point, before hand edits
        self._zones: tuple[Any, list[str]] = (None, [])
        self._loaded: tuple | None = None  # (view, sample, view's bead) of the picture shown
        self._ticket = 0  # a newer request makes older answers stale
        self._pending = 0
        self._bead_items: list[Any] = []
        self.docs: dict[str, str] = {}  # defect type -> one line saying what it draws

        self.view_box = QComboBox(self)
        self.view_box.setToolTip("The view whose samples get the defect")
        self.sample_box = QComboBox(self)
        self.sample_box.setToolTip("Real, good samples of the validation and test splits (never training)")
        self.type_box = QComboBox(self)
        self.type_box.setToolTip("Bead defects need the view's bead; surface defects go anywhere")
        self.size_box = QComboBox(self)
        self.seed = QSpinBox(self)
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setPrefix("seed ")
        self.seed.setToolTip("Another seed draws other parameters at the same place")
        self.show_bead = QCheckBox("Bead", self)
        self.show_bead.setChecked(True)
        self.show_bead.setToolTip("Show the bead model: its centreline (dashed) and edges")
        self.draw_button = QToolButton(self)
        self.draw_button.setText("Draw bead")
        self.draw_button.setCheckable(True)
        self.draw_button.setToolTip(
            "Draw the view's bead by hand as a line along its centre, when it is not found or found wrong"
        )
        pick = QGridLayout()
        pick.addWidget(QLabel("View", self), 0, 0)
        pick.addWidget(self.view_box, 0, 1)
        pick.addWidget(QLabel("Sample", self), 0, 2)
        pick.addWidget(self.sample_box, 0, 3, 1, 3)
        pick.addWidget(QLabel("Defect", self), 1, 0)
        pick.addWidget(self.type_box, 1, 1)
        pick.addWidget(QLabel("Size", self), 1, 2)
        pick.addWidget(self.size_box, 1, 3)
        pick.addWidget(self.seed, 1, 4)
        bead_row = QHBoxLayout()
        bead_row.addWidget(self.show_bead)
        bead_row.addWidget(self.draw_button)
        pick.addLayout(bead_row, 1, 5)
        pick.setColumnStretch(1, 1)
        pick.setColumnStretch(3, 1)

        self.marker = pg.ScatterPlotItem(
            size=15, symbol="+", pen=pg.mkPen(colors.cursor, width=2), brush=pg.mkBrush(colors.cursor)
        )
        self.marker.setZValue(25)
        self.side = DefectSide(self)
        self.form, self.info, self.message = self.side.form, self.side.info, self.side.message
        self.split_box, self.add_button = self.side.split_box, self.side.add_button
        self.previews = BeforeAfter(self.side, self, colors)
        self.previews.arranged.connect(self.side.arrange)
        self.previews.before_title.setText("<b>Before</b> · click on the bead")
        self.before, self.after, self.mask_view = (
            self.previews.before,
            self.previews.after,
            self.previews.mask_view,
        )
        self.before.view.addItem(self.marker)

        layout = QVBoxLayout(self)
        layout.addLayout(pick)
        layout.addWidget(self.previews, 1)

        self._form_timer = QTimer(self)
        self._form_timer.setSingleShot(True)
        self._form_timer.setInterval(250)  # one drawing after the user stops typing
        self._form_timer.timeout.connect(self._redraw_with_form)
        self.view_box.currentIndexChanged.connect(lambda _i: self._fill_samples())
        self.sample_box.currentIndexChanged.connect(lambda _i: self._on_sample())
        self.sample_box.activated.connect(lambda _i: self.model.select_sample(self.sample_box.currentData()))
        for box in (self.type_box, self.size_box):
            box.currentIndexChanged.connect(lambda _i: self._place())
        self.seed.valueChanged.connect(lambda _v: self._place())
        self.show_bead.toggled.connect(lambda _on: self._draw_bead())
        self.draw_button.toggled.connect(self._on_draw_toggled)
        self.before.polygonDone.connect(self._on_bead_drawn)
        self.before.scene().sigMouseClicked.connect(self._on_click)
        self.form.changed.connect(self._form_timer.start)
        self.add_button.clicked.connect(self.add_to_station)
        model.opened.connect(lambda s: self.on_snapshot(s, opened=True))
        model.changed.connect(self.on_snapshot)
        model.closed.connect(lambda: self.on_snapshot(None, opened=True))
        model.sampleSelected.connect(self._on_sample_selected)

    # --- state ------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._pending > 0 or self._form_timer.isActive()

    def set_colors(self, colors: Colors) -> None:
        self.colors = colors
        self.previews.set_colors(colors)
        self.marker.setPen(pg.mkPen(colors.cursor, width=2))
        self._draw_bead()

    def set_catalogue(
        self, bead_types: tuple[str, ...], surface_types: tuple[str, ...], sizes: dict, docs: dict
    ):
        """The defect types (bead first, then surface) and size classes to choose from."""
        kinds = [(k, k, docs.get(k, "")) for k in bead_types]
        kinds += [("", None, ""), *((f"{k} (surface)", k, docs.get(k, "")) for k in surface_types)]
        fill_choices(self.type_box, kinds)
        sizes = [
            (n, n, f"{n}: the mask covers {lo:.1%} to {hi:.1%} of the sample")
            for n, (lo, hi) in sizes.items()
        ]
        fill_choices(self.size_box, sizes, current=min(1, len(sizes) - 1))
        self.docs = docs

    def current_sample(self) -> Any:
        snap, sid = self.model.snapshot, self.sample_box.currentData()
        return None if snap is None or sid is None else snap.sample(sid)

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {self.colors.defective};" if error else "")
        self.message.setProperty("error", error)

    def _call(self, fn, done, failed) -> None:
        """``model.call`` that keeps count of the answers still to come (``busy``)."""
        self._pending += 1

        def finish(handler):
            def run(value):
                self._pending -= 1
                handler(value)

            return run

        self.model.call(fn, finish(done), finish(failed))

    # --- the station ------------------------------------------------------------------------------
    def on_snapshot(self, snap: Snapshot | None, opened: bool = False) -> None:
        if opened:
            self._loaded = None
            self.point = None
        views = sorted(snap.views) if snap is not None else []
        combo_items(self.view_box, [(v, v) for v in views])
        self._fill_samples()

    def _fill_samples(self) -> None:
        snap, view = self.model.snapshot, self.view_box.currentData()
        items = [(f"#{s.id} · pass {s.pass_index} · {s.split}", s.id) for s in drawable(snap, view)]
        combo_items(self.sample_box, items)
        if snap is not None and view and not items:
            self._say(
                f"View '{view}' has no good, real samples in val or test to draw defects on: split the "
                "samples first (Samples pane)",
                error=True,
            )
        self._on_sample()

    def _on_sample_selected(self, sid: int) -> None:
        s = self.model.snapshot.sample(sid) if self.model.snapshot is not None else None
        if (
            s is None
            or sid == self.sample_box.currentData()
            or s not in drawable(self.model.snapshot, s.view)
        ):
            return
        self.view_box.setCurrentIndex(self.view_box.findData(s.view))
        self.sample_box.setCurrentIndex(self.sample_box.findData(sid))

    def _on_sample(self) -> None:
        """Load the chosen sample and its bead (unless they are on screen already)."""
        view, sid = self.view_box.currentData(), self.sample_box.currentData()
        snap = self.model.snapshot
        bead_doc = (
            (snap.views[view].meta or {}).get("bead") if snap is not None and view in snap.views else None
        )
        key = (view, sid, repr(bead_doc))
        if key == self._loaded or not self.docs:  # nothing loads before the pane is first shown
            return
        if self._loaded is None or self._loaded[0] != view:
            self.point = None  # a point on another view means nothing here
        self._loaded = key
        if sid is None:
            self._show_sample(None, None, "")
            return
        ids = [s.id for s in drawable(snap, view)]

        def read(p: Any) -> tuple:
            from workbench.jobs.synthesize import view_bead
            from workbench.synth.bead import BeadError, fit_bead

            image = as_rgb(p.sample_image(sid))
            v = p.views[view]
            try:
                bead = fit_bead(image, view_bead(p, v, [p.sample(i) for i in ids])[0])
                note = ""
            except BeadError as exc:
                bead, note = None, str(exc)
            return image, bead, note, v.zones, list(v.zone_names)

        def shown(out: tuple) -> None:
            if self._loaded == key:
                image, bead, note, zones, zone_names = out
                self._zones = (zones, zone_names)
                self._show_sample(image, bead, note)

        self._call(read, shown, lambda e: self._say(f"Sample #{sid} could not be read: {e}", error=True))

    def _show_sample(self, image: np.ndarray | None, bead: Any, note: str) -> None:
        self.image, self.bead = image, bead
        self.previews.set_before(image)
        self._draw_bead()
        if note:
            self._say(f"{note}. Surface defects still work; for bead defects use “Draw bead”.", error=True)
        elif image is not None:
            self._say(CLICK_HINT)
        self._place()

    def _draw_bead(self) -> None:
        for item in self._bead_items:
            self.before.view.removeItem(item)
        self._bead_items = []
        if self.bead is not None and self.show_bead.isChecked():
            self._bead_items = bead_curves(self.bead, self.colors.box)
            for item in self._bead_items:
                self.before.view.addItem(item)

    # --- placing and drawing a defect -----------------------------------------------------------------
    def _on_click(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.double() or self.before.tool != "pan":
            return
        p = self.before.view.mapSceneToView(event.scenePos())
        event.accept()
        self.pick(p.x() - 0.5, p.y() - 0.5)  # pixel centres sit at .5 on the canvas

    def pick(self, x: float, y: float) -> None:
        """Place a defect of the chosen type and size at image pixel (x, y) (what a click on "Before" does)."""
        if self.image is None:
            return
        h, w = self.image.shape[:2]
        if not (0 <= x < w and 0 <= y < h):
            return
        self.point = (float(x), float(y))
        self._place()

    def _place(self) -> None:
        """Draw new parameters at the point for the chosen type, size and seed."""
        self._placed = None
        self._redraw(None)

    def _redraw_with_form(self) -> None:
        if self._placed is None:
            return
        # only what the user changed: the form shows three significant digits, the drawn values stay exact
        params = {**self._placed, **self.form.values()}
        self._redraw(params)

    def _redraw(self, params: dict | None) -> None:
        self._ticket += 1
        if self.point is None or self.image is None or not self.type_box.currentData():
            self.marker.setData([], [])
            self._set_made(None)
            return
        self.marker.setData([self.point[0] + 0.5], [self.point[1] + 0.5])
        ticket, image, bead, point = self._ticket, self.image, self.bead, self.point
        kind, size, seed = self.type_box.currentData(), self.size_box.currentData(), self.seed.value()
        zones, zone_names = self._zones

        def draw(_p: Any) -> Any:
            from workbench.synth.at_point import synthesize_at

            return synthesize_at(image, bead, kind, size, point, seed, params, zones, zone_names)

        def drawn(made: Any) -> None:
            if ticket == self._ticket:
                if params is None:
                    self._placed = dict(made.params)  # with the seed that drew it (the form hides it)
                    self._fill_form(self._placed)
                self._set_made(made)

        def failed(exc: BaseException) -> None:
            if ticket == self._ticket:
                self._set_made(None)
                self._say(str(exc), error=True)

        self._call(draw, drawn, failed)

    def _fill_form(self, params: dict) -> None:
        show_params(self.form, params)
        self.side.form_hint.setVisible(not params)

    def _set_made(self, made: Any) -> None:
        self.made = made
        if made is None:
            self.info.setText(self.docs.get(self.type_box.currentData(), ""))
            self.add_button.setEnabled(False)
        else:
            h, w = made.mask.shape
            area = int((made.mask > 0).sum())
            size = made.size if made.size == made.target_size else f"{made.size} (asked {made.target_size})"
            zone = f" · zone {made.zone}" if made.zone else ""
            self.info.setText(
                f"<b>{made.type}</b> · {size}{zone}<br>{area} px changed, {area / (h * w):.2%} of the sample"
            )
            self.add_button.setEnabled(area > 0 and self.current_sample() is not None)
            if area == 0:
                self._say("These parameters change no pixel visibly: nothing to add.", error=True)
            else:
                self._say("Compare before and after; change the parameters, or add it to the station.")
        self.previews.show_result(*((None, None) if made is None else (made.image, made.mask)))
        self.previewed.emit()

    # --- the bead by hand ----------------------------------------------------------------------------
    def _on_draw_toggled(self, on: bool) -> None:
        self.before.set_tool("polygon" if on else "pan")
        if on:
            self._say(DRAW_HINT)

    def _on_bead_drawn(self, points: list) -> None:
        self.draw_button.setChecked(False)
        view, image, snap = self.view_box.currentData(), self.image, self.model.snapshot
        if image is None or snap is None or view not in snap.views:
            return
        old = snap.views[view]

        def fit(_p: Any) -> dict:
            from workbench.synth.bead import bead_from_polyline

            return bead_from_polyline(
                image, np.asarray(points), what=f"the bead drawn on view '{view}'"
            ).to_dict()

        def done(doc: dict) -> None:
            import dataclasses

            new = dataclasses.replace(old, meta={**(old.meta or {}), "bead": doc})
            self.undo.set_view(old, new, f"draw the bead of view {view}")
            self._say("Bead drawn: it is the view's bead model now (undoable).")

        self._call(fit, done, lambda e: self._say(str(e), error=True))

    # --- into the station ------------------------------------------------------------------------------
    def add_to_station(self) -> None:
        """Store the previewed defect as a synthetic val or test sample (one undo step)."""
        made, src, snap = self.made, self.current_sample(), self.model.snapshot
        if made is None or src is None or not (made.mask > 0).any():
            return
        split = self.split_box.currentText()
        if split == self.side.BALANCE:
            have = [s.split for s in snap.samples if s.synthetic and s.view == src.view]
            split = "test" if have.count("test") < have.count("val") else "val"
        from workbench.jobs.synthesize import synthetic_info

        info = synthetic_info(src, made, split)
        self.undo.add_samples([made.image], [info], [made.mask], f"add a synthetic {made.type} on #{src.id}")
        self.add_button.setEnabled(False)  # once: a new draw (click, seed, parameter) makes the next one
        self._say(f"Added a synthetic '{made.type}' defect to {split} (Edit ▸ Undo takes it back).")
