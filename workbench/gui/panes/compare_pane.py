"""Put the heatmaps of several runs side by side over the same samples, with linked zoom and pan. Each
cell shows the picture, its ground-truth outline, the heatmap, the image score and OK / NG under the
chosen policy. By default every map is drawn in units of its run's threshold (1.0 = the threshold), so
runs of different models, which score in different units, compare at a glance; the map-unit scales
clip at stated percentiles. Click a pixel to read every run's value there and, for memory-bank runs
(PatchCore), see the normal training patch nearest to it.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSlider,
    QSplitter,
    QWidget,
)

from workbench.gui.panes.compare_data import PERCENTILES, Cells, load_cells, percentile_levels
from workbench.gui.panes.model_process import ModelService
from workbench.gui.panes.pane import Pane
from workbench.gui.pg import pyqtgraph as pg
from workbench.gui.runs import sig, stale_runs
from workbench.gui.station_model import Snapshot, StationModel
from workbench.gui.theme import DARK, Colors
from workbench.gui.widgets.boxes import STRETCH, choice_box, column, grid_field, row, text_label

MAX_SAMPLES = 3  # ticked by default; a count opened from Thresholds shows up to MAX_GRID
MAX_GRID = 24
MEMORY_BANK_MODELS = ("patchcore",)  # models whose explain() names the nearest normal patch
UNITS = (0.0, 2.0)  # the threshold-unit scale: dark at 0, the threshold (1.0) in the middle, bright at 2
SCALES = {
    "threshold": "× each run's threshold (1.0 = threshold)",
    "shared": "map values, one scale for every run",
    "run": "map values, one scale per run",
}
NEWEST = "__newest__"


def to_pixmap(rgb: np.ndarray, height: int) -> QPixmap:
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    img = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(img).scaledToHeight(height, Qt.TransformationMode.FastTransformation)


def arrange(
    n_runs: int, n_samples: int, aspect: float, width: float, height: float, caption: float
) -> tuple[str, int]:
    """How to lay the cells out so each is as large as it can be: ('flow', columns) for one run's samples
    wrapped in rows, ('samples-rows', 0) for a sample per row and a run per column, ('runs-rows', 0) for
    the opposite. ``aspect`` is width / height of a picture; ``caption`` the height under each cell."""

    def cell(cols: int, rows: int) -> float:
        w = width / max(cols, 1)
        h = height / max(rows, 1) - caption
        return min(w, h * aspect)

    if n_runs == 1:
        best = max(range(1, n_samples + 1), key=lambda c: cell(c, math.ceil(n_samples / c)))
        return "flow", best
    a, b = cell(n_runs, n_samples), cell(n_samples, n_runs)
    return ("samples-rows", 0) if a >= b else ("runs-rows", 0)


def _rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def _colour_bar(lo: float, hi: float, label: str, orientation: str, width: int) -> pg.ColorBarItem:
    """The maps' colour scale (inferno) from ``lo`` to ``hi``, read-only, with its unit as the label."""
    return pg.ColorBarItem(
        values=(lo, hi),
        colorMap=pg.colormap.get("inferno"),
        label=label,
        interactive=False,
        orientation=orientation,
        width=width,
    )


