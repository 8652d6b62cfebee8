"""The Synthesis pane on a small bead station: a click on the bead previews a defect whose mask lies on
the bead where the picture changed; it goes into the station as one undo step; a batch runs in the
background, adds its synthetic val/test samples and shows them on a contact sheet; Cancel stops it."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from bead_station import build_bead_station
from PySide6.QtCore import Qt

from workbench.synth.masks import difference

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="session")
def bead_station_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("beads")
    build_bead_station(folder)
    return folder


@pytest.fixture
def synth(window, bead_station_dir, tmp_path, qtbot):
    """The window on a private copy of the bead station, the Synthesis pane shown with a sample loaded."""
    folder = tmp_path / "beads"
    shutil.copytree(bead_station_dir, folder)
    window._close_confirmed = True  # the tests leave unsaved edits: closing must not ask
    window.open_project(str(folder / "beads.awb"))
    qtbot.waitUntil(lambda: window.model.snapshot is not None, timeout=20000)
    window.show_pane("synthesis")
    pane = window.setup_panes["synthesis"]
    qtbot.waitUntil(lambda: pane.place.image is not None and not pane.busy, timeout=20000)
    return window, pane


def synthetic(w):
    return [s for s in w.model.snapshot.samples if s.synthetic]


def click_on_bead(pane, qtbot, fraction=0.5):
    """Click "Before" on the bead's centreline, ``fraction`` of the way along it; the preview that follows."""
    place = pane.place
    line = place.bead.lines[0]
    x, y = line.points[int(fraction * (len(line.points) - 1))]
    canvas = place.before
    with qtbot.waitSignal(place.previewed, timeout=20000):
        qtbot.mouseClick(
            canvas.viewport(), Qt.MouseButton.LeftButton, pos=canvas.widget_pos(x + 0.5, y + 0.5).toPoint()
        )
    assert abs(place.point[0] - x) < 1.5 and abs(place.point[1] - y) < 1.5
    return place.made


def test_a_click_on_the_bead_previews_a_defect_on_it(synth, qtbot):
    w, pane = synth
    place = pane.place
    assert place.bead is not None and place._bead_items, "the bead model is drawn over the sample"
    place.type_box.setCurrentIndex(place.type_box.findData("narrowing"))
    made = click_on_bead(pane, qtbot)
    before, mask = place.image, made.mask > 0
    assert made.type == "narrowing" and mask.any()
    bead = place.bead.coverage(mask.shape, grow=4)
    assert bead[mask].mean() > 0.9, "the defect lies on the bead"
    change = difference(before, made.image)
    far = cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8)) == 0
    assert change[mask].mean() > 12 and change[far].max() < 12, "the picture changed where the mask is"
    assert made.zone in w.model.snapshot.views[place.view_box.currentData()].zone_names
    # the three panels show before, after and the mask
    assert np.array_equal(place.after.image, made.image)
    assert (place.mask_view.image[mask] == place.colors.mask).all()
    assert place.add_button.isEnabled() and "narrowing" in place.info.text()


def test_a_parameter_edit_redraws_the_same_place(synth, qtbot):
    _w, pane = synth
    place = pane.place
    place.type_box.setCurrentIndex(place.type_box.findData("hole"))
    first = click_on_bead(pane, qtbot, 0.4)
    assert set(place.form.fields) >= {"line", "s0", "s1", "depth", "breadth"}
    with qtbot.waitSignal(place.previewed, timeout=20000):
        place.form.set_value("depth", 0.3)
    second = place.made
    assert second.params["depth"] == pytest.approx(0.3) and second.params["s0"] == first.params["s0"]
    # a shallower void is lighter inside
    assert second.image[first.mask > 0].mean() > first.image[first.mask > 0].mean()


def test_a_click_off_the_bead_says_where_to_click(synth, qtbot):
    _w, pane = synth
    place = pane.place
    place.type_box.setCurrentIndex(place.type_box.findData("missing"))
    with qtbot.waitSignal(place.previewed, timeout=20000):
        place.pick(2, 2)
    assert place.made is None and not place.add_button.isEnabled()
    assert "click on the bead" in place.message.text() and place.message.property("error")
    with qtbot.waitSignal(place.previewed, timeout=20000):  # surface defects go anywhere
        place.type_box.setCurrentIndex(place.type_box.findData("stain"))
    assert place.made is None  # ... but not half off the sample
    with qtbot.waitSignal(place.previewed, timeout=20000):
        place.pick(40, 100)
    assert place.made is not None and place.made.mask[100, 40] > 0


def test_adding_a_defect_is_undone_and_redone(synth, qtbot):
    w, pane = synth
    place = pane.place
    place.type_box.setCurrentIndex(place.type_box.findData("missing"))
    made = click_on_bead(pane, qtbot, 0.6)
    src = place.current_sample()
    qtbot.mouseClick(place.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(synthetic(w)) == 1, timeout=20000)
    assert not place.add_button.isEnabled(), "the same defect is added once"
    s = synthetic(w)[0]
    assert s.label == "defective" and s.split in ("val", "test") and s.view == src.view
    assert s.meta["synthetic"]["type"] == "missing" and s.meta["synthetic"]["source_sample"] == src.id
    qtbot.waitUntil(lambda: not w.model.busy, timeout=20000)
    assert np.array_equal(w.model.project.sample_image(s.id), made.image)
    assert np.array_equal(w.model.project.gt_mask(s.id), made.mask)
    assert pane.counts.total() == 1
    w.undo.undo()
    qtbot.waitUntil(lambda: not synthetic(w), timeout=20000)
    assert pane.counts.total() == 0
    w.undo.redo()
    qtbot.waitUntil(lambda: len(synthetic(w)) == 1, timeout=20000)
    qtbot.waitUntil(lambda: not w.model.busy, timeout=20000)
    again = synthetic(w)[0]
    assert np.array_equal(w.model.project.gt_mask(again.id), made.mask)


