"""The Thresholds pane: live TP/FP/TN/FN from the stored scores (per view) or maps (per zone), the samples
whose verdict changed, and a saved policy (undoable) whose counts `workbench eval --policy NAME --json`
reproduces exactly."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from workbench.gui.widgets.threshold_row import plain, shown_text

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
    for (rid, _region), row in thresholds.rows.items():
        view = snap.runs[[r.id for r in snap.runs].index(rid)].view
        test = {s.id: s.label == "defective" for s in snap.samples if s.view == view and s.split == "test"}
        scores = {sid: all_scores[rid][sid] for sid in test}
        for t in (2.5, 5.0, 7.5):
            row.set_value(t)
            assert thresholds.counts(rid).as_dict() == expected(scores, test, t)
            c = thresholds.counts(rid)
            assert plain(row.counts.text()) == shown_text(thresholds.row_counts((rid, _region)))
            assert f"TP {c.tp} · FP {c.fp} · TN {c.tn} · FN {c.fn}" in plain(row.counts.text())
    assert "All views" in thresholds.total.text()


def test_the_samples_whose_verdict_changed_are_listed(window, thresholds, scored):
    _path, all_scores = scored
    (rid, region), row = next(iter(thresholds.rows.items()))
    row.set_value(0.0)
    thresholds._pressed((rid, region))  # a new drag starts here
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
    for k, ((rid, _region), row) in enumerate(thresholds.rows.items()):
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

    records = eval_policy_counts(path, "line-a")
    for rid, counts in values.items():
        assert records[rid] == counts


def eval_policy_counts(path, name: str) -> dict[str, dict[str, int]]:
    """{run id: TP/FP/TN/FN} of `workbench eval --policy NAME --json` on the saved station."""
    out = subprocess.run(
        [sys.executable, "-m", "workbench", "eval", str(path), "--policy", name, "--json", "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    records = {r["run"]: r["policy"] for r in json.loads(out.stdout)["runs"]}
    return {rid: {k: rec[k] for k in ("tp", "fp", "tn", "fn")} for rid, rec in records.items()}


def add_zones(path) -> None:
    """Zones 'left' and 'right' on both views of the test station; part of the ROI stays outside them."""
    from workbench.gui.panes.view_geometry import edited
    from workbench.project import Project

    with Project.open(path) as p:
        for view in list(p.views.values()):
            zones = np.zeros((view.crop.h, view.crop.w), np.uint8)
            zones[:, :32], zones[:, 32:48] = 1, 2
            p.set_view(edited(view, zones=zones, zone_names=["left", "right"]))
        p.save()


def open_thresholds(window, path, qtbot, rows: int = 2):
    """Open the station at ``path`` and the Thresholds step, once its ``rows`` sliders are there."""
    window._close_confirmed = True
    window.open_project(str(path))
    qtbot.waitUntil(lambda: window.model.snapshot is not None, timeout=20000)
    window.show_pane("thresholds")
    pane = window.analysis_panes["thresholds"]
    qtbot.waitUntil(lambda: len(pane.rows) == rows and not pane.busy, timeout=20000)
    return pane


def test_zone_sliders_count_like_workbench_eval_for_the_saved_zone_policy(window, station, qtbot):
    from workbench.core.masks import roi_for
    from workbench.project import Project

    add_scored_runs(station)
    add_zones(station)
    pane = open_thresholds(window, station, qtbot)
    pane.set_scope("zone")
    qtbot.waitUntil(lambda: len(pane.rows) == 2 * 3 and not pane.busy, timeout=20000)
    assert sorted({region for _rid, region in pane.rows}) == ["", "left", "right"]
    assert "outside the zones" in {
        row.title.text().replace("<b>", "").replace("</b>", "") for row in pane.rows.values()
    }

    # Each zone's threshold at a quantile of its peaks: some samples flagged, some passed.
    quantile = {"left": 0.5, "right": 0.8, "": 0.9}
    for (rid, region), row in pane.rows.items():
        d = pane.data[rid]
        row.set_value(float(np.quantile(d.recount.peaks[:, d.regions.index(region)], quantile[region])))
    thresholds = {rid: dict(zip(pane.data[rid].regions, pane.thresholds(rid))) for rid in pane.data}

    # The same verdicts from the stored maps, computed here pixel by pixel.
    with Project.open(station) as p:
        for rid, thr in thresholds.items():
            run = p.run(rid)
            view = p.views[run.view]
            roi = roi_for(view.roi, view.roi_margin, view.crop.h, view.crop.w) > 0
            where = {s: (res.id, k) for res in p.results(run_id=rid) for k, s in enumerate(res.sample_ids)}
            test = [s for s in p.samples(view=run.view, split="test") if s.label in ("good", "defective")]
            flagged = []
            for s in test:
                m = p.result_maps(where[s.id][0], [s.id])[0]
                limit = np.select([view.zones == 1, view.zones == 2], [thr["left"], thr["right"]], thr[""])
                flagged.append(bool(((m >= limit) & roi).any()))
            labels = [s.label == "defective" for s in test]
            want = {
                "tp": sum(f and y for f, y in zip(flagged, labels)),
                "fp": sum(f and not y for f, y in zip(flagged, labels)),
                "tn": sum(not f and not y for f, y in zip(flagged, labels)),
                "fn": sum(not f and y for f, y in zip(flagged, labels)),
            }
            assert pane.counts(rid).as_dict() == want
            assert 0 < sum(flagged) < len(flagged)
            assert shown_text(pane.counts(rid)) in plain(pane.heads[rid].text())
    assert "All views" in pane.total.text()

    pane.name.setText("zones-a")
    pane.save_policy()
    qtbot.waitUntil(lambda: "zones-a" in window.model.snapshot.policies, timeout=10000)
    stored = window.model.snapshot.policies["zones-a"]
    assert stored["level"] == "pixel" and set(stored["per_zone"]) == {"front", "back"}
    saved = []
    window.model.save(lambda: saved.append(True))
    qtbot.waitUntil(lambda: bool(saved), timeout=20000)
    records = eval_policy_counts(station, "zones-a")
    for rid in thresholds:
        assert records[rid] == pane.counts(rid).as_dict()


def test_a_run_without_stored_scores_for_every_test_sample_gets_a_message_and_no_slider(
    window, station, qtbot
):
    from workbench.project import Project

    add_scored_runs(station)
    with Project.open(station) as p:  # one more test sample, scored by no run
        s = p.samples()[0]
        info = {"source": s.source, "pass_index": 99, "view": s.view, "frame": s.frame, "x": s.x, "y": s.y,
                "split": "test", "label": "good", "match_score": 0.9}  # fmt: skip
        (new,) = p.add_samples([p.sample_image(s.id)], [info], [None])
        p.save()
    window._close_confirmed = True
    window.open_project(str(station))
    qtbot.waitUntil(lambda: window.model.snapshot is not None, timeout=20000)
    window.show_pane("thresholds")
    pane = window.analysis_panes["thresholds"]
    qtbot.waitUntil(lambda: "no stored score" in pane.message.text(), timeout=20000)
    assert f"(first: {new})" in pane.message.text() and "workbench eval" in pane.message.text()
    assert not pane.rows
