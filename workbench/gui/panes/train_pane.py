"""Train a model on the station: pick it, set its parameters (defaults from the model itself), see the
memory it will need, then follow the progress and the loss live and cancel at any time.

Training runs in a worker process (:class:`TrainProcess`); the window stays responsive and the new
runs appear in the station tree when they are added to the open project (unsaved until File ▸ Save).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.panes.model_process import ModelService, TrainProcess
from workbench.gui.pg import pyqtgraph as pg
from workbench.gui.runs import sig
from workbench.gui.station_model import Snapshot, StationModel
from workbench.gui.theme import DARK, Colors
from workbench.gui.widgets.augment_chooser import AugmentChooser
from workbench.gui.widgets.job_bar import JobBar
from workbench.gui.widgets.param_form import ParamForm

DEVICES = ("auto", "cpu", "cuda")

ROI_TIP = (
    "Checked: the model trains and scores inside the view's ROI only (zones and drawn mask), as the line "
    "runs it.\nUnchecked: it trains and scores on the whole crop, as seed 000's unmasked runs; train one "
    "run each way to see what masking changes (seed 000: masking cut missed defects by 33.9 % and false "
    "alarms by 34.6 %; the report sets masked and unmasked runs side by side)."
)


def run_metrics(project: Any, run_ids: list[str]) -> list[dict]:
    """Each run's image AUROC, AP and best F1 on its stored test scores, with its timings (I/O thread)."""
    from workbench.jobs.evaluate_data import ensure_split
    from workbench.metrics import auroc, average_precision, f1_max

    rows = []
    for rid in run_ids:
        run = project.run(rid)
        row: dict[str, Any] = {
            "run": rid,
            "view": run.view,
            "train_seconds": run.meta.get("train_seconds"),
            "ms_per_image": run.meta.get("inference_ms_per_image"),
        }
        try:
            data = ensure_split(project, rid, "test", with_maps=False, predict=False)
            y, s = np.asarray(data.labels, bool), np.asarray(data.scores, float)
            row.update(n_test=int(y.size), n_defective=int(y.sum()))
            if y.any() and (~y).any():
                row.update(auroc=auroc(y, s), ap=average_precision(y, s), f1=f1_max(y, s).value)
            else:
                row["note"] = "the test split needs normal and defective samples for these metrics"
        except Exception as exc:  # noqa: BLE001 - say why there are no metrics, keep the others
            row["note"] = str(exc)
        rows.append(row)
    return rows


def _mb(n: float) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


