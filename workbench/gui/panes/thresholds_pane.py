"""Set the thresholds of a training (its runs, one per view) with live TP / FP / TN / FN and rates (each
with its 95 % interval) on the test split, the score histogram with the threshold line, the samples whose
verdict just changed, and save them as a threshold policy (undoable) that ``workbench eval --policy
NAME`` counts the same way and ``workbench export`` ships.

The sliders start from the station's policies — those ``workbench policy`` writes (one run each) as
well as those saved here (a run per view) — or from the F1-best threshold on the test split when no
policy fits. Two scopes: one threshold per view on the image score (an image-level policy), or one per
named zone of each view on the anomaly map (a pixel-level policy: a sample is flagged when a pixel of
its ROI reaches the threshold of its zone). Moved thresholds are kept per training and scope while
the user looks elsewhere. The scores, or each map's highest value per zone, are read once on the I/O
thread; every slider move is then a few comparisons, so the counts follow the slider.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.panes.pane import Pane
from workbench.gui.panes.threshold_data import (
    REST,
    VIEW,
    ZONE,
    Key,
    basis_text,
    fitting_policies,
    has_zones,
    load_scores,
    load_zones,
    policy_basis,
    policy_dict,
    region_title,
    run_groups,
    score_range,
    start_values,
    starting_threshold,
)
from workbench.gui.panes.threshold_live import LiveCounts
from workbench.gui.runs import stale_runs
from workbench.gui.station_model import Snapshot, StationModel
from workbench.gui.theme import DARK, Colors
from workbench.gui.widgets.boxes import choice_box, column, form, panel, row, text_label
from workbench.gui.widgets.changed_list import ChangedList
from workbench.gui.widgets.score_histogram import ScoreHistogram
from workbench.gui.widgets.threshold_row import ThresholdRow

SCOPES = {VIEW: "view (image score)", ZONE: "zone (highest map value in the zone)"}
NEWEST = "__newest__"  # the policy box's first entry: the newest policy made for each run
ZONE_ROW_TIP = (
    "Counts in this zone alone: its defects are the defective samples with GT pixels in the zone, "
    "its normals every normal sample. Click a count to see the samples behind it."
)


class ThresholdsPane(LiveCounts, Pane):
    """``policySaved(name)`` once a policy is in the project; ``policyChosen(name)`` when the sliders
    stand for one stored policy (loaded or saved); ``samplesRequested(run ids, sample ids, title)``
    when a count is clicked."""

    policySaved = Signal(str)
    policyChosen = Signal(str)
    samplesRequested = Signal(list, list, str)

    def __init__(self, model: StationModel, undo: Any, parent=None, colors: Colors = DARK):
        super().__init__(model, parent, colors)
        self.undo = undo
        self.groups: list[list] = []
        self.scope = VIEW
        self.data: dict[str, Any] = {}  # run id -> RunScores (scope view) or RunZones (scope zone)
        self.rows: dict[Key, ThresholdRow] = {}
        self.heads: dict[str, QLabel] = {}  # run id -> its sample-level counts (scope zone)
        self.reference: dict[Key, float] = {}  # threshold before the current change
        self.started: dict[Key, float] = {}  # what the sliders started from (a policy or F1-best)
        self.kept: dict[tuple[tuple[str, ...], str], dict[Key, float]] = {}  # moved, not saved
        self.sources: dict[str, str] = {}  # run id -> the policy its row started from
        self.focus: Key | None = None
        self._loading = False
        self._stale = False  # the training or scope changed while the pane was hidden: read when shown
        self.setMinimumWidth(30 * self.fontMetrics().horizontalAdvance("M"))

        self.group_combo = QComboBox(self)
        self.group_combo.setPlaceholderText("No trained run yet")
        self.group_combo.currentIndexChanged.connect(self._on_group)
        self.scope_combo = choice_box(
            self,
            SCOPES,
            "Per zone: a pixel-level policy with one threshold for each zone painted in the Views step",
        )
        self.scope_combo.currentIndexChanged.connect(
            lambda _i: self._load(scope=self.scope_combo.currentData())
        )
        self.policy_combo = QComboBox(self)
        self.policy_combo.setToolTip(
            "Where the sliders start: a policy of the station (from `workbench policy` or saved here)"
        )
        self.policy_combo.activated.connect(lambda _i: self._load(policy_chosen=True))
        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        self.basis = QLabel("", self)  # how many normals the policy rests on, flagged below 20
        self.basis.setWordWrap(True)
        self.basis.setToolTip(
            "A threshold set on few normal samples gives an uncertain false-alarm rate on the line: "
            "fewer than 20 are flagged (issue 20); export refuses fewer than 5 unless told otherwise"
        )
        self.basis.setVisible(False)
        self.rows_box = QWidget(self)
        self.rows_layout = QVBoxLayout(self.rows_box)
        self.rows_layout.setContentsMargins(0, 0, 4, 0)
        self.rows_layout.addStretch(1)
        self.rows_scroll = QScrollArea(self)
        self.rows_scroll.setWidgetResizable(True)
        self.rows_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.rows_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.rows_scroll.setWidget(self.rows_box)
        self.total = text_label(self, selectable=True)
        self.hist = ScoreHistogram(self, colors)
        self.hist.thresholdDragged.connect(self._from_line)
        self.no_hist = text_label(self, "The scores of the chosen runs appear here as two histograms.")
        self.no_hist.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hist_stack = QStackedWidget(self)
        self.hist_stack.addWidget(self.no_hist)
        self.hist_stack.addWidget(self.hist)
        self.changed_title = QLabel("Verdicts that just changed", self)
        self.changed = ChangedList(self, colors)
        self.changed.itemActivated.connect(self._select)
        self.changed.itemClicked.connect(self._select)
        self.name = QLineEdit(self)
        self.name.setPlaceholderText("policy name")
        self.edited = QLabel("", self)
        self.save_button = QPushButton("Save as policy", self)
        self.save_button.clicked.connect(self.save_policy)

        scope = row((self.scope_combo, 1), QLabel("Start from", self), (self.policy_combo, 1))
        choices = form(("Runs", self.group_combo), ("Threshold per", scope))
        save = row(self.edited, (self.name, 1), self.save_button)
        upper = panel(self, (self.rows_scroll, 1), self.total)
        lower = panel(self, self.changed_title, self.changed)
        split = self.split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(upper)
        split.addWidget(self.hist_stack)
        split.addWidget(lower)
        split.setChildrenCollapsible(False)
        column(choices, self.message, self.basis, (split, 1), save, parent=self)

        model.opened.connect(self._on_opened)
        model.changed.connect(self._on_snapshot)
        model.closed.connect(lambda: self._on_opened(None))
        self._on_opened(model.snapshot)

    def set_colors(self, colors: Colors) -> None:
        super().set_colors(colors)
        self.hist.set_colors(colors)
        self.changed.colors = colors

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._stale:
            self._load()
        QTimer.singleShot(0, self._share_height)  # once the page has its size

    def _share_height(self) -> None:
        """The sliders get the room they need, up to half the pane; the histogram two thirds of the rest."""
        h = self.fontMetrics().height()
        total = self.split.height()
        if total < 12 * h:
            return  # not laid out yet
        self.rows_layout.activate()
        need = self.rows_box.sizeHint().height() + self.total.sizeHint().height() + h
        rows = max(min(need, total // 2), 6 * h)
        rest = total - rows
        self.split.setSizes([rows, rest * 2 // 3, rest - rest * 2 // 3])

    def _update_enabled(self) -> None:
        has_rows = bool(self.rows)
        has_runs = bool(self.groups)
        for w in (self.group_combo, self.scope_combo, self.policy_combo):
            w.setEnabled(has_runs and not self._loading)
        self.name.setEnabled(has_rows)
        self.save_button.setEnabled(has_rows)
        self.hist_stack.setCurrentWidget(self.hist if has_rows else self.no_hist)

    # --- which runs -------------------------------------------------------------------------------
    def _on_opened(self, snap: Snapshot | None) -> None:
        self.kept = {}
        self.groups = []
        self._on_snapshot(snap)

    def _on_snapshot(self, snap: Snapshot | None) -> None:
        groups = run_groups(snap.runs) if snap is not None else []
        keys = [[r.id for r in g] for g in groups]
        if keys == [[r.id for r in g] for g in self.groups] and snap is not None:
            return  # an edit elsewhere (a saved policy, a label) keeps the sliders where they are
        before = [[r.id for r in g] for g in self.groups]
        added = [k for k in keys if k not in before]
        # a training just finished (or a station opened): the newest training's thresholds come first
        current = added[-1] if added else self.run_ids()
        self.groups = groups
        self.group_combo.blockSignals(True)
        self.group_combo.clear()
        stale = stale_runs(snap)
        for g in groups:
            mark = " ⚠ stale: trained on an older train split" if any(r.id in stale for r in g) else ""
            self.group_combo.addItem(f"{g[0].model}: " + ", ".join(f"{r.id} ({r.view})" for r in g) + mark)
        self.group_combo.blockSignals(False)
        index = keys.index(current) if current in keys else len(groups) - 1
        if index >= 0:
            self.group_combo.setCurrentIndex(index)
        self._on_group()

    def run_ids(self) -> list[str]:
        i = self.group_combo.currentIndex()
        return [r.id for r in self.groups[i]] if 0 <= i < len(self.groups) else []

    def run_views(self) -> dict[str, str]:
        i = self.group_combo.currentIndex()
        return {r.id: r.view for r in self.groups[i]} if 0 <= i < len(self.groups) else {}

    def select_runs(self, run_ids: list[str]) -> None:
        """Show the training that holds these runs."""
        for i, g in enumerate(self.groups):
            if set(run_ids) <= {r.id for r in g}:
                self.group_combo.setCurrentIndex(i)
                return

    def set_scope(self, scope: str) -> None:
        """Show one threshold per view (``"view"``) or per zone (``"zone"``)."""
        self.scope_combo.setCurrentIndex(self.scope_combo.findData(scope))

    def choose_policy(self, name: str | None) -> None:
        """Start the sliders from the stored policy ``name`` (None: the newest policy of each run)."""
        i = self.policy_combo.findData(name or NEWEST)
        if i >= 0:
            self.policy_combo.setCurrentIndex(i)
            self._load(policy_chosen=True)

    def _on_group(self) -> None:
        """A training chosen: its zones decide whether 'per zone' is offered, its policies the scope."""
        snap, ids = self.model.snapshot, self.run_ids()
        zoned = snap is not None and has_zones(snap.views, [r.view for r in snap.runs if r.id in ids])
        self.scope_combo.model().item(self.scope_combo.findData(ZONE)).setEnabled(zoned)
        self.policy_combo.clear()
        self._load(scope=None)

    def _load(self, scope: str | None = "", policy_chosen: bool = False) -> None:
        """Read the chosen training's scores or maps (once the pane is on screen: a hidden pane reads
        nothing, so opening a station stays quick). ``scope`` None: the scope of its policies."""
        if scope == "":  # as it is, unless nothing is shown yet or a policy was picked (its own scope)
            scope = self.scope_combo.currentData() if self.rows and not policy_chosen else None
        self._clear_rows()
        ids = self.run_ids()
        self._update_enabled()
        if not ids:
            self.message.setText(
                "Train a model first: its thresholds are set here."
                if self.model.snapshot
                else "Open a station first."
            )
            return
        self._stale = not self.isVisible()
        if self._stale:
            return
        snap = self.model.snapshot
        runs, policies = self.run_views(), dict(snap.policies)
        picked = self.policy_combo.currentData() if policy_chosen else None
        name = None if picked in (None, NEWEST) else picked
        if policy_chosen:  # the user asked for the policy's values: moved ones give way
            for sc in (VIEW, ZONE):
                self.kept.pop((tuple(ids), sc), None)
        zoned = has_zones(snap.views, list(runs.values()))
        self._loading = True
        self._update_enabled()
        self.message.setText("Reading the scores …")

        def read(p: Any) -> tuple:
            have, values, source = start_values(policies, runs, name)
            want = scope or (have if have == VIEW or zoned else VIEW) or VIEW
            if have != want:
                values, source = {}, {}
            data = (load_zones if want == ZONE else load_scores)(p, ids)
            basis = policy_basis(p, policies, source, runs)
            return want, data, values, source, fitting_policies(policies, runs), basis

        self.model.call(read, lambda out: self._on_loaded(ids, name, *out), self._on_error)

    def _on_error(self, exc: BaseException) -> None:
        self._loading = False
        self._update_enabled()
        self.message.setText(str(exc))

    def _fill_policy_combo(self, names: list[str], name: str | None) -> None:
        self.policy_combo.blockSignals(True)
        self.policy_combo.clear()
        if names:
            self.policy_combo.addItem("the newest policy of each run", NEWEST)
        for n in names:
            self.policy_combo.addItem(n, n)
        if not names:
            self.policy_combo.addItem("no policy yet: best F1 on the test split", NEWEST)
        self.policy_combo.setCurrentIndex(max(0, self.policy_combo.findData(name or NEWEST)))
        self.policy_combo.blockSignals(False)

    def _show_basis(self, basis: dict) -> None:
        """Say what each policy's threshold rests on; amber when fewer than 20 normals."""
        text, small = basis_text(basis)
        self.basis.setText(text)
        self.basis.setVisible(bool(text))
        self.basis.setProperty("small", small)
        self.basis.setStyleSheet(f"color: {self.colors.warn};" if small else "")

    def _on_loaded(
        self,
        ids: list[str],
        name: str | None,
        scope: str,
        data: dict,
        saved: dict,
        source: dict,
        names: list,
        basis: dict,
    ) -> None:
        self._loading = False
        if ids != self.run_ids():
            self._update_enabled()
            return  # another training was chosen meanwhile
        self._clear_rows()
        self.scope, self.data, self.sources = scope, data, source
        self.scope_combo.blockSignals(True)
        self.set_scope(scope)
        self.scope_combo.blockSignals(False)
        self._fill_policy_combo(names, name)
        kept = self.kept.get((tuple(ids), scope), {})
        self.message.setText(self._explain(scope, source, bool(kept)))
        self._show_basis(basis)
        em = self.fontMetrics().horizontalAdvance("M")
        for rid in ids:
            d = data[rid]
            start = starting_threshold(d)
            lo, hi = score_range(d)  # one range for every row of the run
            pad = 0.05 * (hi - lo or 1.0)
            if scope == ZONE:
                head = QLabel(self.rows_box)
                head.setTextInteractionFlags(
                    Qt.TextInteractionFlag.TextSelectableByMouse
                    | Qt.TextInteractionFlag.LinksAccessibleByMouse
                )
                head.linkActivated.connect(
                    lambda which, r=rid: self._open_counts((r, None), which, whole=True)
                )
                head.setWordWrap(True)
                self._add_row_widget(head)
                self.heads[rid] = head
            for region in d.regions:
                key = (rid, region)
                first = saved.get(key, saved.get((rid, REST), start))
                value = kept.get(key, first)
                title = f"{d.view} · {rid}" if region is None else region_title(region, len(d.regions))
                row = ThresholdRow(title, min(lo - pad, value), max(hi + pad, value), value, self.rows_box)
                if region is not None:
                    row.counts.setToolTip(ZONE_ROW_TIP)
                    row.setContentsMargins(2 * em, 0, 0, 0)
                row.moved.connect(lambda v, k=key: self._moved(k, v))
                row.pressed.connect(lambda k=key: self._pressed(k))
                row.countClicked.connect(lambda which, k=key: self._open_counts(k, which))
                self._add_row_widget(row)
                self.rows[key] = row
                self.reference[key] = value
                self.started[key] = first
                self._update_row(key)
            self._update_head(rid)
        width = max((r.title.sizeHint().width() for r in self.rows.values()), default=0)
        for r in self.rows.values():
            r.title.setMinimumWidth(width)  # every slider starts at the same x
        self.focus = next(iter(self.rows), None)
        self._show_histogram()
        self._update_total()
        self._update_edited()
        self._update_enabled()
        QTimer.singleShot(0, self._share_height)
        from_one = set(source.values())
        model = self.groups[self.group_combo.currentIndex()][0].model
        if len(from_one) == 1 and len(source) == len(ids):
            self.name.setText(from_one.pop())
            self.policyChosen.emit(self.name.text())
        else:
            self.name.setText(f"{model}-{'-'.join(ids)}-{'zones' if scope == ZONE else 'manual'}")

    def _explain(self, scope: str, source: dict[str, str], kept: bool) -> str:
        rule = (
            "Test split; a sample is flagged when its score is at or above the threshold."
            if scope == VIEW
            else "Test split; a sample is flagged when a pixel of its ROI reaches the threshold of its zone. "
            "The line under each run counts its samples; each zone's counts its own defects and every normal."
        )
        names = sorted(set(source.values()))
        if names:
            start = "Started from the policy " + ", ".join(f"'{n}'" for n in names)
            missing = [rid for rid in self.run_ids() if rid not in source]
            if missing:
                start += f"; {', '.join(missing)} from the F1-best threshold (no policy fits)"
        else:
            start = "No policy fits these runs: started from the F1-best threshold on the test split"
        if kept:
            start += ". The thresholds you moved are kept while you look elsewhere (not saved yet)"
        return f"{rule} {start}."

    def _add_row_widget(self, w: QWidget) -> None:
        self.rows_layout.insertWidget(self.rows_layout.count() - 1, w)  # above the closing stretch

    def _clear_rows(self) -> None:
        for w in [*self.rows.values(), *self.heads.values()]:
            w.setParent(None)
            w.deleteLater()
        self.rows, self.heads, self.reference, self.data, self.started = {}, {}, {}, {}, {}
        self.focus = None
        self.changed.clear()
        self.total.setText("")
        self.edited.setText("")
        self.hist.clear_scores()
        self._show_basis({})

    # --- policy --------------------------------------------------------------------------------------
    def policy(self) -> dict[str, Any]:
        """The thresholds as a stored policy (ThresholdPolicy.to_dict): image level with one value per
        view, or pixel level with one value per zone; it names its run per view, as export reads it."""
        values = {key: row.value() for key, row in self.rows.items()}
        return policy_dict(self.scope, values, {rid: d.view for rid, d in self.data.items()})

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
        self.kept.pop((tuple(self.run_ids()), self.scope), None)
        self.started = {k: r.value() for k, r in self.rows.items()}
        self.sources = {rid: name for rid in self.data}
        self._update_edited()
        self.message.setText(f"Saved policy '{name}' (save the station to keep it).")
        views = {rid: d.view for rid, d in self.data.items()}
        sources = dict(self.sources)
        self.model.call(
            lambda p: policy_basis(p, {name: new}, sources, views), self._show_basis, lambda _e: None
        )
        self.policySaved.emit(name)
        self.policyChosen.emit(name)
