"""The live side of the Thresholds pane: every slider move recounts its row, its run and all views,
redraws the histogram, lists the verdicts that changed and opens the samples behind a clicked count.

A mixin of :class:`~workbench.gui.panes.thresholds_pane.ThresholdsPane`, which owns the rows
(``rows``, ``heads``, ``data``, ``reference``, ``started``, ``kept``, ``focus``) and the widgets.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer

from workbench.gui.panes.threshold_data import ZONE, Key, count_members, region_title
from workbench.gui.runs import sig
from workbench.gui.widgets.threshold_row import counts_html, counts_text, readable

COUNT_NAMES = {"tp": "caught defects", "fp": "false alarms", "tn": "passed normals", "fn": "missed defects"}


class LiveCounts:
    def thresholds(self, run_id: str) -> list[float]:
        """The thresholds of one run's rows, in the order of its regions."""
        return [self.rows[(run_id, region)].value() for region in self.data[run_id].regions]

    def counts(self, run_id: str):
        """The sample-level Counts of one run at its rows' thresholds (what ``workbench eval`` counts)."""
        return self.data[run_id].counts(self.thresholds(run_id))

    def row_counts(self, key: Key):
        """The Counts shown on one row: the run's samples (per view) or the zone's own (per zone)."""
        rid, region = key
        return self.data[rid].region_counts(region, self.rows[key].value())

    def _pressed(self, key: Key) -> None:
        self.reference[key] = self.rows[key].value()

    def _moved(self, key: Key, value: float) -> None:
        self._update_row(key)
        self._update_head(key[0])
        self._update_total()
        ids = tuple(self.run_ids())
        self.kept[(ids, self.scope)] = {k: r.value() for k, r in self.rows.items()}
        self._update_edited()
        if self.focus != key:
            self.focus = key
            self._show_histogram()
            QTimer.singleShot(0, lambda k=key: self._keep_in_sight(k))  # once the rows are laid out
        self.hist.set_threshold(value)
        self._show_changed(key)

    def _update_edited(self) -> None:
        moved = any(abs(r.value() - self.started.get(k, r.value())) > 0 for k, r in self.rows.items())
        self.edited.setText("● moved, not saved" if moved else "")
        self.edited.setStyleSheet(f"color: {self.colors.warn};" if moved else "")

    def _keep_in_sight(self, key: Key) -> None:
        """Scroll the row the histogram shows into view."""
        if key in self.rows:
            self.rows_scroll.ensureWidgetVisible(self.rows[key])

    def _from_line(self, value: float) -> None:
        if self.focus in self.rows:
            self.rows[self.focus].set_value(value)

    def _update_row(self, key: Key) -> None:
        self.rows[key].counts.setText(counts_html(self.row_counts(key), self.colors.box))

    def _update_head(self, rid: str) -> None:
        if rid in self.heads:
            d = self.data[rid]
            text = counts_html(self.counts(rid), self.colors.box)
            self.heads[rid].setText(f"<b>{d.view} · {rid}</b>, samples: {text}")

    def _update_total(self) -> None:
        if len(self.data) < 2:
            self.total.setText("")
            return
        from workbench.metrics.recount import Counts

        cs = [self.counts(r) for r in self.data]
        total = Counts(*(sum(getattr(c, k) for c in cs) for k in ("tp", "fp", "tn", "fn")))
        self.total.setText(f"<b>All views</b>: {readable(counts_text(total))}")

    def _open_counts(self, key: Key, which: str, whole: bool = False) -> None:
        """Show the samples behind one count in the Compare step's grid."""
        rid, region = key
        d = self.data.get(rid)
        if d is None:
            return
        ids = count_members(d, region, self.thresholds(rid), which, whole=whole)
        where = (
            d.view if region is None or whole else f"{d.view}, zone {region_title(region, len(d.regions))}"
        )
        t = "thresholds" if whole and self.scope == ZONE else f"threshold {sig(self.rows[key].value())}"
        self.samplesRequested.emit(
            [rid], ids, f"{which.upper()}: {COUNT_NAMES[which]} of {rid} ({where}) at {t}"
        )

    def _show_histogram(self) -> None:
        if self.focus is None:
            return
        rid, region = self.focus
        d = self.data[rid]
        values = d.peaks(region)
        self.hist.set_scores(values[~d.labels], values[d.defects_in(region)])
        where = d.view if region is None else f"{d.view} · zone {region_title(region, len(d.regions))}"
        self.hist.set_caption(f"view {where} · {rid}")
        self.hist.setLabel("bottom", d.axis)
        self.hist.set_threshold(self.rows[self.focus].value())

    def _show_changed(self, key: Key) -> None:
        rid, region = key
        d = self.data[rid]
        old, new = self.reference[key], self.rows[key].value()
        flips = d.flips(region, self.thresholds(rid), old)
        self.changed.show_flips(d, flips, self.model.snapshot, old != new)
        scope = d.view if region is None else f"{d.view}/{region_title(region, len(d.regions))}"
        self.changed_title.setText(
            f"Verdicts that just changed ({scope}: {sig(old)} → {sig(new)}) — "
            f"<span style='color:{self.colors.defective}'>missed defects</span>, "
            f"<span style='color:{self.colors.warn}'>new false alarms</span>, "
            f"<span style='color:{self.colors.good}'>fixed</span>"
        )

    def _select(self, item) -> None:
        sid = item.data(Qt.ItemDataRole.UserRole)
        if sid is not None:
            self.model.select_sample(int(sid))
