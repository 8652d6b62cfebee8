"""The Thresholds pane: live TP/FP/TN/FN from the stored scores, the samples whose verdict changed, and a
saved policy (undoable) whose counts `workbench eval --policy NAME --json` reproduces exactly."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

N_EXTRA = 5  # extra test samples per view, so there are normals and defects to count


def add_scored_runs(path, model: str = "padim") -> dict[str, dict[int, float]]:
    """Give the station more test samples and one run per view with stored scores and maps on every
    sample (so nothing is predicted); returns {run id: {sample id: score}}."""
    from workbench.project import Project

    rng = np.random.default_rng(3)
    p = Project.open(path)
    base = p.samples()
    images, infos = [], []
    for k in range(N_EXTRA):
        for s in base[:2]:
            images.append(p.sample_image(s.id))
            infos.append(
                {
                    "source": s.source, "pass_index": 10 + k, "view": s.view, "frame": s.frame, "x": s.x,
                    "y": s.y, "split": "test", "label": "defective" if k % 2 else "good", "match_score": 0.9,
                }
            )  # fmt: skip
    p.add_samples(images, infos, [None] * len(images))
    out = {}
    for view in sorted(p.views):
        samples = p.samples(view=view)
        rid = p.add_run(model, view, {"backbone": "resnet18"}, {"w": np.zeros(3, np.float32)}, {"fit_s": 1.0})
        scores = rng.uniform(0, 10, len(samples)).astype(np.float32)
        maps = [rng.uniform(0, 10, (s.height, s.width)).astype(np.float32) for s in samples]
        p.add_result(rid, [s.id for s in samples], scores, maps, {"split": "all"})
        out[rid] = dict(zip([s.id for s in samples], p.result_scores(p.results(run_id=rid)[-1].id).tolist()))
    p.save()
    p.close()
    return out


@pytest.fixture
def scored(station):
    return station, add_scored_runs(station)


@pytest.fixture
def thresholds(window, scored, qtbot):
    path, _scores = scored
    window._close_confirmed = True
    window.open_project(str(path))
    qtbot.waitUntil(lambda: window.model.snapshot is not None, timeout=20000)
    window.show_pane("thresholds")
    pane = window.analysis_panes["thresholds"]
    qtbot.waitUntil(lambda: len(pane.rows) == 2, timeout=20000)
    return pane


def expected(scores: dict[int, float], labels: dict[int, bool], t: float) -> dict[str, int]:
    tp = sum(1 for s, v in scores.items() if v >= t and labels[s])
    fp = sum(1 for s, v in scores.items() if v >= t and not labels[s])
    return {
        "tp": tp,
        "fp": fp,
        "fn": sum(labels[s] for s in scores) - tp,
        "tn": sum(not labels[s] for s in scores) - fp,
    }


def test_one_slider_per_view_with_live_counts_of_the_test_split(window, thresholds, scored):
    _path, all_scores = scored
    snap = window.model.snapshot
    for rid, row in thresholds.rows.items():
        view = snap.runs[[r.id for r in snap.runs].index(rid)].view
        test = {s.id: s.label == "defective" for s in snap.samples if s.view == view and s.split == "test"}
        scores = {sid: all_scores[rid][sid] for sid in test}
        for t in (2.5, 5.0, 7.5):
            row.set_value(t)
            assert thresholds.counts(rid).as_dict() == expected(scores, test, t)
            c = thresholds.counts(rid)
            assert f"TP {c.tp} · FP {c.fp} · TN {c.tn} · FN {c.fn}" in row.counts.text()
    assert "All views" in thresholds.total.text()


def test_the_samples_whose_verdict_changed_are_listed(window, thresholds, scored):
    _path, all_scores = scored
    rid, row = next(iter(thresholds.rows.items()))
    row.set_value(0.0)
    thresholds._pressed(rid)  # a new drag starts here
    row.set_value(5.0)
    data = thresholds.data[rid]
    flipped = sorted(sid for sid in data.sample_ids if 0.0 <= all_scores[rid][sid] < 5.0)
    listed = sorted(
        thresholds.changed.item(i).data(0x0100) for i in range(thresholds.changed.count())
    )  # Qt.UserRole
    assert listed == flipped and flipped
    assert all("now passed" in thresholds.changed.item(i).text() for i in range(thresholds.changed.count()))


def test_saved_policy_counts_equal_workbench_eval_and_undo_removes_it(window, thresholds, scored, qtbot):
    path, _ = scored
    values = {}
    for k, (rid, row) in enumerate(thresholds.rows.items()):
        row.set_value(4.0 + k)
        values[rid] = thresholds.counts(rid).as_dict()
    thresholds.name.setText("line-a")
    thresholds.save_policy()
    qtbot.waitUntil(lambda: "line-a" in window.model.snapshot.policies, timeout=10000)
    stored = window.model.snapshot.policies["line-a"]
    assert stored["level"] == "image" and stored["source"] == "manual"
    window.undo.undo()
    qtbot.waitUntil(lambda: "line-a" not in window.model.snapshot.policies, timeout=10000)
    window.undo.redo()
    qtbot.waitUntil(lambda: "line-a" in window.model.snapshot.policies, timeout=10000)
    saved = []
    window.model.save(lambda: saved.append(True))
    qtbot.waitUntil(lambda: bool(saved), timeout=20000)

    out = subprocess.run(
        [sys.executable, "-m", "workbench", "eval", str(path), "--policy", "line-a", "--json", "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    records = {r["run"]: r["policy"] for r in json.loads(out.stdout)["runs"]}
    for rid, counts in values.items():
        assert {k: records[rid][k] for k in ("tp", "fp", "tn", "fn")} == counts
