"""The Export step: per view the run to ship and the threshold policy made for it, the bundle folder, then
the bundle written in a worker process (as ``workbench export`` does it, from the saved station), with
its parity check per view and its manifest shown when it is done."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from workbench.gui.panes.model_process import ExportProcess
from workbench.gui.panes.pane import Pane
from workbench.gui.runs import run_label, stale_runs
from workbench.gui.station_model import Snapshot, StationModel
from workbench.gui.theme import DARK, Colors
from workbench.gui.widgets.boxes import STRETCH, choice_box, column, form, panel, row, text_label
from workbench.gui.widgets.job_bar import JobBar

AUTOMATIC = "automatic: the run's own policy, else one fitted at export (1 % false alarms on val normals)"


def policies_for(policies: dict[str, dict], run_views: dict[str, str], view: str, run_id: str) -> list[str]:
    """The names of the stored policies that fit ``run_id`` exported for ``view`` (made for it, or naming
    no run at all), the ones made for it first — what ``workbench export --policy`` accepts."""
    from workbench.jobs.evaluate_policy import policy_runs

    own, general = [], []
    for name, stored in policies.items():
        covers = policy_runs(stored, run_views)
        if covers is None:
            general.append(name)
        elif covers.get(view) == run_id:
            own.append(name)
    return own + general


def manifest_items(tree: QTreeWidget, manifest: dict[str, Any]) -> None:
    """Show a manifest as an expandable tree (lists by index, long values shortened)."""
    tree.clear()

    def add(parent: Any, key: str, value: Any) -> None:
        if isinstance(value, dict):
            item = QTreeWidgetItem(parent, [key, f"{len(value)} entries"])
            for k, v in value.items():
                add(item, str(k), v)
        elif isinstance(value, list) and value and isinstance(value[0], dict | list):
            item = QTreeWidgetItem(parent, [key, f"{len(value)} items"])
            for i, v in enumerate(value):
                name = v.get("name", str(i)) if isinstance(v, dict) else str(i)
                add(item, str(name), v)
        else:
            text = json.dumps(value) if not isinstance(value, str) else value
            QTreeWidgetItem(parent, [key, text if len(text) < 160 else text[:157] + "…"]).setToolTip(1, text)

    for k, v in manifest.items():
        add(tree, str(k), v)


class ExportPane(Pane):
    """``exported(result)`` when a bundle is written ({'path', 'manifest', 'parity'});
    ``previewRequested(bundle folder)`` from the "Try it on a video" button."""

    exported = Signal(dict)
    previewRequested = Signal(str)

    def __init__(self, model: StationModel, parent: QWidget | None = None, colors: Colors = DARK):
        super().__init__(model, parent, colors)
        self.job = ExportProcess(model, self)
        self.result: dict[str, Any] | None = None
        self.run_boxes: dict[str, QComboBox] = {}
        self.policy_boxes: dict[str, QComboBox] = {}
        self._progress: Any = lambda f, m: None

        self.choice = QGroupBox("What each view ships", self)
        self.grid = QGridLayout(self.choice)
        self.note = text_label(self)
        self.folder = QLineEdit(self)
        self.folder.setPlaceholderText("folder for the bundle (created; must not exist or be empty)")
        browse = QPushButton("Choose …", self)
        browse.clicked.connect(self._browse)
        self.fusion = choice_box(
            self,
            {
                "any": "NG when any view is NG",
                "majority": "NG when most views are",
                "all": "NG only when every view is",
            },
            "How the part's verdict follows from its views' verdicts",
        )
        self.accept_small = QCheckBox(
            "Export even when a threshold rests on fewer than 5 normal samples", self
        )
        self.accept_small.setToolTip(
            "Such a threshold cannot bound the false-alarm rate; better add normal validation passes"
        )
        self.write_button = QPushButton("Write the bundle", self)
        self.write_button.setDefault(True)
        self.write_button.clicked.connect(self.write)
        self.preview_button = QPushButton("Try it on a video ▸", self)
        self.preview_button.setToolTip("Open the Line step with this bundle")
        self.preview_button.setEnabled(False)
        self.preview_button.clicked.connect(
            lambda: self.result and self.previewRequested.emit(self.result["path"])
        )
        self.bar = JobBar(self)
        self.bar.cancelRequested.connect(self.job.cancel)
        self.job.progressed.connect(lambda f, m: self._progress(f, m))
        self.job.finished.connect(self._on_done)
        self.job.failed.connect(lambda m: self._finish(f"The bundle was not written: {m}", error=True))
        self.job.cancelled.connect(lambda: self._finish("Cancelled: no bundle written."))

        self.parity = text_label(self, selectable=True)
        self.manifest = QTreeWidget(self)
        self.manifest.setHeaderLabels(["Manifest", "Value"])
        self.manifest.setColumnWidth(0, 18 * self.fontMetrics().horizontalAdvance("M"))

        settings = form(
            ("Bundle folder", row((self.folder, 1), browse)),
            ("Part verdict", self.fusion),
            ("", self.accept_small),
        )
        buttons = row(self.write_button, self.preview_button, STRETCH)
        top = panel(self, self.choice, self.note, settings, buttons, self.bar, self.parity)
        column(top, (self.manifest, 1), parent=self)

        model.dirtyChanged.connect(lambda _d: self._update_note())
        model.watch(self._on_snapshot, opened=True)

    # a running export is not "loading" (Pane.busy stays False): the window stays usable

    def shutdown(self) -> None:
        self.job.shutdown()

    # --- choices ----------------------------------------------------------------------------------
    def _on_snapshot(self, snap: Snapshot | None, opened: bool = False) -> None:
        before = {
            v: (self.run_boxes[v].currentData(), self.policy_boxes[v].currentData()) for v in self.run_boxes
        }
        while self.grid.count():
            w = self.grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        self.run_boxes, self.policy_boxes = {}, {}
        if opened:
            self.result = None
            self.manifest.clear()
            self.parity.setText("")
            self.preview_button.setEnabled(False)
            self.folder.setText(
                "" if snap is None else str(Path(snap.path).with_name(f"{Path(snap.path).stem}-bundle"))
            )
        if snap is None:
            self._update_note()
            return
        stale = stale_runs(snap)
        for c, text in enumerate(("View", "Run", "Threshold policy")):
            self.grid.addWidget(QLabel(f"<b>{text}</b>", self.choice), 0, c)
        for r, view in enumerate(sorted({run.view for run in snap.runs} & set(snap.views)), start=1):
            runs = sorted((x for x in snap.runs if x.view == view), key=lambda x: x.created, reverse=True)
            run_box = QComboBox(self.choice)
            for run in runs:
                run_box.addItem(run_label(run, run.id in stale), run.id)
            keep = before.get(view, (None, None))
            if keep[0] is not None and run_box.findData(keep[0]) >= 0:
                run_box.setCurrentIndex(run_box.findData(keep[0]))
            policy_box = QComboBox(self.choice)
            run_box.currentIndexChanged.connect(lambda _i, v=view: self._fill_policies(v))
            self.grid.addWidget(QLabel(view, self.choice), r, 0)
            self.grid.addWidget(run_box, r, 1)
            self.grid.addWidget(policy_box, r, 2)
            self.run_boxes[view], self.policy_boxes[view] = run_box, policy_box
            self._fill_policies(view, keep[1])
        self.grid.setColumnStretch(1, 1)
        self.grid.setColumnStretch(2, 1)
        self._update_note()

    def _fill_policies(self, view: str, keep: str | None = None) -> None:
        snap = self.model.snapshot
        box, run_id = self.policy_boxes[view], self.run_boxes[view].currentData()
        keep = keep or box.currentData()
        box.clear()
        names = policies_for(snap.policies, {r.id: r.view for r in snap.runs}, view, run_id) if snap else []
        for name in names:
            box.addItem(name, name)
        box.addItem(AUTOMATIC, None)
        if keep is not None and box.findData(keep) >= 0:
            box.setCurrentIndex(box.findData(keep))
        self._update_note()

    def choose(self, view: str, run_id: str, policy: str | None) -> None:
        """Pick the run and the policy of one view (what the two boxes do)."""
        self.run_boxes[view].setCurrentIndex(self.run_boxes[view].findData(run_id))
        self.policy_boxes[view].setCurrentIndex(self.policy_boxes[view].findData(policy))

    def chosen(self) -> tuple[list[str], list[str]]:
        """(run ids, policy names) as ``workbench export --run ... --policy ...`` takes them."""
        runs = [b.currentData() for b in self.run_boxes.values() if b.currentData()]
        names = [b.currentData() for b in self.policy_boxes.values() if b.currentData()]
        return runs, list(dict.fromkeys(names))

    def _update_note(self) -> None:
        snap = self.model.snapshot
        if snap is None:
            text = "Open a station first."
        elif not self.run_boxes:
            text = "The station has no trained run yet: train a model first (Train step)."
        else:
            missing = sorted(set(snap.views) - set(self.run_boxes))
            text = "A view without a run is left out of the bundle: " + ", ".join(missing) if missing else ""
            names = [b.currentData() for b in self.policy_boxes.values()]
            if names and (None in names) and any(names):
                text += (" " if text else "") + (
                    "Either every view ships a policy of the station or none does (export then fits "
                    "one per view): choose a policy for each view, or none."
                )
            if self.model.dirty:
                text += (" " if text else "") + "The station has unsaved changes: it is saved first."
        self.note.setText(text)
        ok = snap is not None and bool(self.run_boxes) and not self.job.running
        self.write_button.setEnabled(ok)
        for box in (*self.run_boxes.values(), *self.policy_boxes.values()):
            box.setEnabled(not self.job.running)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for the bundle", self.folder.text())
        if path:
            self.folder.setText(path)

    # --- writing --------------------------------------------------------------------------------------
    def write(self) -> None:
        """Save the station when it has changes, then export it in a worker process."""
        snap, out = self.model.snapshot, self.folder.text().strip()
        if snap is None or not out:
            self.bar.finish("Choose a folder for the bundle first.")
            return
        runs, names = self.chosen()
        picked = [b.currentData() for b in self.policy_boxes.values()]
        if any(picked) and None in picked:
            self.bar.finish(
                "Choose a station policy for every view, or none (export then fits one per view)."
            )
            return
        self.result = None
        self.preview_button.setEnabled(False)
        self.parity.setText("")
        self.manifest.clear()
        self._progress, _token = self.bar.start("Writing the bundle …")
        fusion = self.fusion.currentData()

        def launch() -> None:
            self.job.start(self.model.snapshot.path, out, runs, names, fusion, self.accept_small.isChecked())
            self._update_note()

        if self.model.dirty:
            self.model.save(on_done=launch)
        else:
            launch()

    def _on_done(self, result: dict[str, Any]) -> None:
        self.result = result
        parity = result["parity"]
        lines = [f"<b>Bundle written to {result['path']}</b>"]
        for v in result["manifest"]["views"]:
            e = parity["views"][v["name"]]
            ok = e["passed"]
            color = self.colors.good if ok else self.colors.defective
            lines.append(
                f"<span style='color:{color}'>{'✔' if ok else '✘'}</span> {v['name']}: {v['model']} "
                f"({v['run']['id']}), parity {'passed' if ok else 'FAILED'} on {e['samples']} samples — "
                f"largest map difference {e.get('relative_diff', 0):.2g} of the map range, "
                f"{e.get('verdicts_identical', 0)} of {e['samples']} verdicts identical; "
                + html.escape(v["policy_note"])
            )
        self.parity.setText("<br>".join(lines))
        manifest_items(self.manifest, result["manifest"])
        self.preview_button.setEnabled(True)
        self._finish(
            "Done: the bundle passed its parity check." if parity["passed"] else "Written, but parity FAILED."
        )
        self.exported.emit(result)

    def _finish(self, message: str, error: bool = False) -> None:
        self.bar.finish(message)
        self.bar.message.setStyleSheet(f"color: {self.colors.defective};" if error else "")
        self._update_note()
