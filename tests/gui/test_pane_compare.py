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


def test_runs_of_different_models_get_their_own_colour_scale_unless_one_is_asked_for(compare):
    snap = compare.model.snapshot
    models = {r.id: r.model for r in snap.runs}
    assert len({models[rid] for rid, _sid in compare.cells}) == 2  # padim and patchcore
    for (rid, _sid), (_vb, _img, heat) in compare.cells.items():  # 'auto': one scale per model's run
        maps = [m for m in compare.data["maps"][rid].values() if m is not None]
        lo, hi = heat.getLevels()
        assert min(float(m.min()) for m in maps) <= lo < hi <= max(float(m.max()) for m in maps)
    assert len({tuple(np.round(h.getLevels(), 6)) for _v, _i, h in compare.cells.values()}) == 2
    assert "own colour scale" in compare.scale.text()
    compare.scale_combo.setCurrentIndex(compare.scale_combo.findData("shared"))
    assert len({tuple(np.round(h.getLevels(), 6)) for _v, _i, h in compare.cells.values()}) == 1


def test_every_heatmap_uses_one_colour_scale_and_one_zoom(compare):
    compare.scale_combo.setCurrentIndex(compare.scale_combo.findData("shared"))
    levels = {tuple(np.round(heat.getLevels(), 6)) for _vb, _img, heat in compare.cells.values()}
    assert len(levels) == 1  # one colour scale for every run
    lo, hi = levels.pop()
    maps = [m for per in compare.data["maps"].values() for m in per.values()]
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
        for run, per in compare.data["maps"].items():
            assert f"{run} (" in compare.info.text()
            assert f"{float(per[sid][20, 30]):.4g}" in compare.info.text()
    out = got.args[0]
    snap = compare.model.snapshot
    train_ids = {s.id for s in snap.samples if s.split == "train"}
    assert out["train_sample_id"] in train_ids  # the patch comes from a normal training sample
    assert out["patch"].ndim == 3 and out["patch"].size > 0
    assert "nearest normal patch in training sample" in compare.info.text()
    assert not compare.patch.pixmap().isNull()
