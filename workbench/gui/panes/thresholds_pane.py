"""Set the thresholds of a training (its runs, one per view) with live TP / FP / TN / FN and rates on the
test split, the score histogram with the threshold line, the samples whose verdict just changed, and
save them as a threshold policy (undoable) that ``workbench eval --policy NAME`` counts the same way.

The stored scores are read and sorted once on the I/O thread (a ScoreRecount per run); every slider
move is then two binary searches, so the counts follow the slider without delay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.station_model import Snapshot, StationModel
from workbench.gui.theme import DARK, Colors
from workbench.gui.widgets.score_histogram import ScoreHistogram
from workbench.gui.widgets.threshold_row import ThresholdRow, counts_text


def run_groups(runs: list) -> list[list]:
    """Runs of one training (same model and parameters), at most one per view, in the project's order."""
    groups: list[tuple[str, list]] = []
    for r in runs:
        key = r.model + json.dumps(r.params, sort_keys=True)
        target = next((g for k, g in groups if k == key and all(x.view != r.view for x in g)), None)
        if target is None:
            groups.append((key, [r]))
        else:
            target.append(r)
    return [g for _k, g in groups]


@dataclass
class RunScores:
    """One run's test-split scores, sorted once for live recounting."""

    run: str
    view: str
    sample_ids: list[int]
    labels: np.ndarray
    scores: np.ndarray
    recount: Any  # ScoreRecount


def load_scores(project, run_ids: list[str]) -> dict[str, RunScores]:
    """The stored test-split scores of each run (I/O thread); raises when a run has not scored them all.

    Reads exactly what ``workbench eval`` reads (``ensure_split``) but never predicts: the GUI keeps
    model inference out of its own process.
    """
    from workbench.jobs.evaluate_data import AUGMENTATION_KEY, ensure_split, labelled_samples
    from workbench.metrics import ScoreRecount

    out = {}
    for rid in run_ids:
        run = project.run(rid)
        stored = {
            s for r in project.results(run_id=rid) if not r.meta.get(AUGMENTATION_KEY) for s in r.sample_ids
        }
        missing = [s.id for s in labelled_samples(project, run.view, "test") if s.id not in stored]
        if missing:
            raise ValueError(
                f"run {rid} has no stored score for {len(missing)} test sample(s) of view '{run.view}' "
                f"(first: {missing[0]}); score them with `workbench eval` and open the station again"
            )
        data = ensure_split(project, rid, "test", with_maps=False)
        out[rid] = RunScores(
            rid, run.view, data.ids, data.labels, data.scores, ScoreRecount(data.scores, data.labels)
        )
    return out


def starting_threshold(rs: RunScores) -> float:
    """The F1-best threshold on the shown split, else just above the highest normal score."""
    from workbench.metrics.curves import best_ratio_sorted

    try:
        return float(best_ratio_sorted(rs.recount, "f1").threshold)
    except Exception:  # noqa: BLE001 - no defect (or no normal) sample: F1 is undefined there
        return float(rs.scores.max()) if rs.scores.size else 0.0


