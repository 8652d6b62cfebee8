"""The demo station opens from the start page with PatchCore and PaDiM trained on every view, a threshold
policy made for them, and a test split of at least 30 samples per view with real and synthetic defects,
so Compare and Thresholds have something to say on the first look."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_the_ready_demo_has_trained_runs_a_policy_and_a_real_test_split(ready_demo):
    from workbench.jobs.demo_recipe import ready_demo as is_ready
    from workbench.jobs.evaluate_policy import policy_runs
    from workbench.metrics.intervals import MIN_EXPORT_NORMALS
    from workbench.project import Project

    station = is_ready(ready_demo)
    assert station is not None
    with Project.open(station) as p:
        views = sorted(p.views)
        runs = p.runs
        assert {(r.model, r.view) for r in runs} == {(m, v) for m in ("patchcore", "padim") for v in views}
        test = [s for s in p.samples() if s.split == "test"]
        per_view = Counter(s.view for s in test)
        assert all(per_view[v] >= 30 for v in views), per_view
        for v in views:
            mine = [s for s in test if s.view == v]
            assert any(s.label == "defective" and not s.synthetic for s in mine), f"{v}: no real defect"
            assert any(s.synthetic for s in mine), f"{v}: no synthetic defect"
            assert sum(s.label == "good" for s in mine) >= 10
            val_normals = [s for s in p.samples(view=v, split="val", label="good") if not s.synthetic]
            assert len(val_normals) >= MIN_EXPORT_NORMALS  # export takes the demo's policy as it is
        assert not [s for s in p.samples() if s.split == "train" and (s.synthetic or s.label != "good")]
        for r in runs:  # every run scored its whole test split: Thresholds and Compare read them
            scored = {i for res in p.results(run_id=r.id) for i in res.sample_ids}
            assert {s.id for s in test if s.view == r.view} <= scored
        (name,) = p.policies
        covers = policy_runs(p.policies[name], {r.id: r.view for r in runs})
        assert covers == {r.view: r.id for r in runs if r.model == "patchcore"}


def test_open_the_demo_station_from_the_start_page(window, ready_demo, tmp_path, qtbot, monkeypatch):
    demo = tmp_path / "demo"
    shutil.copytree(ready_demo, demo, ignore=shutil.ignore_patterns("*.lock"))
    monkeypatch.setenv("WORKBENCH_DEMO_DIR", str(demo))
    assert window.workspace.current == "start"
    qtbot.mouseClick(
        window.start_page.demo_button, __import__("PySide6.QtCore").QtCore.Qt.MouseButton.LeftButton
    )
    qtbot.waitUntil(lambda: window.model.snapshot is not None and window.is_ready(), timeout=60000)
    assert window.workspace.current == "station"
    snap = window.model.snapshot
    assert len(snap.runs) >= 2 and snap.policies
    window.show_pane("thresholds")
    pane = window.analysis_panes["thresholds"]
    qtbot.waitUntil(lambda: bool(pane.rows) and not pane.busy, timeout=60000)
    assert len(pane.rows) == 3 and sum(pane.counts(rid).tp + pane.counts(rid).fn for rid in pane.data) >= 9
    assert window.settings.recent_projects()[0] == str((demo / "station.awb").resolve())
