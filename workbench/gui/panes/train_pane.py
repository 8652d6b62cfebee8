"""Train a model on the station: pick it, set its parameters (defaults from the model itself), see the
plan of each view's fit (predicted time and memory, the working size and why; a fit that would not fit
in memory is refused with a size that would), then follow the progress, the time left of the fit and of
the predictions, and the loss live, and cancel at any time.

Training runs in a worker process (:class:`TrainProcess`); the window stays responsive and the new
runs appear in the station tree when they are added to the open project (unsaved until File ▸ Save).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
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

from workbench.core.progress import format_seconds, phase_text
from workbench.gui.panes.model_process import ModelService, TrainProcess
from workbench.gui.pg import pyqtgraph as pg
from workbench.gui.run_metrics import metrics_html, run_metrics
from workbench.gui.station_model import Snapshot, StationModel
from workbench.gui.theme import DARK, Colors
from workbench.gui.widgets.augment_chooser import AugmentChooser
from workbench.gui.widgets.job_bar import JobBar
from workbench.gui.widgets.param_form import ParamForm
from workbench.gui.widgets.plan_view import PlanView, plan_views

DEVICES = ("auto", "cpu", "cuda")

ROI_TIP = (
    "Checked: the model trains and scores inside the view's ROI only (zones and drawn mask), as the line "
    "runs it.\nUnchecked: it trains and scores on the whole crop, as seed 000's unmasked runs; train one "
    "run each way to see what masking changes (seed 000: masking cut missed defects by 33.9 % and false "
    "alarms by 34.6 %; the report sets masked and unmasked runs side by side)."
)


class TrainPane(QWidget):
    """``trained(ids)`` after the runs of a job are in the project ({'runs': [...], 'results': [...]})."""

    trained = Signal(dict)
    compareRequested = Signal(list)  # run ids: "Compare these runs" after a training

    def __init__(self, model: StationModel, service: ModelService, parent=None, colors: Colors = DARK):
        super().__init__(parent)
        self.model, self.service, self.colors = model, service, colors
        self.catalogue: dict[str, Any] = {}
        self.plans: list[dict[str, Any]] | None = None  # the latest plans shown (one per view)
        self._plan_asked = 0  # only the newest question's answer is shown
        self._event_shown = False
        self.job = TrainProcess(model, self)
        self._asked_catalogue = False

        self.model_combo = QComboBox(self)
        self.model_combo.setPlaceholderText("Loading the models …")
        self.model_combo.currentTextChanged.connect(self._on_model)
        self.doc = QLabel("", self)
        self.doc.setWordWrap(True)
        self.doc.setObjectName("muted")
        self.form = ParamForm(self)
        self.form.changed.connect(self._schedule_plan)
        scroll = self.params_scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        # the form scrolls up and down only: its column is kept as wide as its widest row (_fit_form)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.views = QListWidget(self)
        self.views.itemChanged.connect(lambda _i: self._schedule_plan())
        self.seed = QSpinBox(self)
        self.seed.setRange(0, 2**31 - 1)
        self.device = QComboBox(self)
        self.device.addItems(list(DEVICES))
        self.device.setToolTip("auto: the GPU when there is one, else the CPU")
        self.device.currentTextChanged.connect(lambda _t: self._schedule_plan())
        self.roi = QCheckBox("Mask with the view's ROI", self)
        self.roi.setChecked(True)
        self.roi.setToolTip(ROI_TIP)
        self.augment = AugmentChooser(self)
        self.augment.changed.connect(self._schedule_plan)
        self.budget = QDoubleSpinBox(self)
        self.budget.setRange(0.5, 24 * 60)
        self.budget.setDecimals(1)
        self.budget.setValue(10.0)
        self.budget.setSuffix(" min per view")
        self.budget.setToolTip(
            "Time the fit and its test predictions may take per view (as `workbench train --budget`): the "
            "plan picks the working size of large images and a trained model's training time to fit it"
        )
        self.budget.valueChanged.connect(lambda _v: self._schedule_plan())
        self.plan = PlanView(self, colors)
        self.train_button = QPushButton("Train", self)
        self.train_button.setDefault(True)
        self.refused = QLabel("", self)  # why Train is off, beside it
        self.refused.setWordWrap(True)
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
        rf.addRow("Time budget", self.budget)
        rf.addRow("Plan", self.plan)
        buttons = QHBoxLayout()
        buttons.addWidget(self.refused, 1)
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

        self._plan_timer = QTimer(self)
        self._plan_timer.setSingleShot(True)
        self._plan_timer.setInterval(400)  # one plan after the user stops typing
        self._plan_timer.timeout.connect(self._ask_plan)
        self.job.evented.connect(self._on_event)
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
        """Still loading the catalogue or a plan (not training: that can take hours)."""
        return self._asked_catalogue and not self.catalogue or self._plan_timer.isActive()

    def set_colors(self, colors: Colors) -> None:
        self.colors = self.plan.colors = colors  # the plan's refusals are drawn in its defective colour
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
        self._schedule_plan()

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
        self._schedule_plan()

    def _checked(self, i: int) -> bool:
        return self.views.item(i).checkState() == Qt.CheckState.Checked

    def chosen_views(self) -> list[str]:
        return [self.views.item(i).text() for i in range(self.views.count()) if self._checked(i)]

    def _update_enabled(self) -> None:
        ok = self.model.snapshot is not None and bool(self.catalogue) and not self.job.running
        refusal = self.plan.refusal
        self.train_button.setEnabled(ok and not refusal)
        self.train_button.setToolTip(f"Not possible as set: {refusal}" if refusal else "")
        self.refused.setText(
            "Train is off: the plan refuses a fit that would not fit in memory (the sizes that would are "
            "in the plan above)"
            if refusal
            else ""
        )
        self.refused.setStyleSheet(f"color: {self.colors.defective};" if refusal else "")

    # --- the plan -------------------------------------------------------------------------------------
    def _schedule_plan(self) -> None:
        if self.catalogue and self.model.snapshot is not None:
            self._plan_timer.start()

    def _ask_plan(self) -> None:
        """Ask the model service for each chosen view's plan (as `workbench train` makes it before the fit)."""
        name = self.model_combo.currentText()
        views = plan_views(self.model.snapshot, self.chosen_views())
        self._plan_asked += 1
        asked = self._plan_asked
        if name not in self.catalogue or not views:
            self.plans = None
            self.plan.note("No normal training sample in the chosen views: label some good samples")
            self._update_enabled()
            return
        kwargs = self._settings(views)
        aug = kwargs.pop("augment")
        kwargs["copies"] = aug["copies"] if aug else 0  # augmented copies train with the originals
        self.plan.note("Planning …")
        self._update_enabled()

        def shown(rows: list[dict[str, Any]]) -> None:
            if asked == self._plan_asked:
                self._on_plan(rows)

        def failed(message: str) -> None:
            if asked == self._plan_asked:
                self.plans = None
                self.plan.note(f"No plan: {message}")
                self._update_enabled()

        self.service.ask("plan", kwargs, shown, failed)

    def _on_plan(self, rows: list[dict[str, Any]]) -> None:
        self.plans = rows
        self.plan.show_rows(rows)
        self._update_enabled()

    # --- training -----------------------------------------------------------------------------------
    def _settings(self, views: list) -> dict[str, Any]:
        """What a plan and a training job are both made of: the model, its parameters, the views, the
        augmentation and the time budget per view."""
        return {
            "model": self.model_combo.currentText(),
            "params": self.params(),
            "views": views,
            "augment": self.augment.value(),
            "budget_s": 60.0 * self.budget.value(),
        }

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
        job = {**self._settings(views), "seed": None, "device": None, "roi": self.roi.isChecked()}
        name = job["model"]
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

    def _on_event(self, event: Any) -> None:
        """A job's report: its message, the current phase's count and time left, and the whole job's."""
        bits = [event.message] if event.message else []
        phase = phase_text(event.values)
        if phase:
            bits.append(phase)
        if event.eta_s is not None and 0.0 < (event.fraction or 0.0) < 1.0:
            bits.append(f"all left {format_seconds(event.eta_s)}")
        self._progress(event.fraction, " · ".join(bits))
        self._event_shown = True  # the same report's plain `progressed` follows: already shown

    def _on_progress(self, fraction: float | None, message: str) -> None:
        if self._event_shown:
            self._event_shown = False
            return
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
        self.result.setText(metrics_html(rows))

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
