"""The Synthesis pane: synthetic defects with exact masks for validation and test, never for training.

Three tabs: one defect placed by a click on the bead (before / after / mask side by side), a batch
generated to a count or seed 000's Table 1 (progress, Cancel, a contact sheet of the result), and a
table of the station's synthetic samples per view, zone, type and size, next to its real defects.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHeaderView,
    QTableWidgetItem,
    QTabWidget,
    QWidget,
)

from workbench.gui.panes.pane import Pane
from workbench.gui.panes.synthesis_batch import BatchGenerator
from workbench.gui.panes.synthesis_place import DefectPlacer
from workbench.gui.station_model import Snapshot, StationModel
from workbench.gui.theme import DARK, Colors
from workbench.gui.undo import UndoStack
from workbench.gui.widgets.boxes import column, table, text_label

COLUMNS = ("View", "Zone", "Type", "Size", "val", "test", "Total")


def synthetic_counts(samples: list[Any]) -> list[tuple[str, str, str, str, int, int]]:
    """(view, zone, type, size, in val, in test) per kind of synthetic sample, sorted."""
    per: Counter = Counter()
    for s in samples:
        if not s.synthetic:
            continue
        prov = (s.meta or {}).get("synthetic") or {}
        key = (s.view, prov.get("zone") or "", prov.get("type") or "?", prov.get("size") or "?")
        per[(*key, s.split)] += 1
    keys = sorted({k[:4] for k in per})
    return [(*k, per[(*k, "val")], per[(*k, "test")]) for k in keys]


class SynthesisCounts(QWidget):
    """The station's synthetic samples counted per view, zone, type and size, by split."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.summary = text_label(self)
        self.table = table(self, COLUMNS)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        column(self.summary, (self.table, 1), parent=self)

    def show_counts(self, snap: Snapshot | None) -> None:
        samples = snap.samples if snap is not None else []
        rows = synthetic_counts(samples)
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        for r, (*names, val, test) in enumerate(rows):
            for c, value in enumerate([*names, val, test, val + test]):
                item = QTableWidgetItem()
                item.setData(Qt.ItemDataRole.DisplayRole, value)
                if isinstance(value, int):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.table.setSortingEnabled(True)
        syn = [s for s in samples if s.synthetic]
        real = [s for s in samples if not s.synthetic and s.label == "defective"]
        splits = Counter(s.split for s in syn)
        self.summary.setText(
            f"<b>{len(syn)}</b> synthetic defects (val {splits['val']}, test {splits['test']}) from "
            f"{len({s.meta.get('synthetic', {}).get('source_sample') for s in syn})} real normals; "
            f"<b>{len(real)}</b> real defective samples. Synthetic samples never go into training."
        )

    def total(self) -> int:
        return sum(int(self.table.item(r, len(COLUMNS) - 1).text()) for r in range(self.table.rowCount()))


class SynthesisPane(Pane):
    """``place``: one defect by hand; ``batch``: many at once; ``counts``: what the station holds."""

    def __init__(
        self, model: StationModel, undo: UndoStack, parent: QWidget | None = None, colors: Colors = DARK
    ):
        super().__init__(model, parent, colors)
        self.undo = undo
        self._catalogue = False
        self.place = DefectPlacer(model, undo, self, colors)
        self.batch = BatchGenerator(model, undo, self, colors)
        self.counts = SynthesisCounts(self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.place, "One defect")
        self.tabs.addTab(self.batch, "Batch")
        self.tabs.addTab(self.counts, "In the station")
        column(self.tabs, parent=self).setContentsMargins(4, 4, 4, 4)
        model.watch(self.counts.show_counts)

    @property
    def busy(self) -> bool:
        return self.place.busy or self.batch.busy

    def set_colors(self, colors: Colors) -> None:
        super().set_colors(colors)
        self.place.set_colors(colors)
        self.batch.set_colors(colors)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.load_catalogue()  # the defect generators load when the pane is first seen, not at start-up

    def load_catalogue(self) -> None:
        if self._catalogue:
            return
        self._catalogue = True
        from workbench.synth import bead_defects, surface_defects
        from workbench.synth.defects import SIZE_CLASSES

        docs = {
            k: (f.__doc__ or "").split("\n")[0]
            for k, f in {**bead_defects.DRAW, **surface_defects.DRAW}.items()
        }
        self.place.set_catalogue(bead_defects.BEAD_TYPES, surface_defects.SURFACE_TYPES, SIZE_CLASSES, docs)
        self.batch.set_catalogue(bead_defects.BEAD_TYPES, surface_defects.SURFACE_TYPES, SIZE_CLASSES)
        self.place.on_snapshot(self.model.snapshot, opened=True)
