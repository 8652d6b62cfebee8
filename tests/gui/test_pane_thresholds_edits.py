"""The Thresholds pane reads as a user expects: changed verdicts coloured by what they mean, one value at
one handle position in every zone of a run, moved thresholds kept across a scope switch, a histogram that
names its view and says its threshold, 95 % intervals on every rate, counts that open their samples,
the policies `workbench policy` writes, and nothing to touch without a station."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QColor
from test_pane_thresholds import (  # noqa: F401 - scored and thresholds are fixtures
    add_scored_runs,
    add_zones,
    open_thresholds,
    scored,
    thresholds,
)

from workbench.gui.widgets.threshold_row import plain


def test_a_missed_defect_is_red_and_a_new_false_alarm_amber(window, thresholds):  # noqa: F811
    (rid, region), row = next(iter(thresholds.rows.items()))
    d = thresholds.data[rid]
    lo, hi = float(d.scores.min()), float(d.scores.max())
    row.set_value(lo - 1)  # everything flagged
    thresholds._pressed((rid, region))
    row.set_value(hi + 1)  # nothing flagged: defects are missed, false alarms cleared
    colors = {
        thresholds.changed.item(i).text().split(":")[0]: thresholds.changed.item(i).foreground().color()
        for i in range(thresholds.changed.count())
    }
    assert colors["missed defect"] == QColor(window.colors.defective)
    assert colors["false alarm cleared"] == QColor(window.colors.good)
    thresholds._pressed((rid, region))
    row.set_value(lo - 1)  # back: normals become new false alarms, defects are caught
    colors = {
        thresholds.changed.item(i).text().split(":")[0]: thresholds.changed.item(i).foreground().color()
        for i in range(thresholds.changed.count())
    }
    assert colors["new false alarm"] == QColor(window.colors.warn)
    assert colors["defect caught"] == QColor(window.colors.good)
    assert window.colors.warn not in (window.colors.good, window.colors.defective)


def test_every_rate_has_its_95_percent_interval_and_the_histogram_names_its_view(thresholds):  # noqa: F811
    (rid, _region), row = next(iter(thresholds.rows.items()))
    text = plain(row.counts.text())
    c = thresholds.row_counts((rid, None))
    assert f"from {c.fp + c.tn} normals" in text and f"from {c.tp + c.fn} defects" in text
    assert text.count("at 95 %") == 3  # recall, FPR, precision
    view = thresholds.data[rid].view
    assert (
        f"view {view}" in thresholds.hist.plotItem.titleLabel.text
        and rid in thresholds.hist.plotItem.titleLabel.text
    )
    row.set_value(4.25)
    assert thresholds.hist.label.textItem.toPlainText() == "threshold 4.25"


def test_a_clicked_count_asks_for_exactly_the_samples_behind_it(thresholds, qtbot):  # noqa: F811
    (rid, region), row = next(iter(thresholds.rows.items()))
    row.set_value(5.0)
    d = thresholds.data[rid]
    want = sorted(int(s) for s, v, y in zip(d.sample_ids, d.scores, d.labels) if v >= 5.0 and not y)
    with qtbot.waitSignal(thresholds.samplesRequested) as got:
        row.counts.linkActivated.emit("fp")
    runs, ids, title = got.args
    assert runs == [rid] and sorted(ids) == want and title.startswith("FP: false alarms")


@pytest.fixture
def zoned(window, station, qtbot):
    add_scored_runs(station)
    add_zones(station)
    return open_thresholds(window, station, qtbot)


def test_in_zone_mode_one_value_stands_at_one_handle_position(zoned, qtbot):
    zoned.set_scope("zone")
    qtbot.waitUntil(lambda: zoned.scope == "zone" and len(zoned.rows) == 6 and not zoned.busy, timeout=30000)
    for rid in zoned.data:
        rows = [r for (run, _z), r in zoned.rows.items() if run == rid]
        for r in rows:
            r.set_value(5.0)
        assert len({r.handle_position() for r in rows}) == 1
        assert len({(r.lo, r.hi) for r in rows}) == 1


def test_a_scope_switch_keeps_the_moved_thresholds(zoned, qtbot):
    moved = {}
    for k, (key, row) in enumerate(zoned.rows.items()):
        row.set_value(3.0 + k)
        moved[key] = row.value()
    assert "moved, not saved" in zoned.edited.text()
    zoned.set_scope("zone")
    qtbot.waitUntil(lambda: zoned.scope == "zone" and len(zoned.rows) == 6 and not zoned.busy, timeout=30000)
    zoned.set_scope("view")
    qtbot.waitUntil(lambda: zoned.scope == "view" and len(zoned.rows) == 2 and not zoned.busy, timeout=30000)
    assert {k: r.value() for k, r in zoned.rows.items()} == moved
    assert "kept" in zoned.message.text()


def test_the_policies_workbench_policy_writes_start_the_sliders(window, station, qtbot):
    from workbench.metrics import ThresholdPolicy
    from workbench.project import Project

    add_scored_runs(station)
    with Project.open(station) as p:  # what `workbench policy P --run RUN` stores: one run each
        for k, run in enumerate(p.runs):
            pol = ThresholdPolicy(threshold=2.0 + k, per_view={run.view: 2.0 + k}, source="f1")
            pol.params.update(run=run.id, view=run.view, fitted_on="val", n_val=9, cli_source="f1")
            p.set_policy(f"{run.id}-f1", pol.to_dict())
        runs = {r.id: r.view for r in p.runs}
        p.save()
    pane = open_thresholds(window, station, qtbot)
    for k, rid in enumerate(runs):
        assert pane.rows[(rid, None)].value() == pytest.approx(2.0 + k)
        assert pane.sources[rid] == f"{rid}-f1"
    assert "Started from the policy" in pane.message.text()
    names = [pane.policy_combo.itemData(i) for i in range(pane.policy_combo.count())]
    assert {f"{rid}-f1" for rid in runs} <= set(names)
    first = next(iter(runs))
    pane.choose_policy(f"{first}-f1")  # one policy alone: the other run starts from F1-best
    qtbot.waitUntil(lambda: not pane.busy and bool(pane.rows), timeout=20000)
    assert pane.sources == {first: f"{first}-f1"}


def test_a_policy_resting_on_fewer_than_20_normals_is_flagged(window, station, qtbot):
    """Issue 20: the pane says how many normals each policy's threshold rests on, flags fewer than 20 in
    amber, and counts the test normals behind a policy saved here."""
    from workbench.metrics import ThresholdPolicy
    from workbench.project import Project

    add_scored_runs(station)
    with Project.open(station) as p:
        runs = {r.id: r.view for r in p.runs}
        for (rid, view), n in zip(runs.items(), (6, 25)):
            pol = ThresholdPolicy(threshold=2.0, per_view={view: 2.0}, source="false_alarm_rate")
            pol.params.update(
                run=rid, view=view, fitted_on="val", n_val=n + 3, n_normals=n, cli_source="false_alarm_rate"
            )
            p.set_policy(f"{rid}-far", pol.to_dict())
        test_normals = {
            v: sum(not s.synthetic for s in p.samples(view=v, split="test", label="good"))
            for v in runs.values()
        }
        p.save()
    pane = open_thresholds(window, station, qtbot)
    (small_run, small_view), (big_run, big_view) = runs.items()
    text = pane.basis.text()
    assert pane.basis.isVisible() and pane.basis.property("small") is True
    assert f"'{small_run}-far' rests on validation normals: {small_view} 6 ⚠" in text
    assert f"'{big_run}-far' rests on validation normals: {big_view} 25" in text
    assert f"{big_view} 25 ⚠" not in text  # 25 normals are enough
    assert "small validation: a threshold set on fewer than 20 normals" in text
    assert window.colors.warn in pane.basis.styleSheet()

    pane.choose_policy(f"{big_run}-far")  # only the well-founded policy: no flag
    qtbot.waitUntil(lambda: not pane.busy and bool(pane.rows), timeout=20000)
    assert "small validation" not in pane.basis.text() and pane.basis.property("small") is False

    pane.name.setText("by-hand")  # a policy set here rests on the test normals it was set on
    pane.save_policy()
    qtbot.waitUntil(lambda: "'by-hand' rests on test normals" in pane.basis.text(), timeout=10000)
    for view, n in sorted(test_normals.items()):
        assert f"{view} {n}" in pane.basis.text()
    assert pane.basis.property("small") is (min(test_normals.values()) < 20)


def test_without_a_station_nothing_can_be_touched_and_no_axis_is_drawn(window):
    pane = window.analysis_panes["thresholds"]
    assert not pane.save_button.isEnabled() and not pane.name.isEnabled()
    assert not pane.group_combo.isEnabled() and not pane.scope_combo.isEnabled()
    assert pane.hist_stack.currentWidget() is pane.no_hist
    assert np.size(pane.hist.normals.getData()[0] or []) == 0


def test_the_report_and_compare_use_the_policy_just_saved(window, thresholds, qtbot):  # noqa: F811
    for k, row in enumerate(thresholds.rows.values()):
        row.set_value(3.0 + k)
    thresholds.name.setText("line-b")
    thresholds.save_policy()
    qtbot.waitUntil(lambda: "line-b" in window.model.snapshot.policies, timeout=10000)
    report = window.analysis_panes["report"]
    qtbot.waitUntil(lambda: report.policy.currentText() == "line-b", timeout=10000)
    assert window.analysis_panes["compare"].policy_combo.currentData() == "line-b"