class ComparePane(Pane):
    """``explained(dict)`` when a nearest-patch answer arrives; ``cells[(run, sample)]`` are (view box,
    picture, heatmap)."""

    explained = Signal(dict)

    def __init__(self, model: StationModel, service: ModelService, parent=None, colors: Colors = DARK):
        super().__init__(model, parent, colors)
        self.service = service
        self.data = Cells()
        self.levels: dict[str, tuple[float, float]] = {}
        self.cells: dict[tuple[str, int], tuple[pg.ViewBox, pg.ImageItem, pg.ImageItem]] = {}
        self.picked: tuple[int, int, int] | None = None
        self._markers: list[tuple[pg.ViewBox, pg.ScatterPlotItem]] = []  # rings on the read pixel
        self._stale = False  # the choice changed while the pane was hidden: read when shown
        self._ask = 0  # a newer pixel read makes older nearest-patch answers stale
        self._shown: tuple[list[str], list[int]] = ([], [])
        self.grid_title = ""
        self._split_set = False
        self._wanted_policy: str | None = None
        self._arranged: tuple[str, int] = ("", 0)
        self._rearrange = QTimer(self)
        self._rearrange.setSingleShot(True)
        self._rearrange.setInterval(200)
        self._rearrange.timeout.connect(self._maybe_rearrange)
        self.setMinimumWidth(30 * self.fontMetrics().horizontalAdvance("M"))
        fh = self.fontMetrics().height()

        self.view_combo = QComboBox(self)
        self.view_combo.currentTextChanged.connect(self._fill_lists)
        self.runs = QListWidget(self)
        self.samples = QListWidget(self)
        for lst in (self.runs, self.samples):
            lst.setMaximumHeight(5 * fh)
            lst.itemChanged.connect(lambda _i: self._choice_changed())
        self.opacity = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(60)
        self.opacity.valueChanged.connect(self._apply_opacity)
        self.scale_combo = choice_box(
            self,
            SCALES,
            "Models score in their own units (PatchCore distances, PaDiM Mahalanobis values): in units of "
            "each run's threshold every map reads the same way — 1.0 is where its run flags a sample",
        )
        self.scale_combo.currentIndexChanged.connect(lambda _i: self._build(*self._shown))
        self.policy_combo = QComboBox(self)
        self.policy_combo.setToolTip("The policy whose thresholds scale the maps and give OK / NG")
        self.policy_combo.activated.connect(lambda _i: (setattr(self, "_wanted_policy", None), self.reload()))
        self.scale = text_label(self)
        self.grid = pg.GraphicsLayoutWidget(self)
        self.grid.scene().sigMouseClicked.connect(self._on_click)
        self.grid.installEventFilter(self)  # refit when the grid gets its real size
        self.info = text_label(self, "Click a pixel to read each run's value there.", selectable=True)
        self.patch_note = text_label(self)
        self.patch = QLabel(self)
        self.patch.setMinimumWidth(4 * fh)

        pick = QGridLayout()
        choices = (("View", self.view_combo), ("Colours", self.scale_combo), ("Policy", self.policy_combo))
        for r, (label, field) in enumerate((*choices, ("Opacity", self.opacity))):
            grid_field(pick, label, field, r, 0)
        grid_field(pick, "Runs", self.runs, 0, 2, (4, 1), top=True)
        grid_field(pick, "Samples", self.samples, 0, 4, (4, 1), top=True)
        pick.setColumnStretch(1, 2)
        pick.setColumnStretch(3, 2)
        pick.setColumnStretch(5, 3)
        bottom = QWidget(self)
        beside = row((column(self.info, self.patch_note, STRETCH), 1), self.patch, parent=bottom)
        beside.setContentsMargins(0, 0, 0, 0)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.grid)
        split.addWidget(bottom)
        split.setStretchFactor(0, 6)
        split.setStretchFactor(1, 1)
        self.split = split
        column(pick, self.scale, (split, 1), parent=self)

        self.set_colors(colors)
        model.watch(self._on_snapshot)

    def set_colors(self, colors: Colors) -> None:
        super().set_colors(colors)
        self.grid.setBackground(colors.canvas)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._stale:
            self.reload()
        QTimer.singleShot(0, self.fit)  # a grid built while the pane was hidden had no size to fit

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if obj is self.grid and event.type() == QEvent.Type.Resize:
            QTimer.singleShot(0, self.fit)
            self._rearrange.start()  # a new size may want the cells laid out the other way
        return False

    def _arrangement(self) -> tuple[str, int]:
        runs, samples = self._shown
        if not runs or not samples or samples[0] not in self.data.images:
            return ("", 0)
        ih, iw = self.data.images[samples[0]].shape[:2]
        caption = 1.6 * self.fontMetrics().height()
        return arrange(
            len(runs),
            len(samples),
            iw / max(ih, 1),
            self.grid.width() - 110,
            self.grid.height() - 40,
            caption,
        )

    def _maybe_rearrange(self) -> None:
        if self._shown[0] and self._arrangement() != self._arranged and not self._loading:
            self._build(*self._shown)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        fh = self.fontMetrics().height()
        total = self.split.height()
        if not self._split_set and total > 10 * fh:  # the read-out needs four lines; the grid the rest
            self._split_set = True
            self.split.setSizes([total - 4 * fh, 4 * fh])

    def fit(self) -> None:
        """Show the whole sample in every cell (double-click a cell does the same)."""
        if not self.cells:
            return
        vb, img, _heat = next(iter(self.cells.values()))
        h, w = img.image.shape[:2]
        vb.setRange(xRange=(0, w), yRange=(0, h), padding=0.02)

    # --- choosing runs and samples ---------------------------------------------------------------------
    def _on_snapshot(self, snap: Snapshot | None) -> None:
        policy_changed = self._fill_policies(snap)
        views = sorted({r.view for r in snap.runs}) if snap is not None else []
        if views == [self.view_combo.itemText(i) for i in range(self.view_combo.count())]:
            if snap is not None and {
                self.runs.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.runs.count())
            } == {r.id for r in snap.runs if r.view == self.view_combo.currentText()}:
                if policy_changed:
                    self.reload()
                return  # the runs shown are the same
        current = self.view_combo.currentText()
        self.view_combo.blockSignals(True)
        self.view_combo.clear()
        self.view_combo.addItems(views)
        self.view_combo.blockSignals(False)
        if current in views:
            self.view_combo.setCurrentText(current)
        for w in (self.view_combo, self.scale_combo, self.policy_combo, self.opacity):
            w.setEnabled(bool(views))
        self._fill_lists(self.view_combo.currentText())

    def _fill_policies(self, snap: Snapshot | None) -> bool:
        """Refill the policy box; True when another policy is chosen now."""
        before = keep = self.policy_combo.currentData()
        if self._wanted_policy and snap is not None and self._wanted_policy in snap.policies:
            keep = self._wanted_policy  # the policy the Thresholds step stands for, once it is stored
        self.policy_combo.blockSignals(True)
        self.policy_combo.clear()
        self.policy_combo.addItem("the newest policy of each run", NEWEST)
        for name in reversed(list(snap.policies)) if snap is not None else []:
            self.policy_combo.addItem(name, name)
        i = self.policy_combo.findData(keep)
        self.policy_combo.setCurrentIndex(max(0, i))
        self.policy_combo.blockSignals(False)
        return self.policy_combo.currentData() != before

    def choose_policy(self, name: str | None) -> None:
        """Scale and judge by the stored policy ``name`` (None: the newest policy of each run), until
        the user picks another one here."""
        self._wanted_policy = name
        i = self.policy_combo.findData(name or NEWEST)
        if i >= 0 and i != self.policy_combo.currentIndex():
            self.policy_combo.setCurrentIndex(i)
            self.reload()

    def _fill_lists(self, view: str) -> None:
        snap = self.model.snapshot
        runs = [r for r in snap.runs if r.view == view] if snap is not None else []
        scored = set()
        for res in snap.results if snap is not None else []:
            if res.run in {r.id for r in runs}:
                scored.update(res.sample_ids)
        samples = [s for s in snap.samples if s.id in scored] if snap is not None else []
        samples.sort(key=lambda s: (s.label != "defective", s.synthetic, s.id))  # real defects first
        stale = stale_runs(snap)
        for lst, items in (
            (
                self.runs,
                [(f"{r.id} · {r.model}" + (" · ⚠ stale" if r.id in stale else ""), r.id) for r in runs],
            ),
            (
                self.samples,
                [
                    (
                        f"{s.id} · pass {s.pass_index} · {s.split} · {s.label}"
                        + (" ◆ synthetic" if s.synthetic else ""),
                        s.id,
                    )
                    for s in samples
                ],
            ),
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
        self.grid_title = ""
        self.reload()

    def _checked(self, lst: QListWidget) -> list:
        return [
            lst.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(lst.count())
            if lst.item(i).checkState() == Qt.CheckState.Checked
        ]

    def _choice_changed(self) -> None:
        self.grid_title = ""  # a hand-made choice is no longer "the samples behind a count"
        self.reload()

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
        """Compare every run of the view of the first of these runs, on its first samples."""
        snap = self.model.snapshot
        runs = [r for r in snap.runs if r.id in run_ids] if snap is not None else []
        if not runs:
            return
        self.view_combo.setCurrentText(runs[0].view)
        keep = [r.id for r in snap.runs if r.view == runs[0].view]
        self.choose(keep, self._checked(self.samples)[:MAX_SAMPLES])

    def show_samples(self, run_ids: list[str], sample_ids: list[int], title: str) -> None:
        """Show these samples of these runs in a grid (a count clicked in Thresholds)."""
        snap = self.model.snapshot
        runs = [r for r in snap.runs if r.id in run_ids] if snap is not None else []
        if not runs:
            return
        self.view_combo.setCurrentText(runs[0].view)
        self.choose([r.id for r in runs], list(sample_ids))
        self.grid_title = f"{title}: {len(sample_ids)} samples" + (
            f", the first {MAX_GRID} shown" if len(sample_ids) > MAX_GRID else ""
        )
        self._show_scale_note()

    def reload(self) -> None:
        """Read the ticked runs' maps on the ticked samples (once the pane is on screen: a hidden pane
        reads nothing, so opening a station stays quick)."""
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        runs, samples = self._checked(self.runs), self._checked(self.samples)[:MAX_GRID]
        if not runs or not samples:
            self._build([], [])
            self.scale.setText(
                "Tick runs and samples to compare." if self.model.snapshot else "Open a station first."
            )
            return
        snap = self.model.snapshot
        policies = dict(snap.policies) if snap is not None else {}
        name = self.policy_combo.currentData()
        name = None if name in (None, NEWEST) else name
        self._loading = True
        self.model.call(
            lambda p: load_cells(p, runs, samples, policies, name, (_rgb(self.colors.box), (255, 255, 255))),
            lambda d: self._on_loaded(runs, samples, d),
            self._on_error,
        )

    def _on_error(self, exc: BaseException) -> None:
        self._loading = False
        self.scale.setText(f"The heatmaps could not be read: {exc}")

    def _on_loaded(self, runs: list[str], samples: list[int], data: Cells) -> None:
        self._loading = False
        if runs != self._checked(self.runs) or samples != self._checked(self.samples)[:MAX_GRID]:
            return  # the choice changed while reading: a newer read is on its way
        self.data = data
        self._build(runs, samples)

    # --- the grid ---------------------------------------------------------------------------------------
    def mode(self) -> str:
        return self.scale_combo.currentData()

    def _levels(self, runs: list[str]) -> dict[str, tuple[float, float]]:
        mode = self.mode()
        if mode == "threshold":
            return {r: UNITS for r in runs}
        present = {r: [m for m in self.data.maps.get(r, {}).values() if m is not None] for r in runs}
        shared = percentile_levels([m for ms in present.values() for m in ms])
        return {r: percentile_levels(present[r]) if mode == "run" else shared for r in runs}

    def _build(self, runs: list[str], samples: list[int]) -> None:
        self.grid.clear()
        self.cells, self.picked, self._markers = {}, None, []
        self._ask += 1
        self.patch_note.setText("")
        self.patch.clear()
        self._shown = (runs, samples)
        if not runs or not samples:
            return
        self.levels = self._levels(runs)
        lut = pg.colormap.get("inferno").getLookupTable(nPts=256)
        snap = self.model.snapshot
        models = {r.id: r.model for r in snap.runs} if snap is not None else {}
        units = self.mode() == "threshold"
        mode, ncols = self._arranged = self._arrangement()
        one_run = mode == "flow"
        if one_run:
            self.grid.addLabel(self._run_title(runs[0], models), row=0, col=0, colspan=ncols)
        elif mode == "samples-rows":
            ncols = len(runs)
            for c, rid in enumerate(runs):
                self.grid.addLabel(self._run_title(rid, models), row=0, col=c + 1)
        else:
            ncols = len(samples)
            for c, sid in enumerate(samples):
                self.grid.addLabel(self._sample_title(sid, vertical=False), row=0, col=c + 1)
        nrows = (
            math.ceil(len(samples) / ncols)
            if one_run
            else (len(samples) if mode == "samples-rows" else len(runs))
        )
        self._add_colour_bars(runs, mode, ncols, nrows)
        first: pg.ViewBox | None = None
        linked: list[pg.ViewBox] = []
        for k, sid in enumerate(samples):
            for c, rid in enumerate(runs):
                if one_run:
                    row, col = 2 + 2 * (k // ncols), k % ncols
                elif mode == "samples-rows":
                    row, col = 2 + 2 * k, c + 1
                    if c == 0:
                        self.grid.addLabel(self._sample_title(sid), row=row, col=0, angle=-90)
                else:
                    row, col = 2 + 2 * c, k + 1
                    if k == 0:
                        self.grid.addLabel(
                            self._run_title(rid, models, short=True), row=row, col=0, angle=-90
                        )
                vb = self.grid.addViewBox(row=row, col=col, lockAspect=True, invertY=True, enableMenu=False)
                img = pg.ImageItem(axisOrder="row-major")  # given levels: no min/max scan per picture
                img.setImage(self.data.images[sid], autoLevels=False, levels=(0, 255))
                heat = pg.ImageItem(axisOrder="row-major")
                shown = self.data.units(rid, sid) if units else self.data.maps.get(rid, {}).get(sid)
                if shown is not None:
                    heat.setImage(np.nan_to_num(shown), levels=self.levels[rid], lut=lut, autoLevels=False)
                heat.setZValue(10)
                heat.setOpacity(self.opacity.value() / 100.0)
                ring = self.data.rings.get((rid, sid))
                vb.addItem(img)
                vb.addItem(heat)
                if ring is not None:
                    ring_item = pg.ImageItem(axisOrder="row-major")
                    ring_item.setImage(ring, autoLevels=False, levels=(0, 255))
                    ring_item.setZValue(15)
                    vb.addItem(ring_item)
                if first is None:
                    first = vb
                else:
                    linked.append(vb)
                caption = self.grid.addLabel(
                    self._cell_caption(rid, sid, one_run or mode == "runs-rows"),
                    row=row + 1,
                    col=col,
                    size="9pt",
                )
                caption.setMaximumHeight(1.6 * self.fontMetrics().height())
                self.cells[(rid, sid)] = (vb, img, heat)
        # One zoom and pan for every cell: the same place in every heatmap. Linked once the grid is
        # built: each cell added re-lays the grid out, and linked boxes pass every resize on to each
        # other (a 3x3 grid spent ~100 ms of the GUI thread in those cascades).
        for vb in linked:
            vb.setXLink(first)
            vb.setYLink(first)
        # the pictures' rows take the height; titles, the bar and the captions only what they need
        grid_layout = self.grid.ci.layout
        for r in range(grid_layout.rowCount()):
            grid_layout.setRowStretchFactor(r, 1 if r >= 2 and r % 2 == 0 else 0)
        self._show_scale_note()
        QTimer.singleShot(0, self.fit)

    def _run_title(self, rid: str, models: dict[str, str], short: bool = False) -> str:
        t = self.data.thresholds.get(rid)
        if self.mode() == "run" and rid in self.levels:
            lo, hi = self.levels[rid]
            models = {**models, rid: f"{models.get(rid, '')} · scale {sig(lo)}–{sig(hi)}"}
        if short:
            return f"<b>{rid}</b><br>{models.get(rid, '')}" + (
                f" · thr {sig(t.value)}" if t is not None else ""
            )
        thr = f" · threshold {sig(t.value)} ({t.source})" if t is not None else ""
        return f"<b>{rid}</b> · {models.get(rid, '')}{thr}"

    def _sample_title(self, sid: int, vertical: bool = True) -> str:
        snap = self.model.snapshot
        info = snap.sample(sid) if snap is not None else None
        if info is None:
            return f"sample {sid}"
        sep = "<br>" if vertical else " · "
        return f"sample {sid}{sep}{info.label}" + (" ◆ synthetic" if info.synthetic else "")

    def _cell_caption(self, rid: str, sid: int, with_sample: bool) -> str:
        snap = self.model.snapshot
        info = snap.sample(sid) if snap is not None else None
        parts = []
        if with_sample and info is not None:
            parts.append(f"#{sid} {info.label}" + (" ◆ synthetic" if info.synthetic else ""))
        score = self.data.scores.get(rid, {}).get(sid)
        rel = self.data.score_units(rid, sid)
        if score is not None:
            parts.append(f"score {sig(score)}" + (f" = {sig(rel)}×" if rel is not None else ""))
        if self.data.maps.get(rid, {}).get(sid) is None:
            parts.append("no stored map")
        verdict = self.data.verdict(rid, sid)
        if verdict is not None:
            color = self.colors.defective if verdict else self.colors.good
            parts.append(f"<b><span style='color:{color}'>{'NG' if verdict else 'OK'}</span></b>")
        return " · ".join(parts)

    def _add_colour_bars(self, runs: list[str], mode: str, ncols: int, nrows: int) -> None:
        """A colour bar with its range and unit: one, upright at the right of the cells, when every map
        shares the scale (threshold units or one map scale); one per run column otherwise."""
        one_run = mode == "flow"
        if self.mode() != "run" or one_run or mode == "runs-rows":
            rid = runs[0]
            lo, hi = self.levels[rid]
            if self.mode() == "threshold":
                label = "× the run's threshold (1.0 = threshold)"
            elif self.mode() == "run" and len(runs) > 1:
                label = "map value, each run its own scale (beside its name)"
            else:
                label = f"map value, {PERCENTILES[0]:g}th–{PERCENTILES[1]:g}th percentile"
            bar = _colour_bar(lo, hi, label, "vertical", 12)
            self.grid.addItem(bar, row=2, col=ncols if one_run else ncols + 1, rowspan=2 * nrows)
            return
        for c, rid in enumerate(runs):
            lo, hi = self.levels[rid]
            label = f"map value ({PERCENTILES[0]:g}th–{PERCENTILES[1]:g}th percentile: {sig(lo)} – {sig(hi)})"
            self.grid.addItem(_colour_bar(lo, hi, label, "horizontal", 10), row=1, col=c + 1)

    def _show_scale_note(self) -> None:
        runs, _samples = self._shown
        if not runs:
            return
        lead = f"<b>{self.grid_title}</b><br>" if self.grid_title else ""
        legend = (
            f"<span style='color:{self.colors.box}'>cyan outline</span>: ground truth · white ring: "
            "where the map reaches the threshold · OK / NG: the image under the policy"
        )
        if self.mode() == "threshold":
            scale = "Colours in units of each run's threshold: dark 0, middle 1.0 = the threshold, bright 2.0 and above"
        else:
            pct = f"{PERCENTILES[0]:g}th to {PERCENTILES[1]:g}th percentile of the shown maps"
            scale = f"Colours in map values, clipped at the {pct} (values above are as bright as the top)"
        missing = sum(1 for per in self.data.maps.values() for m in per.values() if m is None)
        self.scale.setText(
            f"{lead}{scale}. {legend}" + (f"; {missing} cell(s) have no stored map" if missing else "")
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
        image = self.data.images.get(sample_id)
        if image is None or not (0 <= y < image.shape[0] and 0 <= x < image.shape[1]):
            return
        self.picked = (sample_id, y, x)
        self._ask += 1
        self._mark(sample_id, y, x)
        snap = self.model.snapshot
        models = {r.id: r.model for r in snap.runs} if snap is not None else {}
        lines = [f"<b>sample {sample_id}</b>, pixel (x {x}, y {y}):"]
        for rid, per in self.data.maps.items():
            m = per.get(sample_id)
            u = self.data.units(rid, sample_id)
            value = "no stored map" if m is None else f"{float(m[y, x]):.4g}"
            if u is not None and np.isfinite(u[y, x]):
                value += f" = {sig(float(u[y, x]))}× threshold"
            score = self.data.scores.get(rid, {}).get(sample_id)
            lines.append(
                f"{rid} ({models.get(rid, '?')}): {value}"
                + (f" · image score {score:.4g}" if score is not None else "")
            )
        self.info.setText("<br>".join(lines))
        self.patch.clear()
        self.patch_note.setText("")
        for rid in self.data.maps:
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

        ask_id = self._ask

        def current() -> bool:
            return ask_id == self._ask  # a newer click, a rebuilt grid or another scale: drop the answer

        def answered(found: dict) -> None:
            if current():
                self.model.call(
                    lambda p: nearest_patch(p, rid, found), lambda out: self._on_patch(rid, sid, out, ask_id)
                )

        def ask(inputs: dict) -> None:
            if current():
                self.service.ask(
                    "explain",
                    {**inputs, "y": y, "x": x},
                    answered,
                    lambda m: self._on_explain_error(m, ask_id),
                )

        self.patch_note.setText(f"<i>{rid}: looking up the nearest normal patch …</i>")
        self.model.call(
            lambda p: explain_inputs(p, rid, sid), ask, lambda e: self._on_explain_error(str(e), ask_id)
        )

    def _on_explain_error(self, message: str, ask_id: int) -> None:
        if ask_id == self._ask:
            self.patch_note.setText(f"nearest patch: {message}")

    def _on_patch(self, rid: str, sid: int, out: dict, ask_id: int) -> None:
        if ask_id != self._ask:
            return
        if out.get("train_sample_id") is None:
            self.patch_note.setText(
                f"{rid}: nearest normal patch #{out['bank_index']} (training sample unknown)"
            )
        else:
            y0, x0, y1, x1 = out["box_px"]
            self.patch_note.setText(
                f"{rid}: nearest normal patch in training sample {out['train_sample_id']} "
                f"at (x {x0}–{x1}, y {y0}–{y1}); patch distance {out['score']:.4g}"
            )
            self.patch.setPixmap(to_pixmap(out["patch"], 5 * self.fontMetrics().height()))
        self.explained.emit(out)
