"""The Compare pane: heatmaps of several runs over the same samples on one colour scale, linked zoom and
pan, an opacity slider, and a clicked pixel's score per run with PatchCore's nearest normal patch."""

from __future__ import annotations

import numpy as np
import pytest
from test_pane_thresholds import add_scored_runs


@pytest.fixture
def compare(window, station, qtbot):
    from workbench.jobs.train import train_views
    from workbench.project import Project

    add_scored_runs(station)  # padim-named runs with stored maps: a wide colour range
    with Project.open(station) as p:  # and one real PatchCore run per view, to explain
        train_views(p, "patchcore", {"backbone": "resnet18", "pretrained": False, "embed_dim": 32})
        p.save()
    window._close_confirmed = True
    window.open_project(str(station))
    qtbot.waitUntil(lambda: window.model.snapshot is not None, timeout=20000)
    window.show_pane("compare")
    pane = window.analysis_panes["compare"]
    qtbot.waitUntil(lambda: len(pane.cells) == 2 * 3, timeout=20000)  # 2 runs x 3 samples of one view
    return pane


def test_by_default_every_map_is_drawn_in_units_of_its_runs_threshold(compare):
    snap = compare.model.snapshot
    models = {r.id: r.model for r in snap.runs}
    assert len({models[rid] for rid, _sid in compare.cells}) == 2  # padim and patchcore
    assert compare.scale_combo.currentData() == "threshold"
    for (rid, sid), (_vb, _img, heat) in compare.cells.items():
        assert tuple(heat.getLevels()) == (0.0, 2.0)  # 1.0 = the threshold, the middle of the bar
        t = compare.data.thresholds[rid]
        assert "F1-best on the test split" in t.source  # no policy in this station
        m = compare.data.maps[rid][sid]
        assert np.allclose(heat.image, m / t.value, rtol=1e-5)
    assert "units of each run's threshold" in compare.scale.text()
    compare.scale_combo.setCurrentIndex(compare.scale_combo.findData("run"))
    assert len({tuple(np.round(h.getLevels(), 6)) for _v, _i, h in compare.cells.values()}) == 2
    compare.scale_combo.setCurrentIndex(compare.scale_combo.findData("shared"))
    assert len({tuple(np.round(h.getLevels(), 6)) for _v, _i, h in compare.cells.values()}) == 1
    assert "99.9th percentile" in compare.scale.text()  # the clipping is stated


def test_each_cell_says_its_score_and_verdict_under_the_threshold_and_outlines_the_truth(compare):
    from workbench.gui.pg import pyqtgraph as pg

    for (rid, sid), (vb, _img, _heat) in compare.cells.items():
        t = compare.data.thresholds[rid]
        score = compare.data.scores[rid][sid]
        assert compare.data.verdict(rid, sid) == (score >= t.value)
        caption = compare._cell_caption(rid, sid, True)
        assert ("NG" if score >= t.value else "OK") in caption and f"{score / t.value:.3g}" in caption
        gt = compare.model.snapshot.sample(sid).has_mask
        ring_items = [i for i in vb.addedItems if isinstance(i, pg.ImageItem) and i.zValue() == 15]
        if gt:  # the GT outline is drawn over the heatmap in the GT colour
            assert ring_items and (ring_items[0].image[..., 3] == 255).any()


def test_a_count_opens_its_samples_in_one_grid(compare, qtbot):
    rid = next(iter(compare.cells))[0]
    view = compare.model.snapshot.runs[[r.id for r in compare.model.snapshot.runs].index(rid)].view
    ids = [s.id for s in compare.model.snapshot.samples if s.view == view and s.split == "test"]
    compare.show_samples([rid], ids, "FP: false alarms")
    qtbot.waitUntil(lambda: not compare.busy and set(compare.cells) == {(rid, i) for i in ids}, timeout=20000)
    assert f"FP: false alarms: {len(ids)} samples" in compare.scale.text()


def test_every_heatmap_uses_one_colour_scale_and_one_zoom(compare):
    compare.scale_combo.setCurrentIndex(compare.scale_combo.findData("shared"))
    levels = {tuple(np.round(heat.getLevels(), 6)) for _vb, _img, heat in compare.cells.values()}
    assert len(levels) == 1  # one colour scale for every run
    lo, hi = levels.pop()
    maps = [m for per in compare.data.maps.values() for m in per.values()]
    assert lo >= min(float(m.min()) for m in maps) and hi <= max(float(m.max()) for m in maps)
    boxes = [vb for vb, _i, _h in compare.cells.values()]
    boxes[0].setXRange(5, 20, padding=0)
    for vb in boxes[1:]:  # zoom in one cell and every cell follows, centred on the same place
        assert abs(np.mean(vb.viewRange()[0]) - 12.5) < 1e-6
        assert vb.viewRange()[0][1] - vb.viewRange()[0][0] < 30  # zoomed in too (cells differ in width)
    compare.opacity.setValue(25)
    assert all(abs(h.opacity() - 0.25) < 1e-6 for _v, _i, h in compare.cells.values())


def test_a_clicked_pixel_shows_each_runs_value_and_the_nearest_normal_patch(compare, qtbot):
    (rid, sid) = next(iter(compare.cells))
    with qtbot.waitSignal(compare.explained, timeout=240000) as got:
        compare.pick(sid, 20, 30)
        for run, per in compare.data.maps.items():
            assert f"{run} (" in compare.info.text()
            assert f"{float(per[sid][20, 30]):.4g}" in compare.info.text()
    out = got.args[0]
    snap = compare.model.snapshot
    train_ids = {s.id for s in snap.samples if s.split == "train"}
    assert out["train_sample_id"] in train_ids  # the patch comes from a normal training sample
    assert out["patch"].ndim == 3 and out["patch"].size > 0
    assert "nearest normal patch in training sample" in compare.patch_note.text()
    assert not compare.patch.pixmap().isNull()
    compare.scale_combo.setCurrentIndex(compare.scale_combo.findData("run"))  # the grid is rebuilt:
    assert compare.patch_note.text() == "" and compare.patch.pixmap().isNull()  # no stale answer stays


def test_a_slow_nearest_patch_answer_never_overwrites_a_newer_grid(compare, qtbot):
    (_rid, sid) = next(iter(compare.cells))
    compare.pick(sid, 20, 30)
    assert "looking up the nearest normal patch" in compare.patch_note.text()
    compare.scale_combo.setCurrentIndex(compare.scale_combo.findData("shared"))
    assert "looking up" not in compare.patch_note.text()
    qtbot.wait(3000)
    qtbot.waitUntil(lambda: not compare.service.busy, timeout=240000)
    assert compare.patch_note.text() == ""
