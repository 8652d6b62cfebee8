"""The Views pane: a rectangle on a frame becomes a template with exactly those pixels; threshold, crop
window, ROI strokes, margin and zones change the view in the project, and undo puts it back."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def drag(qtbot, canvas, start, end):
    """Press at image point ``start``, move and release at ``end`` on a DrawCanvas."""
    a, b = canvas.widget_pos(*start).toPoint(), canvas.widget_pos(*end).toPoint()
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(canvas.viewport(), pos=b)
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=b)


def settle(w, qtbot):
    qtbot.waitUntil(lambda: not w.model.busy and not w.views_pane.busy, timeout=20000)


def view_of(w, name):
    return w.model.snapshot.views.get(name)


@pytest.fixture
def views(opened, qtbot):
    w = opened
    w._close_confirmed = True  # the tests leave unsaved edits: closing must not ask
    w.show_pane("views")
    w.viewer.goto(45)  # the middle of pass 1: the part is in the picture
    qtbot.waitUntil(lambda: w.views_pane.frame_index == 45 and w.views_pane.frame is not None, timeout=10000)
    settle(w, qtbot)
    return w


def cut(w, qtbot, name, rect):
    pane = w.views_pane
    pane.view_box.setEditText(name)
    x, y, rw, rh = rect
    drag(qtbot, pane.canvas, (x, y), (x + rw, y + rh))
    assert pane.rect is not None
    qtbot.mouseClick(pane.cut_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view_of(w, name) is not None, timeout=10000)
    settle(w, qtbot)


def test_a_rectangle_on_the_frame_becomes_the_template_with_its_pixels(views, qtbot):
    w, pane = views, views.views_pane
    frame = pane.frame.copy()
    cut(w, qtbot, "middle", (100, 80, 60, 50))
    v = view_of(w, "middle")
    x, y, rw, rh = v.template_origin[1], v.template_origin[2], v.template.shape[1], v.template.shape[0]
    assert abs(x - 100) <= 1 and abs(y - 80) <= 1 and abs(rw - 60) <= 1 and abs(rh - 50) <= 1
    assert np.array_equal(v.template, frame[y : y + rh, x : x + rw])
    assert v.template_origin[0] == 45
    assert w.model.dirty
    w.undo.undo()
    qtbot.waitUntil(lambda: view_of(w, "middle") is None, timeout=10000)
    w.undo.redo()
    qtbot.waitUntil(lambda: view_of(w, "middle") is not None, timeout=10000)


def test_threshold_and_crop_window_edits_are_stored_and_undone(views, qtbot):
    w, pane = views, views.views_pane
    cut(w, qtbot, "middle", (100, 80, 60, 50))
    before = view_of(w, "middle")
    pane.threshold.setValue(0.75)
    qtbot.waitUntil(lambda: view_of(w, "middle").match_threshold == pytest.approx(0.75), timeout=10000)
    roi = np.zeros((before.crop.h, before.crop.w), np.uint8)
    roi[10:20, 10:20] = 255
    w.undo.set_view(view_of(w, "middle"), _with(view_of(w, "middle"), roi=roi), "roi")
    qtbot.waitUntil(lambda: view_of(w, "middle").roi is not None, timeout=10000)
    settle(w, qtbot)
    pane.crop_spins["x"].setValue(before.crop.x - 5)
    qtbot.waitUntil(lambda: view_of(w, "middle").crop.x == before.crop.x - 5, timeout=10000)
    moved = view_of(w, "middle")
    assert moved.roi.shape == (before.crop.h, before.crop.w)
    assert moved.roi[10:20, 15:25].all() and not moved.roi[10:20, 10:15].any(), "the ROI stays on the part"
    assert pane.crop_roi.isVisible(), "the crop window has drag handles on the frame"
    for _ in range(3):
        w.undo.undo()
        settle(w, qtbot)
    back = view_of(w, "middle")
    assert back.crop == before.crop and back.match_threshold == before.match_threshold and back.roi is None


def _with(view, **changes):
    from workbench.gui.panes.view_geometry import edited

    return edited(view, **changes)


def test_roi_stroke_margin_and_zones(views, qtbot):
    w, pane = views, views.views_pane
    pane.view_box.setCurrentText("front")
    pane.tabs.setCurrentWidget(pane.roi_editor)
    settle(w, qtbot)
    ed = pane.roi_editor.editor
    assert ed.mask is not None and ed.mask.shape == (48, 64)
    assert view_of(w, "front").roi[2, 2] == 0
    ed.set_tool("brush")
    ed.size.setValue(1)
    drag(qtbot, ed.canvas, (2.5, 2.5), (4.5, 2.5))
    qtbot.waitUntil(lambda: view_of(w, "front").roi[2, 2] == 255, timeout=10000)
    assert view_of(w, "front").roi[2, 4] == 255 and view_of(w, "front").roi[30, 2] == 0

    pane.roi_editor.margin.setValue(5)
    qtbot.waitUntil(lambda: view_of(w, "front").roi_margin == 5, timeout=10000)
    settle(w, qtbot)
    overlay = ed.canvas.overlay_item.image
    assert tuple(overlay[24, 3]) == (255, 255, 255, 255), "the ROI grown by 5 px is outlined"
    assert overlay[24, 1, 3] == 0

    ed.erase.setChecked(True)
    ed.set_tool("rect")
    drag(qtbot, ed.canvas, (8, 8), (20, 20))
    qtbot.waitUntil(lambda: view_of(w, "front").roi[10, 10] == 0, timeout=10000)
    ed.erase.setChecked(False)

    pane.roi_editor.add_zone("bead")
    qtbot.waitUntil(lambda: view_of(w, "front").zone_names == ["bead"], timeout=10000)
    settle(w, qtbot)
    assert pane.roi_editor.layer == 1 and ed.value == 1
    drag(qtbot, ed.canvas, (30, 30), (40, 40))
    qtbot.waitUntil(
        lambda: view_of(w, "front").zones is not None and view_of(w, "front").zones[35, 35] == 1,
        timeout=10000,
    )

    for _ in range(5):
        w.undo.undo()
        settle(w, qtbot)
    v = view_of(w, "front")
    assert v.roi[2, 2] == 0 and v.roi[10, 10] == 255 and v.roi_margin == 0 and v.zone_names == []


def test_score_curve_plots_the_match_over_the_video(views, qtbot):
    w, pane = views, views.views_pane
    cut(w, qtbot, "middle", (100, 80, 60, 50))
    pane.every.setValue(3)
    qtbot.mouseClick(pane.score_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not pane.job.running, timeout=30000)
    scores = pane.plot.values
    assert len(scores) == 30
    assert scores.max() > 0.95 and scores.min() < 0.5, "the part passes by: high only while it is there"
    assert "frames at or above" in pane.job.message.text()


def test_a_flat_template_gets_a_message_and_no_view(views, qtbot):
    w, pane = views, views.views_pane
    cut_rect = (2, 2, 20, 20)  # the empty conveyor: one grey level
    pane.view_box.setEditText("flat")
    drag(qtbot, pane.canvas, cut_rect[:2], (22, 22))
    qtbot.mouseClick(pane.cut_button, Qt.MouseButton.LeftButton)
    assert w.last_error is not None and "flat" in w.last_error[1]
    assert view_of(w, "flat") is None
