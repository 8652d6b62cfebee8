"""Queue a sweep from the Train step and watch its grid fill in, cell by cell (a self-contained widget).

:class:`SweepPanel` asks for models, seeds, a grid of parameters, a preset (seed 001, few-shot, window)
and where to run (this workstation or a Ray cluster). Sweeps queue behind each other. The grid shows one
row per configuration and view set, one column per seed: grey waiting, blue running (with its share
done), green done, orange retried after a lost worker, red failed (the reason in the tooltip).

:class:`SweepProcess` runs the cells away from the window (the runner's ``sweep_cells`` job in a child
process, which runs the local executor or talks to Ray), and the window adds every finished cell's
runs to the open station as it arrives (unsaved until File ▸ Save, like the Train button's runs). The
sweep's record travels with the station: after a save, queueing the same sweep again runs only the
cells still missing.
"""

from __future__ import annotations

import tempfile
from collections import deque
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.panes.model_process import ChildJob, ModelService
from workbench.gui.station_model import StationModel
from workbench.gui.widgets.boxes import STRETCH, column, row, text_label

STATES = {
    "waiting": ("#5b6168", "waiting"),
    "running": ("#2d6cdf", "running"),
    "done": ("#2e9d57", "done"),
    "retry": ("#d08a1d", "retried"),
    "failed": ("#c8413b", "failed"),
}


class SweepProcess(ChildJob):
    """One sweep: prepare (record, window views, staged copies) on the I/O thread, run the cells in a
    child, add each finished cell to the open project. Signals: ``planned(dict)`` with the cells,
    ``cellChanged(index, state, fraction, text)``, and ChildJob's ``finished``/``failed``/``cancelled``."""

    planned = Signal(dict)
    cellChanged = Signal(int, str, float, str)

    def __init__(self, model: StationModel, parent=None):
        super().__init__(model, parent)
        self._ready: Any = None
        self._pending_applies = 0
        self._child_result: Any = None

    def start(
        self, spec: Any, defaults: dict[str, dict], workers: int, ray: str | None = None, threads: int = 1
    ) -> None:
        """``spec``: a SweepSpec; ``defaults``: each model's parameter defaults (from the model catalogue)."""
        from workbench.jobs import sweep

        self._begin()
        folder = self._folder = tempfile.mkdtemp(prefix="workbench-sweep-")
        self.progressed.emit(None, "Preparing the sweep: staging its samples …")

        def prepare(p):
            return sweep.prepare(p, spec, Path(folder), threads, defaults=defaults)

        def launch(ready) -> None:
            self._ready = ready
            self._by_index = {t.cell.index: t for t in ready.tasks}
            self.planned.emit(
                {
                    "sid": ready.sid,
                    "cells": [
                        {"index": c.index, "group": c.group, "seed": c.seed, "views": list(c.views)}
                        for c in ready.cells
                    ],
                    "done": [c["index"] for c in ready.record["cells"].values()],
                    "skipped": ready.skipped,
                }
            )
            if not ready.tasks:
                self._end(lambda: self.finished.emit({"sid": ready.sid, "ran": 0}))
                return
            params = {
                "tasks": [t.to_json() for t in ready.tasks],
                "work": folder,
                "workers": workers,
                "threads": threads,
                "ray": ray,
            }
            self._launch(
                "sweep_cells", params, "workbench-sweep", daemon=False
            )  # it starts the cells' processes

        self.model.edit(prepare, "Sweep", launch, lambda e: self._end_failed(str(e)))

    def _handle(self, msg: Any) -> None:
        if msg.kind == "event" and not self._cancel_requested:
            ev = msg.event
            self.evented.emit(ev)
            self.progressed.emit(ev.fraction, ev.message)
            index, state = ev.values.get("cell_index"), ev.values.get("cell_state")
            if isinstance(index, int) and isinstance(state, str):
                frac = float(ev.values.get("cell_fraction") or 0.0)
                if state == "done" and isinstance(ev.values.get("outputs"), str):
                    self._apply(index, ev.values["outputs"], int(ev.values.get("attempts") or 1))
                else:
                    self.cellChanged.emit(index, state, frac, str(ev.values.get("error") or ev.message))
            return
        if msg.kind == "done" and not self._cancel_requested:
            self._child_result = msg.result
            self._stop_child()
            self._finish_when_applied()
            return
        super()._handle(msg)

    def _apply(self, index: int, outputs: str, attempts: int) -> None:
        from workbench.jobs import sweep

        ready, task = self._ready, self._by_index[index]
        task.attempts = attempts
        self._pending_applies += 1

        def apply(p):
            return sweep.record_cell(p, ready.sid, ready.record, task, outputs, {})

        def applied(_ids) -> None:
            self._pending_applies -= 1
            self.cellChanged.emit(index, "done", 1.0, "added to the station")
            self._finish_when_applied()

        def failed(e) -> None:
            self._pending_applies -= 1
            self.cellChanged.emit(index, "failed", 0.0, f"could not be added: {e}")
            self._finish_when_applied()

        self.model.edit(apply, "Sweep cell", applied, failed)

    def _finish_when_applied(self) -> None:
        if self._child_result is None or self._pending_applies or not self.running:
            return
        result = {"sid": self._ready.sid, **self._child_result}
        self._end(lambda: self.finished.emit(result))

    def _begin(self) -> None:
        super()._begin()
        self._ready, self._pending_applies, self._child_result = None, 0, None


