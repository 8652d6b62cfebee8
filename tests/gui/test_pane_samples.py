"""The Samples pane: thumbnails load and filter; a label or split change is stored and undone; a brush
stroke paints a sample's GT mask; the split job re-runs with one undo step."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def settle(w, qtbot):
    qtbot.waitUntil(lambda: not w.model.busy and not w.samples_pane.busy, timeout=20000)


@pytest.fixture
def samples(opened, qtbot):
    w = opened
    w._close_confirmed = True  # the tests leave unsaved edits: closing must not ask
    w.show_pane("samples")
    settle(w, qtbot)
    return w


def sample(w, sid):
    return w.model.snapshot.sample(sid)


def test_grid_shows_thumbnails_and_filters(samples, qtbot):
    pane = samples.samples_pane
    assert pane.thumbs.rowCount() == 6
    qtbot.waitUntil(lambda: len(pane.thumbs._icons) == 6, timeout=10000)
    assert not pane.thumbs.data(pane.thumbs.index(0), Qt.ItemDataRole.DecorationRole).isNull()
    pane.view_filter.setCurrentText("back")
    assert {s.view for s in pane.thumbs.samples} == {"back"} and pane.thumbs.rowCount() == 3
    pane.label_filter.setCurrentText("defective")
    assert pane.thumbs.rowCount() == 1
    assert pane.count.text() == "1 of 6 samples"


def test_label_and_split_changes_are_stored_and_undone(samples, qtbot):
    w, pane = samples, samples.samples_pane
    goods = [s for s in pane.thumbs.samples if s.label == "good"][:2]
    pane.select_ids([s.id for s in goods])
    assert len(pane.selected()) == 2
    pane.label_box.setCurrentText("unknown")
    pane.set_selected(label="unknown")
    qtbot.waitUntil(lambda: all(sample(w, s.id).label == "unknown" for s in goods), timeout=10000)
    assert w.model.dirty and w.isWindowModified()
    assert len(pane.selected()) == 2, "the selection survives the refresh"
    pane.set_selected(split="val")
    qtbot.waitUntil(lambda: all(sample(w, s.id).split == "val" for s in goods), timeout=10000)
    w.undo.undo()
    qtbot.waitUntil(lambda: all(sample(w, s.id).split == "train" for s in goods), timeout=10000)
    w.undo.undo()
    qtbot.waitUntil(lambda: all(sample(w, s.id).label == "good" for s in goods), timeout=10000)
    w.undo.redo()
    qtbot.waitUntil(lambda: all(sample(w, s.id).label == "unknown" for s in goods), timeout=10000)


def test_a_brush_stroke_paints_the_gt_mask_and_undo_removes_it(samples, qtbot):
    w, pane = samples, samples.samples_pane
    plain = next(s for s in pane.thumbs.samples if not s.has_mask)
    pane.select_ids([plain.id])
    settle(w, qtbot)
    ed = pane.editor
    assert ed.mask is not None and not ed.mask.any() and pane.editing.id == plain.id
    ed.set_tool("brush")
    ed.size.setValue(3)
    canvas = ed.canvas
    a, b = canvas.widget_pos(20.5, 20.5).toPoint(), canvas.widget_pos(30.5, 20.5).toPoint()
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=b)
    qtbot.waitUntil(lambda: sample(w, plain.id).has_mask, timeout=10000)
    settle(w, qtbot)
    mask = w.model.project.gt_mask(plain.id)
    assert mask[20, 20] == 255 and mask[23, 20] == 255 and mask[20, 40] == 0 and mask[0, 0] == 0
    w.undo.undo()
    qtbot.waitUntil(lambda: not sample(w, plain.id).has_mask, timeout=10000)


def test_rerunning_the_split_assigns_by_pass_and_undo_restores(samples, qtbot):
    w, pane = samples, samples.samples_pane
    before = {s.id: s.split for s in w.model.snapshot.samples}
    pane.train.setValue(0.0)
    pane.val.setValue(1.0)
    pane.test.setValue(0.0)
    qtbot.mouseClick(pane.split_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not pane.job.running and not w.model.busy, timeout=10000)
    after = {s.id: s.split for s in w.model.snapshot.samples}
    assert after != before and "val" in after.values()
    by_pass = {}
    for s in w.model.snapshot.samples:
        by_pass.setdefault(s.pass_index, set()).add(s.split)
    assert all(len(v) == 1 for v in by_pass.values()), "both views of a pass land in one split"
    w.undo.undo()
    qtbot.waitUntil(lambda: {s.id: s.split for s in w.model.snapshot.samples} == before, timeout=10000)


def test_bad_split_fractions_get_a_message(samples):
    pane = samples.samples_pane
    pane.train.setValue(0.9)
    pane.val.setValue(0.9)
    pane.rerun_split()
    assert samples.last_error[0] == "Split" and "add up to 1" in samples.last_error[1]


def test_edit_menu_undo_and_redo_have_their_shortcuts_and_work(samples, qtbot):
    w, pane = samples, samples.samples_pane
    edit = next(a.menu() for a in w.menuBar().actions() if a.text() == "&Edit")
    undo, redo = edit.actions()[:2]
    assert undo.shortcut().toString() == "Ctrl+Z" and "Ctrl+Shift+Z" in [
        s.toString() for s in redo.shortcuts()
    ]
    assert not undo.isEnabled()
    first = pane.thumbs.samples[0]
    pane.select_ids([first.id])
    pane.set_selected(label="unknown")
    qtbot.waitUntil(lambda: sample(w, first.id).label == "unknown", timeout=10000)
    assert undo.isEnabled() and "label unknown" in undo.text()
    undo.trigger()
    qtbot.waitUntil(lambda: sample(w, first.id).label == first.label, timeout=10000)
    redo.trigger()
    qtbot.waitUntil(lambda: sample(w, first.id).label == "unknown", timeout=10000)


def test_the_edit_boxes_start_empty_and_moving_defects_into_train_asks_first(samples, qtbot):
    w, pane = samples, samples.samples_pane
    assert pane.label_box.currentIndex() == -1 and pane.split_box.currentIndex() == -1
    defective = [s for s in pane.thumbs.samples if s.label == "defective"]
    pane.select_ids([s.id for s in defective])
    assert not pane.set_split_button.isEnabled(), "nothing chosen: nothing to set"
    pane.set_split_button.click()
    asked: list[str] = []
    pane.ask_train = lambda text: asked.append(text) or False  # the user says no
    pane.split_box.setCurrentText("train")
    assert pane.set_split_button.isEnabled()
    pane.set_split_button.click()
    assert asked and "defective" in asked[0]
    settle(w, qtbot)
    assert all(sample(w, s.id).split != "train" for s in defective)
    pane.ask_train = lambda text: asked.append(text) or True  # now yes
    pane.set_split_button.click()
    qtbot.waitUntil(lambda: all(sample(w, s.id).split == "train" for s in defective), timeout=10000)
    goods = [s for s in pane.thumbs.samples if s.label == "good" and s.split != "train"]
    asked.clear()
    pane.select_ids([s.id for s in goods])
    pane.set_split_button.click()  # good, real samples go into train without a question
    assert not asked


def test_a_synthetic_sample_carries_a_badge():
    from types import SimpleNamespace

    from workbench.gui.panes.samples_pane import train_warning
    from workbench.gui.widgets.thumbnail_model import ThumbnailModel

    model = ThumbnailModel(lambda fn, done: None)
    made = SimpleNamespace(id=7, view="front", split="test", label="defective", synthetic=True)
    real = SimpleNamespace(id=8, view="front", split="test", label="good", synthetic=False)
    assert "◆" in model.caption(made) and "◆" not in model.caption(real)
    assert "synthetic" in train_warning([made]) and train_warning([real]) == ""
