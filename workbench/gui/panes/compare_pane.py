"""Put the heatmaps of several runs side by side over the same samples, on ONE colour scale (or, for runs
of different models, which score in different units, one scale per run), with linked zoom and pan;
click a pixel to read every run's score there and, for memory-bank runs (PatchCore), see the normal
training patch nearest to it."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.panes.model_process import ModelService
from workbench.gui.pg import pyqtgraph as pg
from workbench.gui.station_model import Snapshot, StationModel
from workbench.gui.theme import DARK, Colors

MAX_SAMPLES = 3
MEMORY_BANK_MODELS = ("patchcore",)  # models whose explain() names the nearest normal patch
# Colour scales: one for every run (values compare across runs of one model), or one per run (models
# score in their own units: PatchCore's distances and PaDiM's Mahalanobis values differ 20-fold).
SCALES = {"auto": "automatic", "shared": "one for every run", "run": "one per run"}


def load_maps(project, run_ids: list[str], sample_ids: list[int]) -> dict[str, Any]:
    """Sample images (id -> (H, W, 3) uint8) and each run's stored maps and scores on them (I/O thread).

    A run without stored maps for a sample gets None there (and a reason under 'missing')."""
    from workbench.jobs.evaluate_data import AUGMENTATION_KEY, as_rgb

    images = {sid: as_rgb(project.sample_image(sid)) for sid in sample_ids}
    maps: dict[str, dict[int, np.ndarray | None]] = {}
    scores: dict[str, dict[int, float]] = {}
    for rid in run_ids:
        where: dict[int, tuple[str, int]] = {}
        for res in project.results(run_id=rid):
            if not res.meta.get(AUGMENTATION_KEY):
                where.update({s: (res.id, row) for row, s in enumerate(res.sample_ids)})
        maps[rid], scores[rid] = {}, {}
        for sid in sample_ids:
            if sid not in where:
                maps[rid][sid] = None
                continue
            res_id, row = where[sid]
            try:
                maps[rid][sid] = project.result_maps(res_id, [sid])[0]
            except Exception:  # noqa: BLE001 - a result stored with scores only: no heatmap to show
                maps[rid][sid] = None
            scores[rid][sid] = float(project.result_scores(res_id)[row])
    return {"images": images, "maps": maps, "scores": scores}


def shared_levels(maps: list[np.ndarray]) -> tuple[float, float]:
    """(low, high) over every map: the 1st and 99.9th percentiles, so one hot pixel cannot wash out the rest."""
    vals = np.concatenate([m.ravel() for m in maps]) if maps else np.zeros(1)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(vals, [1.0, 99.9]))
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def to_pixmap(rgb: np.ndarray, height: int) -> QPixmap:
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    img = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(img).scaledToHeight(height, Qt.TransformationMode.FastTransformation)


class ComparePane(QWidget):
    """``explained(dict)`` when a nearest-patch answer arrives; ``cells[(run, sample)]`` are the view boxes."""

    explained = Signal(dict)

    def __init__(self, model: StationModel, service: ModelService, parent=None, colors: Colors = DARK):
        super().__init__(parent)
        self.model, self.service, self.colors = model, service, colors
        self.data: dict[str, Any] = {}
        self.levels = (0.0, 1.0)
        self.cells: dict[tuple[str, int], tuple[pg.ViewBox, pg.ImageItem, pg.ImageItem]] = {}
        self.picked: tuple[int, int, int] | None = None
        self._markers: list[tuple[pg.ViewBox, pg.ScatterPlotItem]] = []  # rings on the read pixel
        self._loading = False
        self._stale = False  # the choice changed while the pane was hidden: read when shown
        self.setMinimumWidth(30 * self.fontMetrics().horizontalAdvance("M"))

        self.view_combo = QComboBox(self)
        self.view_combo.currentTextChanged.connect(self._fill_lists)
        self.runs = QListWidget(self)
        self.samples = QListWidget(self)
        for lst in (self.runs, self.samples):
            lst.setMaximumHeight(6 * self.fontMetrics().height())
            lst.itemChanged.connect(lambda _i: self.reload())
        self.opacity = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(60)
        self.opacity.valueChanged.connect(self._apply_opacity)
        self.scale_combo = QComboBox(self)
        for key, text in SCALES.items():
            self.scale_combo.addItem(text, key)
        self.scale_combo.setToolTip(
            "One colour scale compares values across runs; runs of different models score in different "
            "units, so 'automatic' gives each its own scale when the models differ"
        )
        self.scale_combo.currentIndexChanged.connect(lambda _i: self._build(self.data, *self._shown))
        self._shown: tuple[list[str], list[int]] = ([], [])
        self.scale = QLabel("", self)
        self.scale.setWordWrap(True)
        self.grid = pg.GraphicsLayoutWidget(self)
        self.grid.scene().sigMouseClicked.connect(self._on_click)
        self.grid.installEventFilter(self)  # refit when the grid gets its real size
        self.info = QLabel("Click a pixel to read each run's score there.", self)
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.patch = QLabel(self)
        self.patch.setMinimumWidth(4 * self.fontMetrics().height())

        pick = QGridLayout()
        pick.addWidget(QLabel("View", self), 0, 0)
        pick.addWidget(self.view_combo, 0, 1)
        pick.addWidget(QLabel("Heatmap opacity", self), 0, 2)
        pick.addWidget(self.opacity, 0, 3)
        pick.addWidget(QLabel("Runs", self), 1, 0, Qt.AlignmentFlag.AlignTop)
        pick.addWidget(self.runs, 1, 1)
        pick.addWidget(QLabel(f"Samples (up to {MAX_SAMPLES})", self), 1, 2, Qt.AlignmentFlag.AlignTop)
        pick.addWidget(self.samples, 1, 3)
        pick.addWidget(QLabel("Colour scale", self), 2, 0)
        pick.addWidget(self.scale_combo, 2, 1)
        pick.setColumnStretch(1, 1)
        pick.setColumnStretch(3, 1)
        bottom = QWidget(self)
        bl = QHBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.info, 1)
        bl.addWidget(self.patch)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.grid)
        split.addWidget(bottom)
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(pick)
        layout.addWidget(self.scale)
        layout.addWidget(split, 1)

        model.opened.connect(self._on_snapshot)
        model.changed.connect(self._on_snapshot)
        model.closed.connect(lambda: self._on_snapshot(None))
        self.set_colors(colors)
        self._on_snapshot(model.snapshot)

    @property
    def busy(self) -> bool:
        return self._loading

    def set_colors(self, colors: Colors) -> None:
        self.colors = colors
        self.grid.setBackground(colors.canvas)

    def shutdown(self) -> None:
        pass

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)

        if self._stale:
            self.reload()
        QTimer.singleShot(0, self.fit)  # a grid built while the pane was hidden had no size to fit

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if obj is self.grid and event.type() == QEvent.Type.Resize:
            QTimer.singleShot(0, self.fit)
        return False

    def fit(self) -> None:
        """Show the whole sample in every cell (double-click a cell does the same)."""
        if not self.cells:
            return
        vb, img, _heat = next(iter(self.cells.values()))
        h, w = img.image.shape[:2]
        vb.setRange(xRange=(0, w), yRange=(0, h), padding=0.02)

    # --- choosing runs and samples ---------------------------------------------------------------------
    def _on_snapshot(self, snap: Snapshot | None) -> None:
        views = sorted({r.view for r in snap.runs}) if snap is not None else []
        if views == [self.view_combo.itemText(i) for i in range(self.view_combo.count())]:
            if snap is not None and {
                self.runs.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.runs.count())
            } == {r.id for r in snap.runs if r.view == self.view_combo.currentText()}:
                return  # nothing this pane shows has changed
        current = self.view_combo.currentText()
        self.view_combo.blockSignals(True)
        self.view_combo.clear()
        self.view_combo.addItems(views)
        self.view_combo.blockSignals(False)
        if current in views:
            self.view_combo.setCurrentText(current)
        self._fill_lists(self.view_combo.currentText())

    def _fill_lists(self, view: str) -> None:
        snap = self.model.snapshot
        runs = [r for r in snap.runs if r.view == view] if snap is not None else []
        scored = set()
        for res in snap.results if snap is not None else []:
            if res.run in {r.id for r in runs}:
                scored.update(res.sample_ids)
        samples = [s for s in snap.samples if s.id in scored] if snap is not None else []
        samples.sort(key=lambda s: (s.label != "defective", s.id))  # defects first: that is what to compare
        for lst, items in (
            (self.runs, [(f"{r.id} · {r.model}", r.id) for r in runs]),
            (self.samples, [(f"{s.id} · pass {s.pass_index} · {s.label}", s.id) for s in samples]),
        ):
            lst.blockSignals(True)
            lst.clear()
            for k, (text, key) in enumerate(items):
                item = QListWidgetItem(text, lst)
                item.setData(Qt.ItemDataRole.UserRole, key)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                on = lst is self.runs or k < MAX_SAMPLES
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            lst.blockSignals(False)
        self.reload()

    def _checked(self, lst: QListWidget) -> list:
        return [
            lst.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(lst.count())
            if lst.item(i).checkState() == Qt.CheckState.Checked
        ]

    def choose(self, run_ids: list[str], sample_ids: list[int]) -> None:
        """Tick exactly these runs and samples (they must belong to the current view)."""
        for lst, keep in ((self.runs, set(run_ids)), (self.samples, set(sample_ids))):
            lst.blockSignals(True)
            for i in range(lst.count()):
                on = lst.item(i).data(Qt.ItemDataRole.UserRole) in keep
                lst.item(i).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            lst.blockSignals(False)
        self.reload()

    def show_runs(self, run_ids: list[str]) -> None:
        """Compare these runs (the view of the first one) on its first samples."""
        snap = self.model.snapshot
        runs = [r for r in snap.runs if r.id in run_ids] if snap is not None else []
        if not runs:
            return
        self.view_combo.setCurrentText(runs[0].view)
        keep = [r.id for r in snap.runs if r.view == runs[0].view]
        self.choose(keep, self._checked(self.samples)[:MAX_SAMPLES])

    def show_samples(self, run_ids: list[str], sample_ids: list[int], title: str) -> None:
        """Show these samples of these runs (a count clicked in Thresholds)."""
        snap = self.model.snapshot
        runs = [r for r in snap.runs if r.id in run_ids] if snap is not None else []
        if not runs:
            return
        self.view_combo.setCurrentText(runs[0].view)
        self.choose([r.id for r in runs], list(sample_ids))

    def reload(self) -> None:
        """Read the ticked runs' maps on the ticked samples (once the pane is on screen: a hidden pane
        reads nothing, so opening a station stays quick)."""
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        runs, samples = self._checked(self.runs), self._checked(self.samples)[:MAX_SAMPLES]
        if not runs or not samples:
            self._build({"images": {}, "maps": {}, "scores": {}}, [], [])
            self.scale.setText("Tick runs and samples to compare." if self.model.snapshot else "")
            return
        self._loading = True
        self.model.call(
            lambda p: load_maps(p, runs, samples), lambda d: self._on_loaded(runs, samples, d), self._on_error
        )

    def _on_error(self, exc: BaseException) -> None:
        self._loading = False
        self.scale.setText(f"The heatmaps could not be read: {exc}")

    def _on_loaded(self, runs: list[str], samples: list[int], data: dict[str, Any]) -> None:
        self._loading = False
        if runs != self._checked(self.runs) or samples != self._checked(self.samples)[:MAX_SAMPLES]:
            return  # the choice changed while reading: a newer read is on its way
        self._build(data, runs, samples)

    # --- the grid ---------------------------------------------------------------------------------------
    def scale_per_run(self, runs: list[str]) -> bool:
        """Whether each run gets its own colour scale: asked for, or 'auto' with runs of several models."""
        mode = self.scale_combo.currentData()
        snap = self.model.snapshot
        models = {r.id: r.model for r in snap.runs} if snap is not None else {}
        return mode == "run" or (mode == "auto" and len({models.get(r) for r in runs}) > 1)

    def _build(self, data: dict[str, Any], runs: list[str], samples: list[int]) -> None:
        self.grid.clear()
        self.cells, self.data, self.picked, self._markers = {}, data, None, []
        self._shown = (runs, samples)
        if not runs:
            return
        per_run = self.scale_per_run(runs)
        present = {r: [m for m in data["maps"].get(r, {}).values() if m is not None] for r in runs}
        self.levels = shared_levels([m for ms in present.values() for m in ms])
        run_levels = {r: shared_levels(present[r]) if per_run else self.levels for r in runs}
        lut = pg.colormap.get("inferno").getLookupTable(nPts=256)
        snap = self.model.snapshot
        models = {r.id: r.model for r in snap.runs} if snap is not None else {}
        first: pg.ViewBox | None = None
        for c, rid in enumerate(runs):
            lo, hi = run_levels[rid]
            scale = f"<br>colour scale {lo:.3g} – {hi:.3g}" if per_run else ""
            self.grid.addLabel(f"<b>{rid}</b> · {models.get(rid, '')}{scale}", row=0, col=c + 1)
        for r, sid in enumerate(samples):
            info = snap.sample(sid) if snap is not None else None
            label = f"sample {sid}<br>{info.label}" if info is not None else f"sample {sid}"
            self.grid.addLabel(label, row=r + 1, col=0, angle=-90)
            for c, rid in enumerate(runs):
                vb = self.grid.addViewBox(
                    row=r + 1, col=c + 1, lockAspect=True, invertY=True, enableMenu=False
                )
                img = pg.ImageItem(data["images"][sid], axisOrder="row-major", levels=(0, 255))
                heat = pg.ImageItem(axisOrder="row-major")
                m = data["maps"].get(rid, {}).get(sid)
                if m is not None:
                    heat.setImage(m, levels=run_levels[rid], lut=lut, autoLevels=False)
                heat.setZValue(10)
                vb.addItem(img)
                vb.addItem(heat)
                if first is None:
                    first = vb
                else:  # one zoom and pan for every cell: the same place in every heatmap
                    vb.setXLink(first)
                    vb.setYLink(first)
                self.cells[(rid, sid)] = (vb, img, heat)
        QTimer.singleShot(0, self.fit)
        self._apply_opacity(self.opacity.value())
        lo, hi = self.levels
        missing = sum(m is None for r in runs for m in data["maps"].get(r, {}).values())
        self.scale.setText(
            (
                "Each run on its own colour scale (inferno, dark to bright: its range above its column); "
                "the runs' models score in different units"
                if per_run
                else f"One colour scale for every heatmap (inferno): {lo:.4g} (dark) to {hi:.4g} (bright)"
            )
            + (f"; {missing} cell(s) have no stored map" if missing else "")
        )

    def _apply_opacity(self, value: int) -> None:
        for _vb, _img, heat in self.cells.values():
            heat.setOpacity(value / 100.0)

    # --- reading a pixel --------------------------------------------------------------------------------
    def _on_click(self, event) -> None:
        for (_rid, sid), (vb, _img, _heat) in self.cells.items():
            if vb.sceneBoundingRect().contains(event.scenePos()):
                p = vb.mapSceneToView(event.scenePos())
                self.pick(sid, int(p.y()), int(p.x()))
                return

    def pick(self, sample_id: int, y: int, x: int) -> None:
        """Show every run's value at pixel (y, x) of a sample; ask memory-bank runs for the nearest patch."""
        image = self.data.get("images", {}).get(sample_id)
        if image is None or not (0 <= y < image.shape[0] and 0 <= x < image.shape[1]):
            return
        self.picked = (sample_id, y, x)
        self._mark(sample_id, y, x)
        snap = self.model.snapshot
        models = {r.id: r.model for r in snap.runs} if snap is not None else {}
        lines = [f"<b>sample {sample_id}</b>, pixel (x {x}, y {y}):"]
        for rid, per in self.data["maps"].items():
            m = per.get(sample_id)
            value = "no stored map" if m is None else f"{float(m[y, x]):.4g}"
            score = self.data["scores"].get(rid, {}).get(sample_id)
            lines.append(
                f"{rid} ({models.get(rid, '?')}): {value}"
                + (f" · image score {score:.4g}" if score is not None else "")
            )
        self.info.setText("<br>".join(lines))
        self.patch.clear()
        for rid in self.data["maps"]:
            if models.get(rid) in MEMORY_BANK_MODELS:
                self._explain(rid, sample_id, y, x)
                break

    def _mark(self, sample_id: int, y: int, x: int) -> None:
        """A ring around the read pixel in every run's cell of that sample (white: it stands out on
        every colour of the map)."""
        for vb, marker in self._markers:
            vb.removeItem(marker)
        self._markers = []
        for (_rid, sid), (vb, _img, _heat) in self.cells.items():
            if sid == sample_id:
                marker = pg.ScatterPlotItem(
                    [x + 0.5], [y + 0.5], symbol="o", size=18, brush=None, pen=pg.mkPen("w", width=2)
                )
                marker.setZValue(20)
                vb.addItem(marker)
                self._markers.append((vb, marker))

    def _explain(self, rid: str, sid: int, y: int, x: int) -> None:
        from workbench.jobs.explain import explain_inputs, nearest_patch

        def answered(found: dict) -> None:
            self.model.call(lambda p: nearest_patch(p, rid, found), lambda out: self._on_patch(rid, sid, out))

        def ask(inputs: dict) -> None:
            self.service.ask("explain", {**inputs, "y": y, "x": x}, answered, self._on_explain_error)

        self.info.setText(self.info.text() + f"<br><i>{rid}: looking up the nearest normal patch …</i>")
        self.model.call(lambda p: explain_inputs(p, rid, sid), ask, lambda e: self._on_explain_error(str(e)))

    def _on_explain_error(self, message: str) -> None:
        self.info.setText(self.info.text().split("<br><i>")[0] + f"<br>nearest patch: {message}")

    def _on_patch(self, rid: str, sid: int, out: dict) -> None:
        if self.picked is None or self.picked[0] != sid:
            return
        text = self.info.text().split("<br><i>")[0]
        if out.get("train_sample_id") is None:
            self.info.setText(
                text + f"<br>{rid}: nearest normal patch #{out['bank_index']} (training sample unknown)"
            )
        else:
            y0, x0, y1, x1 = out["box_px"]
            self.info.setText(
                text + f"<br>{rid}: nearest normal patch in training sample {out['train_sample_id']} "
                f"at (x {x0}–{x1}, y {y0}–{y1}); patch distance {out['score']:.4g}"
            )
            self.patch.setPixmap(to_pixmap(out["patch"], 5 * self.fontMetrics().height()))
        self.explained.emit(out)