class SweepPanel(QWidget):
    """The sweep form, its queue and the live grid. ``finished(dict)`` after each sweep."""

    finished = Signal(dict)

    def __init__(self, model: StationModel, service: ModelService | None = None, parent=None):
        super().__init__(parent)
        self.model, self.service = model, service
        self.catalogue: dict[str, Any] = {}
        self.queue: deque[dict[str, Any]] = deque()
        self.job = SweepProcess(model, self)
        self._cells: dict[int, tuple[int, int]] = {}

        self.models = QLineEdit("patchcore, padim", self)
        self.models.setToolTip("Registered model names, separated by commas")
        self.seeds = QLineEdit("0-4", self)
        self.seeds.setToolTip("Seeds: 0-4, or 0,3,7")
        self.preset = QComboBox(self)
        self.preset.addItems(["none", "seed001", "fewshot", "window"])
        self.preset.setToolTip(
            "seed001: models x 5 seeds with robustness and the knee point; fewshot: 1 to 50 training "
            "normals; window: smaller crop windows (seed 003)"
        )
        self.grid_text = QPlainTextEdit(self)
        self.grid_text.setPlaceholderText("One parameter per line: KEY=V1,V2 (e.g. coreset_ratio=0.01,0.1)")
        self.grid_text.setMaximumHeight(4 * self.fontMetrics().height() + 12)
        self.workers = QSpinBox(self)
        self.workers.setRange(1, 256)
        from workbench.jobs.sweep_exec import usable_cores

        self.workers.setValue(usable_cores())
        self.ray = QLineEdit(self)
        self.ray.setPlaceholderText("this workstation (or a Ray address, host:port)")
        self.queue_button = QPushButton("Queue sweep", self)
        self.queue_button.clicked.connect(self.queue_sweep)
        self.cancel_button = QPushButton("Cancel sweep", self)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.status = text_label(self, "No sweep yet.")
        self.table = QTableWidget(0, 0, self)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setMinimumSectionSize(8 * self.fontMetrics().averageCharWidth())
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setMaximumWidth(36 * self.fontMetrics().averageCharWidth())

        form = QFormLayout()
        form.addRow("Models", self.models)
        form.addRow("Seeds", self.seeds)
        form.addRow("Preset", self.preset)
        form.addRow("Grid", self.grid_text)
        form.addRow("Cells at a time", self.workers)
        form.addRow("Run on", self.ray)
        buttons = row(STRETCH, self.cancel_button, self.queue_button)
        column(form, buttons, self.status, (self.table, 1), parent=self)

        self.job.planned.connect(self._on_planned)
        self.job.cellChanged.connect(self._on_cell)
        self.job.progressed.connect(self._on_progress)
        self.job.finished.connect(self._on_finished)
        self.job.failed.connect(lambda m: self._next(f"The sweep failed: {m}"))
        self.job.cancelled.connect(
            lambda: self._next("Sweep cancelled; the cells already added stay in the station.")
        )

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self.catalogue and self.service is not None:  # the model names and their defaults
            self.service.ask("catalogue", {}, self.set_catalogue, lambda m: self.status.setText(m))

    # --- form -------------------------------------------------------------------------------------
    def set_catalogue(self, catalogue: dict[str, Any]) -> None:
        """Model descriptions (``registry.describe``) as the model service gives them."""
        self.catalogue = {k: v for k, v in catalogue.items() if not v.get("broken")}

    def spec(self) -> Any:
        """The form as a SweepSpec (raises ValueError with the problem in the user's words)."""
        from workbench.jobs.sweep_plan import SweepSpec, apply_preset, parse_grid, parse_seeds

        models = [m.strip() for m in self.models.text().split(",") if m.strip()]
        preset = None if self.preset.currentText() == "none" else self.preset.currentText()
        seeds = parse_seeds(self.seeds.text()) if self.seeds.text().strip() else None
        filled = apply_preset(preset, models, seeds, all_models=list(self.catalogue))
        lines = [ln.strip() for ln in self.grid_text.toPlainText().splitlines() if ln.strip()]
        return SweepSpec(
            models=filled["models"],
            seeds=filled["seeds"],
            grid=parse_grid(lines),
            n_train=filled["n_train"],
            windows=filled["windows"],
            robustness=filled["robustness"],
            preset=preset,
        )

    def _defaults(self, models: list[str]) -> dict[str, dict]:
        out = {}
        for m in models:
            if m not in self.catalogue:
                raise ValueError(
                    f"unknown model {m!r}; known: {', '.join(sorted(self.catalogue)) or 'none yet'}"
                )
            out[m] = {k: p.get("default") for k, p in self.catalogue[m].get("params", {}).items()}
        return out

    def queue_sweep(self) -> None:
        try:
            spec = self.spec()
            defaults = self._defaults(spec.models)
        except ValueError as exc:
            self.status.setText(str(exc))
            return
        ray = self.ray.text().strip() or None
        self.queue.append({"spec": spec, "defaults": defaults, "workers": self.workers.value(), "ray": ray})
        if self.job.running:
            self.status.setText(f"Queued: {len(self.queue)} sweep(s) wait for the current one.")
        else:
            self._start_next()

    def _start_next(self) -> None:
        if not self.queue or self.job.running or self.model.project is None:
            return
        item = self.queue.popleft()
        self.cancel_button.setEnabled(True)
        threads = 1
        if not item["ray"]:
            from workbench.jobs.sweep_exec import usable_cores

            threads = max(1, usable_cores() // item["workers"])
        self.job.start(item["spec"], item["defaults"], item["workers"], item["ray"], threads)

    def cancel(self) -> None:
        self.queue.clear()
        self.job.cancel()

    # --- grid ---------------------------------------------------------------------------------------
    def _on_planned(self, info: dict) -> None:
        cells = info["cells"]
        rows = list(dict.fromkeys((c["group"], ", ".join(c["views"])) for c in cells))
        seeds = sorted({c["seed"] for c in cells})
        self.table.clear()
        self.table.setRowCount(len(rows))
        self.table.setColumnCount(len(seeds))
        self.table.setHorizontalHeaderLabels([f"seed {s}" for s in seeds])
        many_views = len({v for _g, v in rows}) > 1
        for r, (g, v) in enumerate(rows):
            head = QTableWidgetItem(f"{g}\n{v}" if many_views else g)
            head.setToolTip(f"{g}\nviews: {v}")
            self.table.setVerticalHeaderItem(r, head)
        self._cells = {}
        for c in cells:
            r, k = rows.index((c["group"], ", ".join(c["views"]))), seeds.index(c["seed"])
            self._cells[c["index"]] = (r, k)
            self.table.setItem(r, k, QTableWidgetItem(""))
            self._paint(c["index"], "waiting", 0.0, "")
        for index in info["done"]:
            self._paint(index, "done", 1.0, "done in an earlier session")
        skipped = f"; {len(info['skipped'])} skipped" if info["skipped"] else ""
        self.status.setText(f"{info['sid']}: {len(cells)} cells, {len(info['done'])} already done{skipped}.")

    def _paint(self, index: int, state: str, fraction: float, text: str) -> None:
        where = self._cells.get(index)
        if where is None:
            return
        item = self.table.item(*where)
        color, word = STATES.get(state, STATES["waiting"])
        item.setText(f"{100 * fraction:.0f} %" if state == "running" else word)  # colour says running
        item.setBackground(QBrush(QColor(color)))
        item.setForeground(QBrush(QColor("#ffffff")))
        item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        item.setToolTip(text)
        item.setData(Qt.ItemDataRole.UserRole, state)

    def state_of(self, index: int) -> str | None:
        where = self._cells.get(index)
        item = self.table.item(*where) if where else None
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def _on_cell(self, index: int, state: str, fraction: float, text: str) -> None:
        self._paint(index, state, fraction, text)

    def _on_progress(self, fraction: float | None, message: str) -> None:
        if message:
            pct = "" if fraction is None else f"{100 * fraction:.0f} % — "
            self.status.setText(pct + message)

    def _on_finished(self, result: dict) -> None:
        failed = len(result.get("failed") or {})
        self.finished.emit(result)
        self._next(
            f"{result['sid']}: {result.get('done', result.get('ran', 0))} cell(s) added to the station"
            + (f", {failed} failed" if failed else "")
            + ". File ▸ Save keeps them."
        )

    def _next(self, message: str) -> None:
        self.status.setText(message)
        self.cancel_button.setEnabled(bool(self.queue))
        self._start_next()

    def shutdown(self) -> None:
        self.queue.clear()
        self.job.shutdown()


def attach_sweep_panel(train_pane: QWidget, model: StationModel, service: ModelService | None) -> SweepPanel:
    """Put the Train step's form and a sweep panel on two tabs of the Train pane ("One run", "Sweep").

    The pane's own layout moves, unchanged, onto the first tab: its widgets and their connections stay
    as they are. The panel is also ``train_pane.sweep_panel``.
    """
    from PySide6.QtWidgets import QTabWidget

    single = QWidget()
    single.setLayout(train_pane.layout())  # moves the layout and its widgets over, unchanged
    tabs = QTabWidget(train_pane)
    tabs.setDocumentMode(True)
    tabs.addTab(single, "One run")
    panel = SweepPanel(model, service, tabs)
    tabs.addTab(panel, "Sweep")
    box = QVBoxLayout(train_pane)
    box.setContentsMargins(0, 0, 0, 0)
    box.addWidget(tabs)
    train_pane.sweep_panel = panel
    train_pane.sweep_tabs = tabs
    own_shutdown = train_pane.shutdown

    def shutdown() -> None:  # the window shuts the Train pane down: the sweep's processes too
        panel.shutdown()
        own_shutdown()

    train_pane.shutdown = shutdown
    return panel