def test_a_batch_adds_synthetic_val_and_test_samples_with_a_contact_sheet(synth, qtbot):
    w, pane = synth
    batch = pane.batch
    pane.tabs.setCurrentWidget(batch)
    for i in range(batch.types.count()):  # two types on both views
        item = batch.types.item(i)
        item.setCheckState(
            Qt.CheckState.Checked if item.text() in ("missing", "hole") else Qt.CheckState.Unchecked
        )
    batch.count.setValue(6)
    batch.seed.setValue(4)
    with qtbot.waitSignal(batch.generated, timeout=120000) as got:
        qtbot.mouseClick(batch.generate_button, Qt.MouseButton.LeftButton)
        assert batch.job.running
    ids = got.args[0]
    new = synthetic(w)
    assert len(ids) == len(new) == 6 and {s.id for s in new} == set(ids)
    assert {s.split for s in new} == {"val", "test"}
    assert all(s.label == "defective" and s.has_mask for s in new)
    assert {s.meta["synthetic"]["type"] for s in new} == {"missing", "hole"} and {s.view for s in new} == {
        "front",
        "back",
    }
    assert [s.id for s in batch.sheet.samples()] == ids
    qtbot.waitUntil(lambda: not batch.sheet.busy and len(batch.sheet.thumbs._icons) == 6, timeout=20000)
    assert "hole" in batch.sheet.thumbs.caption(next(s for s in new if s.meta["synthetic"]["type"] == "hole"))
    assert pane.counts.total() == 6 and "Added 6" in batch.job.message.text()
    w.undo.undo()  # the whole batch is one undo step
    qtbot.waitUntil(lambda: not synthetic(w), timeout=20000)


def test_cancel_stops_a_batch_and_leaves_the_station_unchanged(synth, qtbot):
    w, pane = synth
    batch = pane.batch
    views_before = {k: dict(v.meta) for k, v in w.model.snapshot.views.items()}
    batch.count.setValue(400)

    def cancel_once_started(fraction, _text):
        if fraction > 0 and batch.job.running:
            batch.job.cancel()

    batch.job.progressed.connect(cancel_once_started)
    qtbot.mouseClick(batch.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not batch.job.running, timeout=120000)
    assert "Cancelled" in batch.job.message.text()
    qtbot.waitUntil(lambda: not w.model.busy, timeout=20000)
    assert not synthetic(w) and not any(s.synthetic for s in w.model.project.samples())
    assert {k: dict(v.meta) for k, v in w.model.project.views.items()} == views_before
    assert not w.undo.canUndo()


def test_a_bead_drawn_by_hand_becomes_the_views_bead_and_undo_forgets_it(synth, qtbot):
    w, pane = synth
    place = pane.place
    view = place.view_box.currentData()
    line = place.bead.lines[0]
    canvas = place.before
    qtbot.mouseClick(place.draw_button, Qt.MouseButton.LeftButton)
    assert canvas.tool == "polygon" and "centre" in place.message.text()
    for f in (0.1, 0.5, 0.9):  # three clicks along the bead, a few px off its centre, then Enter
        x, y = line.points[int(f * (len(line.points) - 1))] + 2.0
        qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=canvas.widget_pos(x, y).toPoint())
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "bead" in w.model.snapshot.views[view].meta, timeout=20000)
    qtbot.waitUntil(
        lambda: place.bead is not None and place.bead.origin == "drawn" and not pane.busy, timeout=20000
    )
    assert canvas.tool == "pan" and not place.draw_button.isChecked()
    # the drawn polyline snapped onto the bead: its points lie on the bead the finder saw
    found = line
    near = [np.hypot(*(found.points - q).T).min() for q in place.bead.lines[0].points[5:-5]]
    assert np.median(near) < 2.0
    w.undo.undo()
    qtbot.waitUntil(lambda: "bead" not in w.model.snapshot.views[view].meta, timeout=20000)


def test_the_table1_preset_scaled_to_a_count_and_an_empty_choice(synth, qtbot):
    w, pane = synth
    batch = pane.batch
    for i in range(batch.types.count()):
        batch.types.item(i).setCheckState(Qt.CheckState.Unchecked)
    batch.start()
    assert not batch.job.running and "Choose at least one type" in batch.job.message.text()
    for i in range(batch.types.count()):
        item = batch.types.item(i)
        item.setCheckState(
            Qt.CheckState.Checked if item.text() in pane.batch.bead_types else Qt.CheckState.Unchecked
        )
    batch.plan.setCurrentIndex(batch.plan.findData("table1"))
    assert batch.count.value() == 0 and batch.count.text() == "whole table"
    batch.count.setValue(4)
    with qtbot.waitSignal(batch.generated, timeout=120000) as got:
        batch.start()
    new = synthetic(w)
    assert len(got.args[0]) == len(new) == 4
    assert all(s.split in ("val", "test") and s.meta["synthetic"]["type"] in batch.bead_types for s in new)
