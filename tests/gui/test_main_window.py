"""The window opens a station, shows its tree, scrubs its video and shows a clicked sample's crop."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from station_fixture import FRAMES, PASSES

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _children(item) -> dict[str, str]:
    return {item.child(i).text(0): item.child(i).text(1) for i in range(item.childCount())}


def _top(window, title):
    tree = window.station.tree
    for i in range(tree.topLevelItemCount()):
        if tree.topLevelItem(i).text(0) == title:
            return tree.topLevelItem(i)
    raise AssertionError(f"no top-level item {title}")


def test_window_opens_a_station_and_shows_its_tree(opened):
    w = opened
    assert w.windowTitle().startswith("station")
    tops = [w.station.tree.topLevelItem(i).text(0) for i in range(w.station.tree.topLevelItemCount())]
    assert tops == ["Sources", "Views", "Samples", "Runs", "Results", "Policies"]
    assert _top(w, "Sources").child(0).text(1) == f"{FRAMES} frames"
    views = _top(w, "Views")
    assert _children(views) == {"front": "3 samples", "back": "3 samples"}
    assert not views.child(0).icon(0).isNull(), "a view shows its template as a thumbnail"
    samples = _top(w, "Samples")
    assert samples.text(1) == "6"
    front = next(samples.child(i) for i in range(samples.childCount()) if samples.child(i).text(0) == "front")
    assert _children(front) == {"train": "2", "test": "1"}
    test_split = next(front.child(i) for i in range(front.childCount()) if front.child(i).text(0) == "test")
    assert _children(test_split) == {"defective": "1"}
    assert _top(w, "Runs").text(1) == "0"


def test_opening_shows_a_sample_with_mask_and_its_frame(opened):
    w = opened
    snap = w.model.snapshot
    s = snap.sample(w.model.selected_sample)
    assert s.has_mask
    assert w.inspector.shown == ("sample", s.id)
    assert w.viewer.frame_index == s.frame
    assert any(f"#{s.id}" in label for label in w.viewer.canvas.box_labels())


def test_scrubber_moves_the_frame(opened, qtbot):
    w = opened
    before = w.viewer.canvas.image.copy()
    w.viewer.scrubber.slider.setValue(10)
    qtbot.waitUntil(lambda: w.viewer.frame_index == 10 and not w.viewer.busy, timeout=10000)
    assert w.viewer.scrubber.spin.value() == 10
    assert w.viewer.timeline.current == 10
    assert not np.array_equal(before, w.viewer.canvas.image)
    assert w.viewer.canvas.box_labels() == [], "no sample was taken from frame 10"
    w.viewer.scrubber.spin.setValue(FRAMES - 1)
    qtbot.waitUntil(lambda: w.viewer.frame_index == FRAMES - 1, timeout=10000)


def test_timeline_shows_passes_and_a_click_seeks(opened, qtbot):
    w = opened
    tl = w.viewer.timeline
    assert tl.passes == PASSES
    assert sorted({m.frame for m in tl.marks}) == [(a + b) // 2 for a, b in PASSES]
    target = (PASSES[2][0] + PASSES[2][1]) // 2
    x = round(tl._x_of(target))
    qtbot.mouseClick(tl, Qt.MouseButton.LeftButton, pos=QPoint(x, tl.height() // 2))
    qtbot.waitUntil(lambda: w.viewer.frame_index == target and not w.viewer.busy, timeout=10000)
    assert len(w.viewer.canvas.box_labels()) == 2, "both views matched on that frame are drawn"
    assert "pass 2" in tl.describe(target)


def test_clicking_a_sample_shows_its_crop_with_its_mask(opened, qtbot):
    w = opened
    snap = w.model.snapshot
    target = next(s for s in snap.samples if s.view == "back" and s.has_mask)
    item = w.station.find(("sample", target.id))
    assert item is not None
    w.station.tree.scrollToItem(item)
    rect = w.station.tree.visualItemRect(item)
    qtbot.mouseClick(w.station.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(
        lambda: w.inspector.shown == ("sample", target.id) and not w.inspector.busy, timeout=10000
    )
    shown = w.inspector.canvas.image
    assert shown.shape[:2] == (target.height, target.width)
    overlay = w.inspector.canvas.overlay_item.image
    assert overlay is not None and overlay.shape[:2] == shown.shape[:2]
    assert overlay[20, 30, 3] > 0 and overlay[0, 0, 3] == 0, "the mask shows where the defect is, only there"
    qtbot.waitUntil(lambda: w.viewer.frame_index == target.frame, timeout=10000)

    plain = next(s for s in snap.samples if not s.has_mask)
    w.model.select_sample(plain.id)
    qtbot.waitUntil(lambda: w.inspector.shown == ("sample", plain.id) and not w.inspector.busy, timeout=10000)
    assert w.inspector.canvas.overlay_item.image is None
    assert "no GT mask" in w.inspector.details.text()


def test_clicking_a_view_shows_its_template_and_crop_window(opened, qtbot):
    w = opened
    item = w.station.find(("view", "back"))
    w.station.tree.setCurrentItem(item)
    assert w.inspector.shown == ("view", "back")
    assert w.inspector.canvas.image.shape[:2] == (24, 32)
    assert w.inspector.canvas.box_labels() == ["template", "crop window"]


def test_a_missing_video_gets_a_message_and_the_tree_stays(window, qtbot, tmp_path):
    from station_fixture import build_station

    station = build_station(tmp_path)
    (tmp_path / "demo.mp4").unlink()
    window.open_project(str(station))
    qtbot.waitUntil(lambda: window.model.snapshot is not None and window.is_ready(), timeout=20000)
    assert window.viewer.stack.currentWidget() is window.viewer.message
    assert "demo.mp4" in window.viewer.message.text()
    assert window.viewer.timeline.passes == PASSES, "passes still show from the project"
    assert _top(window, "Samples").text(1) == "6"


def test_light_theme_is_remembered(window, settings):
    window.set_theme("light")
    assert settings.theme() == "light"
    assert window.viewer.canvas.colors.name == "light"
    window.set_theme("dark")
    assert settings.theme() == "dark"


def test_every_step_owns_the_workspace_and_side_panels_come_back_with_one_click(opened):
    from workbench.gui.steps import STEPS

    w = opened
    for s in STEPS:
        assert w.step_actions[s.key].isEnabled(), s.key
        w.show_pane(s.key)
        assert w.workspace.stack.currentWidget() is w.workspace.holders[s.key]
        assert w.workspace.holders[s.key].widget() is w.workspace.pages[s.key]
        assert w.step_actions[s.key].isChecked()
    w.show_pane("samples")  # a step that opens without side panels
    assert not any(d.isVisible() for d in w.docks.values())
    assert w.station.window() is w and not w.station.isVisible()
    w.workspace.toggles["tree"].trigger()  # the one click
    assert w.docks["tree"].isVisible() and w.docks["tree"].widget() is w.station
    w.show_pane("train")  # the choice belongs to the step it was made in
    assert not w.docks["tree"].isVisible()
    w.show_pane("samples")
    assert w.docks["tree"].isVisible()
    w.show_pane("station")  # the Station step holds all three in its own page
    assert w.station.parent() is w.workspace.station_page and w.station.isVisible()
    assert w.viewer.isVisible() and w.inspector.isVisible()
    assert not any(d.isVisible() for d in w.docks.values())


def test_the_window_starts_on_the_start_page_with_the_steps_disabled(window):
    from workbench.gui.workspace import START

    assert window.workspace.current == START
    assert window.step_actions[START].isEnabled()
    assert not any(a.isEnabled() for k, a in window.step_actions.items() if k != START)
