"""The Import pane: a video opens and scrubs, the pass rule finds the passes, an import adds samples
(and undo takes them away), Cancel leaves the station unchanged, bad paths get a message."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from station_fixture import FRAMES, PASSES, frame_image

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def settle(w, qtbot):
    qtbot.waitUntil(lambda: not w.model.busy and not w.import_pane.busy, timeout=30000)


@pytest.fixture
def importing(opened, qtbot, station):
    """The window with one matchable view (the test station's own templates are flat) and the
    station's video opened in the Import pane."""
    w = opened
    w._close_confirmed = True  # the tests leave unsaved edits: closing must not ask
    from workbench.project.types import CropWindow, ViewInfo

    rgb = cv2.cvtColor(frame_image(45), cv2.COLOR_BGR2RGB)
    view = ViewInfo("part", np.ascontiguousarray(rgb[100:140, 120:160]), CropWindow(-8, -8, 56, 56), 0.8)

    def setup(p):
        for name in list(p.views):
            p.remove_view(name)
        p.set_view(view)

    w.model.edit(setup)
    qtbot.waitUntil(lambda: list(w.model.snapshot.views) == ["part"], timeout=10000)
    w.show_pane("import")
    pane = w.import_pane
    assert pane.open_path(str(station.parent / "demo.mp4"))
    qtbot.waitUntil(lambda: pane.info is not None and pane.canvas.image is not None, timeout=10000)
    settle(w, qtbot)
    return w


def test_the_video_opens_scrubs_and_shows_its_passes(importing, qtbot):
    pane = importing.import_pane
    assert pane.scrubber.frame_count == FRAMES
    before = pane.canvas.image.copy()
    pane.scrubber.slider.setValue(45)
    qtbot.waitUntil(lambda: not np.array_equal(pane.canvas.image, before), timeout=10000)
    qtbot.mouseClick(pane.find_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not pane.job.running, timeout=20000)
    assert pane.timeline.passes == PASSES
    # the pass rule is calibrated from the video: each view's match signal crosses its threshold
    assert len(pane.plot.values) == FRAMES and pane.plot.values.max() > pane.rule.view("part").threshold
    assert "calibrated from this video" in pane.rule_label.text()
    assert "3 passes" in pane.job.message.text()
    pane.form.every.setValue(2)
    pane.find_passes()
    qtbot.waitUntil(lambda: not pane.job.running, timeout=20000)
    assert len(pane.plot.values) == FRAMES // 2, "sampling every 2nd frame reads half the frames"


def test_an_import_adds_samples_and_undo_takes_them_away(importing, qtbot):
    w, pane = importing, importing.import_pane
    n_before, sources_before = len(w.model.snapshot.samples), len(w.model.snapshot.sources)
    qtbot.mouseClick(pane.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not pane.job.running, timeout=30000)
    settle(w, qtbot)
    snap = w.model.snapshot
    new = [s for s in snap.samples if s.view == "part"]
    assert len(new) == len(PASSES) and len(snap.samples) == n_before + len(PASSES)
    assert len(snap.sources) == sources_before + 1 and w.model.dirty
    assert sorted(s.pass_index for s in new) == [0, 1, 2]
    assert all((s.height, s.width) == (56, 56) for s in new)
    assert f"Imported {len(PASSES)} samples" in pane.job.message.text()
    assert pane.unmatched.count() == 0
    w.undo.undo()
    qtbot.waitUntil(lambda: len(w.model.snapshot.samples) == n_before, timeout=10000)
    w.undo.redo()
    qtbot.waitUntil(lambda: len(w.model.snapshot.samples) == n_before + len(PASSES), timeout=10000)


def test_unmatched_passes_are_listed_with_their_score(importing, qtbot):
    w, pane = importing, importing.import_pane
    v = w.model.snapshot.views["part"]
    from workbench.gui.panes.view_geometry import edited

    w.model.edit(lambda p: p.set_view(edited(v, match_threshold=0.9999)))
    settle(w, qtbot)
    pane.start_import()
    qtbot.waitUntil(lambda: not pane.job.running, timeout=30000)
    texts = [pane.unmatched.item(i).text() for i in range(pane.unmatched.count())]
    assert len(texts) == len(PASSES)
    assert all("view part: best score" in t and "< threshold" in t for t in texts)
    assert texts[1].startswith("pass 1 (frames 35-55)")


def test_cancel_leaves_the_station_unchanged(importing, qtbot):
    w, pane = importing, importing.import_pane
    snap = w.model.snapshot
    before = (len(snap.samples), len(snap.sources), list(snap.views))
    pane.start_import()
    assert pane.job.running
    qtbot.mouseClick(pane.job.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not pane.job.running, timeout=30000)
    settle(w, qtbot)
    snap = w.model.snapshot
    assert (len(snap.samples), len(snap.sources), list(snap.views)) == before
    assert "cancelled" in pane.job.message.text() and "unchanged" in pane.job.message.text()
    assert not w.undo.canUndo() or w.undo.undoText() != "import demo.mp4"


def test_a_file_that_is_not_importable_gets_a_message(importing, tmp_path):
    w, pane = importing, importing.import_pane
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert not pane.open_path(str(text))
    assert w.last_error[0] == "Not importable" and "notes.txt" in w.last_error[1]
    assert pane.kind == "video", "the video opened before is still ready to import"


def test_an_image_folder_imports_one_sample_per_image(importing, qtbot, tmp_path):
    w, pane = importing, importing.import_pane
    folder = tmp_path / "shots"
    folder.mkdir()
    for i in (40, 45, 50):
        cv2.imwrite(str(folder / f"shot{i}.png"), frame_image(i))
    n_before = len(w.model.snapshot.samples)
    assert pane.open_path(str(folder)) and pane.kind == "folder"
    pane.start_import()
    qtbot.waitUntil(lambda: not pane.job.running, timeout=30000)
    settle(w, qtbot)
    assert len(w.model.snapshot.samples) == n_before + 3


def test_a_simulated_camera_shows_live_frames_and_feeds_the_views_pane(importing, qtbot, station):
    w, pane = importing, importing.import_pane
    pane.start_camera(f"sim:{station.parent / 'demo.mp4'}")
    qtbot.waitUntil(lambda: pane.camera.count >= 3, timeout=10000)
    qtbot.waitUntil(lambda: w.views_pane.frame is not None and w.views_pane.frame_path is None, timeout=10000)
    assert pane.camera_button.isChecked()
    pane.camera_button.click()
    assert not pane.camera.running


def test_dropping_a_video_on_the_window_opens_it_for_import(importing, qtbot, station):
    w, pane = importing, importing.import_pane
    pane.open_path(str(station.parent))  # something else first
    w.drop_paths([str(station.parent / "demo.mp4")])
    assert w.workspace.current == "import" and pane.isVisible() and pane.kind == "video"
    qtbot.waitUntil(lambda: pane.info is not None, timeout=10000)
