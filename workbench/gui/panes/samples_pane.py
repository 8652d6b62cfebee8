"""The Samples pane: a thumbnail grid filtered by view, split and label; set the label or split of the
selected samples, paint the GT mask of one sample on a large view, and re-run the split job."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QItemSelectionModel, QSize
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QWidget,
)

from workbench.gui.station_model import StationModel
from workbench.gui.theme import DARK, Colors
from workbench.gui.undo import UndoStack
from workbench.gui.widgets.boxes import column, panel, row, side_by_side
from workbench.gui.widgets.job_bar import JobBar
from workbench.gui.widgets.mask_editor import MaskEditor
from workbench.gui.widgets.thumbnail_model import ThumbnailModel

SPLITS = ("train", "val", "test", "unassigned")
LABELS = ("good", "defective", "unknown")
ALL = "all"


def _combo(parent: QWidget, items: tuple[str, ...], tip: str, placeholder: str = "") -> QComboBox:
    box = QComboBox(parent)
    box.addItems(list(items))
    box.setToolTip(tip)
    if placeholder:  # an edit box starts empty: nothing is set by a click on a default
        box.setPlaceholderText(placeholder)
        box.setCurrentIndex(-1)
    return box


def train_warning(samples: list[Any]) -> str:
    """Why moving these samples into the train split needs a second thought, or '' when it does not."""
    synthetic = [s for s in samples if getattr(s, "synthetic", False)]
    defective = [s for s in samples if s.label == "defective" and not getattr(s, "synthetic", False)]
    unknown = [s for s in samples if s.label == "unknown"]
    parts = [
        f"{len(group)} {what}"
        for group, what in (
            (synthetic, "synthetic defect sample(s), made to validate and test on, never to train"),
            (defective, "defective sample(s)"),
            (unknown, "sample(s) labelled unknown"),
        )
        if group
    ]
    if not parts:
        return ""
    return (
        "The selection holds " + " and ".join(parts) + ". The models learn what normal looks like from the "
        "train split: a defect there teaches them that the defect is normal (training uses good samples "
        "only, so these would sit there unused until relabelled). Move them into train all the same?"
    )


def _fraction(parent: QWidget, value: float, prefix: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox(parent)
    box.setRange(0.0, 1.0)
    box.setSingleStep(0.05)
    box.setValue(value)
    box.setPrefix(prefix)
    box.setToolTip("Share of the good passes in this split (the three add up to 1)")
    return box


class SamplesPane(QWidget):
    """Selecting one sample also selects it in the whole window (frame viewer, inspector)."""

    def __init__(
        self, model: StationModel, undo: UndoStack, parent: QWidget | None = None, colors: Colors = DARK
    ):
        super().__init__(parent)
        self.model, self.undo, self.colors = model, undo, colors
        self.editing: Any = None  # the sample whose GT mask is in the editor
        self._mask_before: np.ndarray | None = None
        self.thumbs = ThumbnailModel(lambda fn, done: model.call(fn, done, lambda _e: done([])), 96, colors)
        self.view_filter = _combo(self, (ALL,), "Show the samples of one view")
        self.split_filter = _combo(self, (ALL, *SPLITS), "Show the samples of one split")
        self.label_filter = _combo(self, (ALL, *LABELS), "Show the samples with one label")
        self.count = QLabel("", self)
        filters = QHBoxLayout()
        for text, box in (
            ("View", self.view_filter),
            ("Split", self.split_filter),
            ("Label", self.label_filter),
        ):
            filters.addWidget(QLabel(text, self))
            filters.addWidget(box)
            box.currentIndexChanged.connect(self.refresh)
        filters.addWidget(self.count, 1)

        self.grid = QListView(self)
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setUniformItemSizes(True)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.grid.setIconSize(self.thumbs.icon_size())
        em = self.fontMetrics().horizontalAdvance("M")
        self.grid.setGridSize(QSize(max(96 + 12, 10 * em), 96 + 3 * self.fontMetrics().height()))
        self.grid.setModel(self.thumbs)
        self.grid.selectionModel().selectionChanged.connect(self._on_selection)

        self.label_box = _combo(self, LABELS, "Label to give the selected samples", "label …")
        self.split_box = _combo(self, SPLITS, "Split to give the selected samples", "split …")
        self.set_label_button = set_label = QPushButton("Set label", self)
        set_label.clicked.connect(lambda: self.set_selected(label=self.label_box.currentText()))
        self.set_split_button = set_split = QPushButton("Set split", self)
        set_split.clicked.connect(lambda: self.set_selected(split=self.split_box.currentText()))
        for box in (self.label_box, self.split_box):
            box.currentIndexChanged.connect(lambda _i: self._update_edit_buttons())
        self.selection_label = QLabel("", self)
        edits = row(self.label_box, set_label, self.split_box, set_split, (self.selection_label, 1))

        self.train = _fraction(self, 0.6, "train ")
        self.val = _fraction(self, 0.2, "val ")
        self.test = _fraction(self, 0.2, "test ")
        self.seed = QSpinBox(self)
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setPrefix("seed ")
        self.split_button = QPushButton("Re-run split", self)
        self.split_button.setToolTip("Assign train/val/test by pass (defective passes never go to train)")
        self.split_button.clicked.connect(self.rerun_split)
        self.job = JobBar(self)
        split_row = row(self.train, self.val, self.test, self.seed, self.split_button, (self.job, 1))

        self.editor = MaskEditor(self, colors)
        self.editor.maskEdited.connect(self._on_mask_edited)
        self.mask_title = QLabel("Select one sample to paint its ground-truth defect mask.", self)
        self.clear_mask = QPushButton("Remove mask", self)
        self.clear_mask.setToolTip("The sample has no GT mask afterwards (undoable)")
        self.clear_mask.clicked.connect(self._remove_mask)

        upper = panel(self, filters, (self.grid, 1), edits, split_row)
        lower = panel(self, row((self.mask_title, 1), self.clear_mask), (self.editor, 1))
        # side by side: the grid and the mask editor each get the full height of the step
        column(side_by_side(self, upper, lower, (3, 2)), parent=self).setContentsMargins(4, 4, 4, 4)

        model.watch(self._on_snapshot, opened=True, now=False)
        model.sampleSelected.connect(self._on_sample_selected)
        self._on_snapshot(None, opened=True)

    # --- state ------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.thumbs.busy or self.job.running

    def set_colors(self, colors: Colors) -> None:
        self.colors = colors
        self.thumbs.colors = colors
        self.editor.set_colors(colors)

    def selected(self) -> list[Any]:
        rows = sorted(i.row() for i in self.grid.selectionModel().selectedIndexes())
        return [self.thumbs.samples[r] for r in rows if r < len(self.thumbs.samples)]

    def select_ids(self, ids: list[int]) -> None:
        sel = self.grid.selectionModel()
        sel.clearSelection()
        for sid in ids:
            row = self.thumbs.row_of(sid)
            if row >= 0:
                sel.select(self.thumbs.index(row), QItemSelectionModel.SelectionFlag.Select)
        if ids and self.thumbs.row_of(ids[0]) >= 0:
            self.grid.scrollTo(self.thumbs.index(self.thumbs.row_of(ids[0])))

    # --- project ----------------------------------------------------------------------------------
    def _on_snapshot(self, snap: Any, opened: bool = False) -> None:
        views = [] if snap is None else sorted(snap.views | {s.view: None for s in snap.samples})
        current = self.view_filter.currentText()
        self.view_filter.blockSignals(True)
        self.view_filter.clear()
        self.view_filter.addItems([ALL, *views])
        self.view_filter.setCurrentText(current if current in views else ALL)
        self.view_filter.blockSignals(False)
        if opened:
            self.thumbs.set_samples([], keep_icons=False)
        self.refresh()

    def refresh(self) -> None:
        """Show the samples that pass the filters, keeping the selection."""
        snap = self.model.snapshot
        keep = [s.id for s in self.selected()]
        if snap is None:
            self.thumbs.set_samples([])
            self.count.setText("")
            self._show_mask_of(None)
            return
        want = {
            "view": self.view_filter.currentText(),
            "split": self.split_filter.currentText(),
            "label": self.label_filter.currentText(),
        }
        shown = [s for s in snap.samples if all(v == ALL or getattr(s, k) == v for k, v in want.items())]
        self.thumbs.set_samples(shown)
        self.count.setText(f"{len(shown)} of {len(snap.samples)} samples")
        self.select_ids(keep)
        self._on_selection()

    def _on_sample_selected(self, sid: int) -> None:
        # a sample picked elsewhere (Station tree) is picked here too, unless it is already selected
        if sid not in {s.id for s in self.selected()}:
            self.select_ids([sid])

    def _update_edit_buttons(self) -> None:
        some = bool(self.selected())
        self.set_label_button.setEnabled(some and self.label_box.currentIndex() >= 0)
        self.set_split_button.setEnabled(some and self.split_box.currentIndex() >= 0)

    def ask_train(self, text: str) -> bool:
        """Ask before defective or synthetic samples go into training (tests replace it)."""
        answer = QMessageBox.question(
            self,
            "Move into training?",
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _on_selection(self, *_args: Any) -> None:
        self._update_edit_buttons()
        chosen = self.selected()
        self.selection_label.setText(f"{len(chosen)} selected" if chosen else "")
        one = chosen[0] if len(chosen) == 1 else None
        if one is not None and one.id != self.model.selected_sample:
            self.model.select_sample(one.id)
        self._show_mask_of(one)

    def _show_mask_of(self, sample: Any) -> None:
        if sample is None:
            self.editing = None
            self.editor.set_image(None, None)
            self.mask_title.setText("Select one sample to paint its ground-truth defect mask.")
            self.clear_mask.setEnabled(False)
            return
        same = self.editing is not None and self.editing.id == sample.id
        self.editing = sample
        self.clear_mask.setEnabled(sample.has_mask)
        self.mask_title.setText(
            f"GT mask of sample #{sample.id} ({sample.view}, {sample.split}, {sample.label})"
        )
        sid = sample.id

        def shown(result: tuple[np.ndarray, np.ndarray | None]) -> None:
            if self.editing is not None and self.editing.id == sid:
                self.editor.set_image(result[0], result[1], fit=not same)

        self.model.call(lambda p: (p.sample_image(sid), p.gt_mask(sid)), shown)

    # --- edits ------------------------------------------------------------------------------------
    def set_selected(self, **fields: str) -> None:
        """Give the selected samples a label or split (one undo step); defective or synthetic samples
        go into train only after the user agreed."""
        if any(not v for v in fields.values()):
            return  # nothing chosen in the box yet
        chosen = [s for s in self.selected() if any(getattr(s, k) != v for k, v in fields.items())]
        if not chosen:
            return
        if fields.get("split") == "train":
            warning = train_warning(chosen)
            if warning and not self.ask_train(warning):
                return
        what = ", ".join(f"{k} {v}" for k, v in fields.items())
        self.undo.update_samples(chosen, f"{what} on {len(chosen)} samples", **fields)

    def _on_mask_edited(self, old: np.ndarray, new: np.ndarray) -> None:
        s = self.editing
        if s is None:
            return
        before = old if s.has_mask else None
        self.undo.set_gt_mask(s.id, before, new, f"paint the GT mask of #{s.id}")

    def _remove_mask(self) -> None:
        s = self.editing
        if s is not None and s.has_mask and self.editor.mask is not None:
            self.undo.set_gt_mask(s.id, self.editor.mask.copy(), None, f"remove the GT mask of #{s.id}")

    def rerun_split(self) -> None:
        """Run the split job on the station's I/O thread; one undo step puts the old splits back."""
        if self.model.project is None or self.job.running:
            return
        try:
            from workbench.core.splits import SplitRule

            rule = SplitRule(self.train.value(), self.val.value(), self.test.value(), seed=self.seed.value())
        except ValueError as exc:
            self.model.failed.emit("Split", str(exc))
            return
        progress, cancel = self.job.start("Assigning splits by pass …")

        def work(p: Any) -> tuple[dict, dict, Any]:
            from workbench.jobs.splits import split_samples

            before = {s.id: s.split for s in p.samples()}
            result = split_samples(p, rule, progress=progress, cancel=cancel)
            return before, {s.id: s.split for s in p.samples()}, result

        def done(out: tuple[dict, dict, Any]) -> None:
            before, after, result = out
            self.undo.record_splits(before, after, "re-run the split")
            counts = ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items()))
            self.job.finish(f"{result.changed} samples changed split ({counts})")

        def failed(e: BaseException) -> None:
            self.job.finish("")
            self.model.failed.emit("Split", str(e))

        self.model.edit(work, "Split", done, failed)