class ThresholdsPane(QWidget):
    """``policySaved(name)`` once a policy is in the project."""

    policySaved = Signal(str)

    def __init__(self, model: StationModel, undo: Any, parent=None, colors: Colors = DARK):
        super().__init__(parent)
        self.model, self.undo, self.colors = model, undo, colors
        self.groups: list[list] = []
        self.data: dict[str, RunScores] = {}
        self.rows: dict[str, ThresholdRow] = {}  # run id -> its row
        self.reference: dict[str, float] = {}  # run id -> threshold before the current change
        self.focus_run: str | None = None
        self._loading = False
        self._widened = False
        self.setMinimumWidth(30 * self.fontMetrics().horizontalAdvance("M"))

        self.group_combo = QComboBox(self)
        self.group_combo.setPlaceholderText("No trained run yet")
        self.group_combo.currentIndexChanged.connect(self._load)
        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        self.rows_box = QWidget(self)
        self.rows_layout = QVBoxLayout(self.rows_box)
        self.rows_layout.setContentsMargins(0, 0, 0, 0)
        self.total = QLabel("", self)
        self.hist = ScoreHistogram(self, colors)
        self.hist.thresholdDragged.connect(self._from_line)
        self.changed_title = QLabel("Verdicts that just changed", self)
        self.changed = QListWidget(self)
        self.changed.itemActivated.connect(self._select)
        self.changed.itemClicked.connect(self._select)
        self.name = QLineEdit(self)
        self.name.setPlaceholderText("policy name")
        self.save_button = QPushButton("Save as policy", self)
        self.save_button.clicked.connect(self.save_policy)

        form = QFormLayout()
        form.addRow("Runs", self.group_combo)
        save = QHBoxLayout()
        save.addWidget(self.name, 1)
        save.addWidget(self.save_button)
        lower = QWidget(self)
        ll = QVBoxLayout(lower)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.changed_title)
        ll.addWidget(self.changed)
        split = self.split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.hist)
        split.addWidget(lower)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.rows_box)
        layout.addWidget(self.total)
        layout.addWidget(split, 1)
        layout.addLayout(save)

        model.opened.connect(self._on_snapshot)
        model.changed.connect(self._on_snapshot)
        model.closed.connect(lambda: self._on_snapshot(None))
        self._on_snapshot(model.snapshot)

    @property
    def busy(self) -> bool:
        return self._loading

    def set_colors(self, colors: Colors) -> None:
        self.colors = colors
        self.hist.set_colors(colors)

    def shutdown(self) -> None:
        pass

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        from workbench.gui.panes.analysis import widen_dock

        if not self._widened:
            self._widened = True
            widen_dock(self, 0.42)
            h = self.fontMetrics().height()
            self.split.setSizes([16 * h, 6 * h])

    # --- which runs -------------------------------------------------------------------------------
    def _on_snapshot(self, snap: Snapshot | None) -> None:
        groups = run_groups(snap.runs) if snap is not None else []
        keys = [[r.id for r in g] for g in groups]
        if keys == [[r.id for r in g] for g in self.groups]:
            return  # an edit elsewhere (a saved policy, a label) keeps the sliders where they are
        current = (
            [r.id for r in self.groups[self.group_combo.currentIndex()]]
            if self.groups and self.group_combo.currentIndex() >= 0
            else None
        )
        self.groups = groups
        self.group_combo.blockSignals(True)
        self.group_combo.clear()
        for g in groups:
            self.group_combo.addItem(f"{g[0].model}: " + ", ".join(f"{r.id} ({r.view})" for r in g))
        self.group_combo.blockSignals(False)
        index = keys.index(current) if current in keys else len(groups) - 1  # the newest training first
        if index >= 0:
            self.group_combo.setCurrentIndex(index)
        self._load()

    def select_runs(self, run_ids: list[str]) -> None:
        """Show the training that holds these runs."""
        for i, g in enumerate(self.groups):
            if set(run_ids) <= {r.id for r in g}:
                self.group_combo.setCurrentIndex(i)
                return

    def _load(self) -> None:
        self._clear_rows()
        i = self.group_combo.currentIndex()
        if not (0 <= i < len(self.groups)):
            self.message.setText("Train a model first: its thresholds are set here.")
            return
        ids = [r.id for r in self.groups[i]]
        self._loading = True
        self.message.setText("Reading the scores …")
        self.model.call(lambda p: load_scores(p, ids), lambda d: self._on_loaded(ids, d), self._on_error)

    def _on_error(self, exc: BaseException) -> None:
        self._loading = False
        self.message.setText(str(exc))

    def _on_loaded(self, ids: list[str], data: dict[str, RunScores]) -> None:
        self._loading = False
        i = self.group_combo.currentIndex()
        if not (0 <= i < len(self.groups)) or [r.id for r in self.groups[i]] != ids:
            return  # another training was chosen meanwhile
        self._clear_rows()
        self.data = data
        self.message.setText("Test split; a sample is flagged when its score is at or above the threshold.")
        saved = self._saved_policy(ids)
        for rid in ids:
            rs = data[rid]
            value = saved.get(rs.view, starting_threshold(rs)) if saved else starting_threshold(rs)
            lo, hi = (float(rs.scores.min()), float(rs.scores.max())) if rs.scores.size else (0.0, 1.0)
            pad = 0.05 * (hi - lo or 1.0)
            row = ThresholdRow(f"{rs.view} · {rid}", min(lo - pad, value), max(hi + pad, value), value, self)
            row.moved.connect(lambda v, r=rid: self._moved(r, v))
            row.pressed.connect(lambda r=rid: self._pressed(r))
            self.rows_layout.addWidget(row)
            self.rows[rid] = row
            self.reference[rid] = value
            self._update_row(rid)
        self.focus_run = ids[0]
        self._show_histogram()
        self._update_total()
        self.name.setText(
            f"{self.groups[i][0].model}-{'-'.join(ids)}-manual" if not saved else self._saved_name
        )

    def _saved_policy(self, ids: list[str]) -> dict[str, float]:
        """Per-view thresholds of the newest stored policy made for exactly these runs, else {}."""
        snap = self.model.snapshot
        self._saved_name = ""
        for name, d in reversed(list((snap.policies if snap else {}).items())):
            runs = d.get("params", {}).get("runs")
            if d.get("level") == "image" and isinstance(runs, dict) and sorted(runs.values()) == sorted(ids):
                self._saved_name = name
                return {v: float(d.get("per_view", {}).get(v, d["threshold"])) for v in runs}
        return {}

    def _clear_rows(self) -> None:
        for row in self.rows.values():
            row.setParent(None)
            row.deleteLater()
        self.rows, self.reference, self.data = {}, {}, {}
        self.changed.clear()
        self.total.setText("")

    # --- live counts -------------------------------------------------------------------------------
    def counts(self, run_id: str):
        """The Counts of one run at its row's threshold."""
        return self.data[run_id].recount.counts(self.rows[run_id].value())

    def _pressed(self, rid: str) -> None:
        self.reference[rid] = self.rows[rid].value()

    def _moved(self, rid: str, value: float) -> None:
        self._update_row(rid)
        self._update_total()
        if self.focus_run != rid:
            self.focus_run = rid
            self._show_histogram()
        self.hist.set_threshold(value)
        self._show_changed(rid)

    def _from_line(self, value: float) -> None:
        if self.focus_run in self.rows:
            self.rows[self.focus_run].set_value(value)

    def _update_row(self, rid: str) -> None:
        self.rows[rid].counts.setText(counts_text(self.counts(rid)))

    def _update_total(self) -> None:
        if len(self.rows) < 2:
            self.total.setText("")
            return
        from workbench.metrics.recount import Counts

        cs = [self.counts(r) for r in self.rows]
        total = Counts(*(sum(getattr(c, k) for c in cs) for k in ("tp", "fp", "tn", "fn")))
        self.total.setText(f"<b>All views</b>: {counts_text(total)}")

    def _show_histogram(self) -> None:
        rs = self.data.get(self.focus_run or "")
        if rs is None:
            return
        self.hist.set_scores(rs.scores[~rs.labels], rs.scores[rs.labels])
        self.hist.setTitle(f"{rs.view} · {rs.run}")
        self.hist.set_threshold(self.rows[rs.run].value())

    def _show_changed(self, rid: str) -> None:
        rs, snap = self.data[rid], self.model.snapshot
        old, new = self.reference[rid], self.rows[rid].value()
        self.changed.clear()
        for k in rs.recount.changed(old, new):
            sid = rs.sample_ids[int(k)]
            flagged = rs.scores[k] >= new
            truth = "defective" if rs.labels[k] else "normal"
            info = snap.sample(sid) if snap is not None else None
            where = f"pass {info.pass_index}" if info is not None else ""
            item = QListWidgetItem(
                f"sample {sid} ({rs.view}, {where}, {truth}, score {rs.scores[k]:.4g}): now "
                + ("flagged" if flagged else "passed")
            )
            item.setData(Qt.ItemDataRole.UserRole, sid)
            item.setForeground(self.colors.label_color("defective" if flagged else "good"))
            self.changed.addItem(item)
        self.changed_title.setText(f"Verdicts that just changed ({rs.view}: {old:.4g} → {new:.4g})")

    def _select(self, item: QListWidgetItem) -> None:
        self.model.select_sample(int(item.data(Qt.ItemDataRole.UserRole)))

    # --- policy --------------------------------------------------------------------------------------
    def policy(self) -> dict[str, Any]:
        """The thresholds as a stored policy (ThresholdPolicy.to_dict): image level, one value per view."""
        from workbench.metrics import ThresholdPolicy

        per_view = {self.data[r].view: float(row.value()) for r, row in self.rows.items()}
        runs = {self.data[r].view: r for r in self.rows}
        params: dict[str, Any] = {"runs": runs, "set_in": "gui", "split_shown": "test"}
        if len(runs) == 1:
            params["run"] = next(iter(runs.values()))  # eval refuses it for other runs' scores
        return ThresholdPolicy(
            threshold=max(per_view.values()), per_view=per_view, level="image", source="manual", params=params
        ).to_dict()

    def save_policy(self) -> None:
        """Store the policy under the name given (replacing one of that name; Edit ▸ Undo takes it back)."""
        name = self.name.text().strip()
        if not self.rows:
            self.message.setText("Nothing to save: train a model first.")
            return
        if not name:
            self.message.setText("Give the policy a name before saving it.")
            return
        new = self.policy()
        old = (self.model.snapshot.policies if self.model.snapshot else {}).get(name)

        def undo(p: Any) -> None:
            if old is None:
                p.remove_policy(name)
            else:
                p.set_policy(name, old)

        if self.undo is not None:
            self.undo.run(f"Save policy {name}", lambda p: p.set_policy(name, new), undo)
        else:
            self.model.edit(lambda p: p.set_policy(name, new), f"Save policy {name}")
        self.message.setText(f"Saved policy '{name}' (save the station to keep it).")
        self.policySaved.emit(name)
