"""Synthetic defects in bulk: a count spread over the chosen types, views, zones and sizes (or seed 000's
Table 1), seeded; the job runs on the station's I/O thread with a progress bar and Cancel, adds its
samples in one undo step, and a contact sheet shows what it made with the masks outlined."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QWidget,
)

from workbench.gui.station_model import Snapshot, StationModel
from workbench.gui.theme import DARK, Colors
from workbench.gui.undo import UndoStack
from workbench.gui.widgets.boxes import column, grid_field, row
from workbench.gui.widgets.contact_sheet import ContactSheet
from workbench.gui.widgets.job_bar import JobBar

PLANS = (("Even spread", None), ("Table 1 (seed 000)", "table1"))


def check_list(parent: QWidget, tip: str) -> QListWidget:
    """A compact list of checkable names that wraps into rows."""
    box = QListWidget(parent)
    box.setFlow(QListView.Flow.LeftToRight)
    box.setWrapping(True)
    box.setResizeMode(QListView.ResizeMode.Adjust)
    box.setToolTip(tip)
    box.setMaximumHeight(int(2.6 * box.fontMetrics().height()) + 8)
    return box


def set_checked_items(box: QListWidget, names: list[str], on: set[str]) -> None:
    """Fill ``box`` with ``names``, checking those in ``on`` (a name seen before keeps its check)."""
    before = {box.item(i).text(): box.item(i).checkState() for i in range(box.count())}
    if list(before) == names:
        return
    box.clear()
    for name in names:
        item = QListWidgetItem(name, box)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        state = before.get(name, Qt.CheckState.Checked if name in on else Qt.CheckState.Unchecked)
        item.setCheckState(state)


def checked(box: QListWidget) -> list[str]:
    return [
        box.item(i).text() for i in range(box.count()) if box.item(i).checkState() == Qt.CheckState.Checked
    ]


class BatchGenerator(QWidget):
    """``generated(ids)`` once a batch is in the station."""

    generated = Signal(list)

    def __init__(self, model: StationModel, undo: UndoStack, parent: QWidget | None = None, colors=DARK):
        super().__init__(parent)
        self.model, self.undo, self.colors = model, undo, colors
        self.batch: list[int] = []  # the last batch's sample ids (the contact sheet shows them)
        self.bead_types: tuple[str, ...] = ()
        self.plan = QComboBox(self)
        for text, preset in PLANS:
            self.plan.addItem(text, preset)
        self.plan.setToolTip(
            "Even spread: the count shared evenly over the chosen types, views and zones.\n"
            "Table 1: seed 000's count of each bead defect per zone of the front, center and back views."
        )
        self.count = QSpinBox(self)
        self.count.setRange(1, 5000)
        self.count.setValue(20)
        self.count.setSpecialValueText("whole table")
        self.count.setToolTip(
            "How many defects in all (Table 1: scaled to this count, keeping its proportions)"
        )
        self.seed = QSpinBox(self)
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("The same seed on the same station gives the same defects")
        self.types = check_list(self, "The defect types to draw (bead types need the view's bead)")
        self.views = check_list(self, "The views whose val/test normals get defects")
        self.sizes: dict[str, QCheckBox] = {}
        size_row = QHBoxLayout()
        size_row.setContentsMargins(0, 0, 0, 0)
        self.size_row = size_row
        size_row.addStretch(1)
        self.generate_button = QPushButton("Generate", self)
        self.generate_button.setToolTip("Draw the defects and add them to val and test (one undo step)")
        self.generate_button.clicked.connect(self.start)
        self.job = JobBar(self)
        self.sheet_title = QLabel("", self)
        self.sheet = ContactSheet(
            lambda fn, done: model.call(fn, done, lambda _e: done([])), self, 180, colors
        )

        form = QGridLayout()
        for col, (label, field) in enumerate(
            (("Plan", self.plan), ("Count", self.count), ("Seed", self.seed))
        ):
            grid_field(form, label, field, 0, 2 * col)
        grid_field(form, "Types", self.types, 1, 0, (1, 5), top=True)
        grid_field(form, "Views", self.views, 2, 0, (1, 5), top=True)
        form.addWidget(QLabel("Sizes", self), 3, 0)
        form.addLayout(size_row, 3, 1, 1, 5)
        form.setColumnStretch(1, 1)
        run = row(self.generate_button, (self.job, 1))
        column(form, run, self.sheet_title, (self.sheet, 1), parent=self)

        self.plan.currentIndexChanged.connect(self._on_plan)
        model.watch(self.on_snapshot, opened=True, now=False)
        model.closed.connect(self.job.cancel)  # a batch for a closed station stops at once

    @property
    def busy(self) -> bool:
        return self.sheet.busy or self.job.running

    def set_colors(self, colors: Colors) -> None:
        self.colors = colors
        self.sheet.set_colors(colors)

    def set_catalogue(self, bead_types: tuple[str, ...], surface_types: tuple[str, ...], sizes: dict) -> None:
        """The types to offer (bead types checked) and the size classes (all checked)."""
        self.bead_types = tuple(bead_types)
        set_checked_items(self.types, [*bead_types, *surface_types], set(bead_types))
        for name in sizes:
            box = QCheckBox(name, self)
            box.setChecked(True)
            self.sizes[name] = box
            self.size_row.insertWidget(self.size_row.count() - 1, box)

    def _on_plan(self) -> None:
        table = self.plan.currentData() is not None
        self.count.setMinimum(0 if table else 1)
        if table:
            self.count.setValue(0)  # the whole table unless the user scales it
        elif self.count.value() < 1:
            self.count.setValue(20)

    # --- the station ------------------------------------------------------------------------------
    def on_snapshot(self, snap: Snapshot | None, opened: bool = False) -> None:
        views = sorted(snap.views) if snap is not None else []
        set_checked_items(self.views, views, set(views))
        if opened:
            self.batch = []
        self._show_sheet(snap)

    def _show_sheet(self, snap: Snapshot | None) -> None:
        synthetic = [s for s in snap.samples if s.synthetic] if snap is not None else []
        batch = [s for s in synthetic if s.id in set(self.batch)]
        if batch:
            shown, title = batch, f"The {len(batch)} defects of the last batch, masks outlined"
        else:
            shown, title = synthetic, f"All {len(synthetic)} synthetic samples of the station, masks outlined"
        if not synthetic:
            title = "No synthetic samples yet: generate a batch, or place defects one at a time."
        self.sheet_title.setText(title)
        if [s.id for s in shown] != [s.id for s in self.sheet.samples()]:
            self.sheet.show_samples(shown)

    # --- the job ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Run the synthesis job with the chosen plan; a bad choice gets a message and nothing starts."""
        if self.model.project is None or self.job.running:
            return
        types, views = checked(self.types), checked(self.views)
        sizes = [name for name, box in self.sizes.items() if box.isChecked()]
        missing = [what for what, chosen in (("type", types), ("view", views), ("size", sizes)) if not chosen]
        if missing:
            self.job.finish(f"Choose at least one {' and one '.join(missing)}.")
            return
        preset = self.plan.currentData()
        count = self.count.value() or None
        seed = self.seed.value()
        progress, cancel = self.job.start("Drawing synthetic defects …")

        def work(p: Any) -> tuple[Any, dict, dict]:
            from workbench.jobs.synthesize import synthesize

            before = p.views
            result = synthesize(
                p,
                count=count,
                types=types,
                views=views,
                seed=seed,
                preset=preset,
                sizes=sizes,
                progress=progress,
                cancel=cancel,
            )
            return result, before, p.views

        def done(out: tuple[Any, dict, dict]) -> None:
            result, before, after = out
            n = len(result.sample_ids)
            if n:
                self.undo.record_import(list(result.sample_ids), before, after, f"synthesize {n} defects")
            self.batch = list(result.sample_ids)
            self._show_sheet(self.model.snapshot)
            failed = f"; {len(result.failed)} found no place" if result.failed else ""
            found = f"; bead found on {', '.join(result.beads_found)}" if result.beads_found else ""
            self.job.finish(f"Added {n} synthetic defects to val and test{failed}{found}.")
            self.generated.emit(list(result.sample_ids))

        def failed(exc: BaseException) -> None:
            from workbench.core.progress import Cancelled

            if isinstance(exc, Cancelled):
                self.job.finish("Cancelled: the station is unchanged.")
                return
            self.job.finish(f"Synthesis failed: {exc}")
            self.model.failed.emit("Synthesis", str(exc))

        self.model.edit(work, "Synthesis", done, failed)