class TrainPane(QWidget):
    """``trained(ids)`` after the runs of a job are in the project ({'runs': [...], 'results': [...]})."""

    trained = Signal(dict)
    compareRequested = Signal(list)  # run ids: "Compare these runs" after a training

    def __init__(self, model: StationModel, service: ModelService, parent=None, colors: Colors = DARK):
        super().__init__(parent)
        self.model, self.service, self.colors = model, service, colors
        self.catalogue: dict[str, Any] = {}
        self.estimate: dict[str, Any] | None = None
        self.job = TrainProcess(model, self)
        self._asked_catalogue = False

        self.model_combo = QComboBox(self)
        self.model_combo.setPlaceholderText("Loading the models …")
        self.model_combo.currentTextChanged.connect(self._on_model)
        self.doc = QLabel("", self)
        self.doc.setWordWrap(True)
        self.doc.setObjectName("muted")
        self.form = ParamForm(self)
        self.form.changed.connect(self._schedule_estimate)
        scroll = self.params_scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        # the form scrolls up and down only: its column is kept as wide as its widest row (_fit_form)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.views = QListWidget(self)
        self.views.itemChanged.connect(lambda _i: self._schedule_estimate())
        self.seed = QSpinBox(self)
        self.seed.setRange(0, 2**31 - 1)
        self.device = QComboBox(self)
        self.device.addItems(list(DEVICES))
        self.device.setToolTip("auto: the GPU when there is one, else the CPU")
        self.device.currentTextChanged.connect(lambda _t: self._schedule_estimate())
        self.roi = QCheckBox("Mask with the view's ROI", self)
        self.roi.setChecked(True)
        self.roi.setToolTip(ROI_TIP)
        self.augment = AugmentChooser(self)
        self.augment.changed.connect(self._schedule_estimate)
        self.memory = QLabel("", self)
        self.memory.setWordWrap(True)
        self.train_button = QPushButton("Train", self)
        self.train_button.setDefault(True)
        self.train_button.clicked.connect(self.start)
        self.bar = JobBar(self)
        self.bar.cancelRequested.connect(self.job.cancel)
        self.plot = pg.PlotWidget(self)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setLabel("bottom", "iteration")
        self.plot.setLabel("left", "loss")
        self.plot.setMinimumHeight(10 * self.fontMetrics().height())
        self.loss_curve = self.plot.plot([], [], pen=pg.mkPen("#4aa3ff", width=2), symbol="o", symbolSize=4)
        self.loss_note = pg.TextItem("", anchor=(0.5, 0.5))
        self.plot.addItem(self.loss_note)
        self._idle_plot("the training loss appears here while a model that learns by iterations trains")
        self._loss_x: list[float] = []
        self._loss_y: list[float] = []

        self.result = QLabel("", self)
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.compare_button = QPushButton("Compare these runs ▸", self)
        self.compare_button.setToolTip("Open the Compare step on the runs just trained")
        self.compare_button.setVisible(False)
        self.compare_button.clicked.connect(lambda: self.compareRequested.emit(list(self.last_runs)))
        self.last_runs: list[str] = []

        # Two columns: the model and its parameters on the left take the full height; the run, the
        # progress, the result and the loss on the right.
        top = QFormLayout()
        top.addRow("Model", self.model_combo)
        top.addRow("", self.doc)
        params = QGroupBox("Parameters", self)
        QVBoxLayout(params).addWidget(scroll)
        left = QWidget(self)
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addLayout(top)
        ll.addWidget(params, 1)
        run = QGroupBox("Run", self)
        rf = QFormLayout(run)
        self.views.setMaximumHeight(5 * self.fontMetrics().height())
        rf.addRow("Views", self.views)
        rf.addRow("Seed", self.seed)
        rf.addRow("Device", self.device)
        rf.addRow("Masking", self.roi)
        rf.addRow("Augmentation", self.augment)
        rf.addRow("Memory", self.memory)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.train_button)
        outcome = QHBoxLayout()
        outcome.addWidget(self.result, 1)
        outcome.addWidget(self.compare_button, 0, Qt.AlignmentFlag.AlignTop)
        right = QWidget(self)
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(run)
        rl.addLayout(buttons)
        rl.addWidget(self.bar)
        rl.addLayout(outcome)
        rl.addWidget(self.plot, 1)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(split)

        self._estimate_timer = QTimer(self)
        self._estimate_timer.setSingleShot(True)
        self._estimate_timer.setInterval(400)  # one estimate after the user stops typing
        self._estimate_timer.timeout.connect(self._ask_estimate)
        self.job.progressed.connect(self._on_progress)
        self.job.lossed.connect(self._on_loss)
        self.job.finished.connect(self._on_finished)
        self.job.failed.connect(self._on_failed)
        self.job.cancelled.connect(lambda: self._done("Cancelled: the station is unchanged."))
        model.opened.connect(self._on_snapshot)
        model.changed.connect(self._on_snapshot)
        model.closed.connect(lambda: self._on_snapshot(None))
        self.set_colors(colors)
        self._on_snapshot(model.snapshot)

    @property
    def busy(self) -> bool:
        """Still loading the catalogue or an estimate (not training: that can take hours)."""
        return self._asked_catalogue and not self.catalogue or self._estimate_timer.isActive()

    def set_colors(self, colors: Colors) -> None:
        self.colors = colors
        self.plot.setBackground(colors.canvas)
        self.loss_note.setColor(colors.muted)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)

        self.load_catalogue()  # the model service starts when the pane is first seen, not at start-up

    # --- the model catalogue ----------------------------------------------------------------------
    def load_catalogue(self) -> None:
        if self._asked_catalogue:
            return
        self._asked_catalogue = True
        self.service.ask("catalogue", {}, self._on_catalogue, self._on_catalogue_error)

    def _on_catalogue(self, catalogue: dict[str, Any]) -> None:
        self.service.ask("weights", {}, self.form.set_installed, lambda _m: None)
        self.catalogue = {k: v for k, v in catalogue.items() if not v.get("broken")}
        self.model_combo.clear()
        self.model_combo.addItems(list(self.catalogue))
        self.model_combo.setCurrentIndex(0)  # with a placeholder text, Qt leaves nothing chosen
        self._update_enabled()

    def _on_catalogue_error(self, message: str) -> None:
        self._asked_catalogue = False
        self.doc.setText(f"The models could not be listed: {message}")

    def _on_model(self, name: str) -> None:
        desc = self.catalogue.get(name)
        if desc is None:
            return
        self.doc.setText((desc.get("doc") or "").split("\n\n")[0])
        self.form.set_params(desc.get("params", {}), desc.get("choices"))
        QTimer.singleShot(0, self._fit_form)  # the new rows count once Qt has shown them
        seed = desc.get("params", {}).get("seed", {}).get("default")
        self.seed.setEnabled(seed is not None)
        if isinstance(seed, int):
            self.seed.setValue(seed)
        self.device.setEnabled("device" in desc.get("params", {}))
        self._schedule_estimate()

    def _fit_form(self) -> None:
        """The parameters' column never narrower than the model's widest row (a weights chooser with its
        button, a size as two boxes): the splitter then takes the room from the run's column."""
        bar = self.params_scroll.verticalScrollBar()  # its room, shown or not (the styled width)
        room = max(bar.sizeHint().width(), bar.width() if bar.isVisible() else 0, 16) + 8
        self.params_scroll.setMinimumWidth(self.form.minimumSizeHint().width() + room)

    # --- station ----------------------------------------------------------------------------------
    def _on_snapshot(self, snap: Snapshot | None) -> None:
        checked = {self.views.item(i).text() for i in range(self.views.count()) if self._checked(i)}
        known = {self.views.item(i).text() for i in range(self.views.count())}
        self.views.blockSignals(True)
        self.views.clear()
        for name in sorted(snap.views) if snap is not None else []:
            item = QListWidgetItem(name, self.views)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            on = name in checked or name not in known
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        self.views.blockSignals(False)
        self._update_enabled()
        self._schedule_estimate()

    def _checked(self, i: int) -> bool:
        return self.views.item(i).checkState() == Qt.CheckState.Checked

    def chosen_views(self) -> list[str]:
        return [self.views.item(i).text() for i in range(self.views.count()) if self._checked(i)]

    def _train_counts(self) -> tuple[int, tuple[int, int]]:
        """The largest number of normal training samples of one chosen view and their largest size."""
        snap = self.model.snapshot
        n, size = 0, (0, 0)
        for v in self.chosen_views() if snap is not None else []:
            train = [s for s in snap.samples if s.view == v and s.split == "train" and s.label == "good"]
            n = max(n, len(train))
            for s in train:
                size = max(size, (s.height, s.width), key=lambda hw: hw[0] * hw[1])
        return n, size

    def _update_enabled(self) -> None:
        ok = self.model.snapshot is not None and bool(self.catalogue) and not self.job.running
        self.train_button.setEnabled(ok)

    # --- memory planner -----------------------------------------------------------------------------
    def _schedule_estimate(self) -> None:
        if self.catalogue and self.model.snapshot is not None:
            self._estimate_timer.start()

    def _ask_estimate(self) -> None:
        name = self.model_combo.currentText()
        n, size = self._train_counts()
        if name not in self.catalogue or n == 0:
            self.memory.setText("No normal training sample in the chosen views: label some good samples")
            return
        aug = self.augment.value()
        n *= 1 + (aug["copies"] if aug else 0)  # augmented copies train with the originals
        kwargs = {"model": name, "params": self.params(), "n_images": n, "image_size": list(size)}
        self.service.ask(
            "estimate", kwargs, self._on_estimate, lambda m: self.memory.setText(f"No estimate: {m}")
        )

    def _on_estimate(self, est: dict[str, Any]) -> None:
        self.estimate = est
        ram, gpu, avail = est["peak_ram_bytes"], est.get("peak_gpu_bytes", 0), est.get("available_ram_bytes")
        text = f"about {_mb(ram)} RAM" + (f" and {_mb(gpu)} GPU memory" if gpu else "")
        if avail is not None:
            text += f" (available: {_mb(avail)})"
        over = avail is not None and ram > avail
        if over:
            text = f"⚠ {text}: more than the free memory; lower the batch size, image size or coreset chunk"
        self.memory.setText(text)
        self.memory.setStyleSheet(f"color: {self.colors.defective};" if over else "")
        self.memory.setProperty("over", over)

    # --- training -----------------------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        p = self.form.values()
        desc = self.catalogue.get(self.model_combo.currentText(), {}).get("params", {})
        if "device" in desc:
            p["device"] = self.device.currentText()
        if "seed" in desc:
            p["seed"] = self.seed.value()
        return p

    def start(self) -> None:
        """Train the chosen model on the chosen views; a bad choice gets a message and nothing starts."""
        views = self.chosen_views()
        if not views:
            self.bar.finish("Choose at least one view to train.")
            return
        name = self.model_combo.currentText()
        job = {
            "model": name,
            "params": self.params(),
            "views": views,
            "seed": None,
            "device": None,
            "roi": self.roi.isChecked(),
            "augment": self.augment.value(),
        }
        self._loss_x, self._loss_y = [], []
        self.loss_curve.setData([], [])
        self.loss_note.setText("")
        self.plot.enableAutoRange()  # the idle note fixed the range; the curve needs its own
        for axis in ("left", "bottom"):
            self.plot.getPlotItem().showAxis(axis)
        self._progress, _token = self.bar.start(f"Training {name} on {', '.join(views)} …")
        self.job.start(job)
        self._update_enabled()

    def cancel(self) -> None:
        self.bar.cancel()

    def _on_progress(self, fraction: float | None, message: str) -> None:
        self._progress(fraction, message)

    def _on_loss(self, k: int, value: float) -> None:
        self._loss_x.append(k)
        self._loss_y.append(value)
        self.loss_curve.setData(self._loss_x, self._loss_y)

    def _on_finished(self, ids: dict) -> None:
        runs = ids.get("runs", [])
        if not self._loss_y:
            self._idle_plot("this model learns in one pass: no loss to plot")
        self._done(f"Trained {', '.join(runs)}: in the station tree now (save to keep them).")
        self.last_runs = list(runs)
        self.compare_button.setVisible(bool(runs))
        self.result.setText("Measuring the new runs on the test split …")
        self.model.call(
            lambda p: run_metrics(p, runs), self._show_metrics, lambda e: self.result.setText(str(e))
        )
        self.trained.emit(ids)

    def _show_metrics(self, rows: list[dict]) -> None:
        """One line per new run: its test metrics and timings, three significant digits."""
        lines = []
        for r in rows:
            bits = [f"<b>{r['run']}</b> · {r['view']}"]
            for key, name in (("auroc", "image AUROC"), ("ap", "AP"), ("f1", "best F1")):
                if r.get(key) is not None:
                    bits.append(f"{name} {sig(r[key])}")
            if r.get("n_test"):
                bits.append(f"on {r['n_test']} test samples ({r['n_defective']} defective)")
            if r.get("note"):
                bits.append(r["note"])
            if r.get("train_seconds") is not None:
                bits.append(f"fit {sig(r['train_seconds'])} s")
            if r.get("ms_per_image") is not None:
                bits.append(f"{sig(r['ms_per_image'])} ms per image")
            lines.append(" · ".join(bits))
        self.result.setText("<br>".join(lines))

    def _idle_plot(self, note: str) -> None:
        for axis in ("left", "bottom"):  # no numbers to show: no axis that would look like data
            self.plot.getPlotItem().hideAxis(axis)
        self.loss_note.setText(note)
        self.loss_note.setPos(0.5, 0.5)
        self.plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)

    def _on_failed(self, message: str) -> None:
        self._done(f"Training failed: {message}")

    def _done(self, message: str) -> None:
        self.bar.finish(message)
        self._update_enabled()

    def shutdown(self) -> None:
        self.job.shutdown()
