"""File handling: the unsaved-changes prompt, recent projects, bad files dropped or opened."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from workbench.gui.file_actions import CANCEL, DISCARD, SAVE, check_project_path
from workbench.gui.settings import MAX_RECENT, Settings


def _make_dirty(window, qtbot):
    window.model.edit(lambda p: p.set_meta("note", "edited in a test"))
    qtbot.waitUntil(lambda: window.model.dirty and not window.model.busy, timeout=10000)
    assert window.isWindowModified()


def _meta_on_disk(path):
    from workbench.project import Project

    with Project.open(path) as p:
        return p.meta


@pytest.fixture
def asked(opened):
    """Replaces the unsaved-changes dialog; the test sets the answer and sees how often it was asked."""
    state = {"answer": CANCEL, "count": 0}

    def ask(name):
        state["count"] += 1
        return state["answer"]

    opened.files.ask_unsaved = ask
    return state


def test_closing_a_clean_window_does_not_ask(opened, asked):
    opened.close()
    assert asked["count"] == 0
    assert not opened.isVisible()


def test_cancel_keeps_the_window_and_the_changes(opened, asked, qtbot):
    _make_dirty(opened, qtbot)
    opened.close()
    assert asked["count"] == 1
    assert opened.isVisible() and opened.model.dirty


def test_discard_closes_without_saving(opened, asked, qtbot, station):
    _make_dirty(opened, qtbot)
    asked["answer"] = DISCARD
    opened.close()
    qtbot.waitUntil(lambda: not opened.isVisible(), timeout=10000)
    assert "note" not in _meta_on_disk(station)


def test_save_saves_then_closes(opened, asked, qtbot, station):
    _make_dirty(opened, qtbot)
    asked["answer"] = SAVE
    opened.close()
    qtbot.waitUntil(lambda: not opened.isVisible(), timeout=20000)
    assert _meta_on_disk(station)["note"] == "edited in a test"


def test_opening_another_station_asks_first(opened, asked, qtbot, station_dir, tmp_path):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(station_dir, other)
    _make_dirty(opened, qtbot)
    asked["answer"] = CANCEL
    opened.open_project(str(other / "station.awb"))
    assert asked["count"] == 1 and opened.model.dirty
    asked["answer"] = DISCARD
    opened.open_project(str(other / "station.awb"))
    qtbot.waitUntil(lambda: opened.model.path == str(other / "station.awb"), timeout=20000)
    assert not opened.model.dirty


def test_recent_projects_persist(opened, settings, station, tmp_path):
    assert settings.recent_projects()[0] == str(station.resolve())
    again = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    assert again.recent_projects() == [str(station.resolve())]
    opened.files.refresh_recent_menu()
    texts = [a.text() for a in opened.files.recent_menu.actions()]
    assert any(station.name in t for t in texts)


def test_recent_list_is_capped_and_most_recent_first(settings, tmp_path):
    for i in range(MAX_RECENT + 3):
        settings.add_recent(tmp_path / f"s{i}.awb")
    settings.add_recent(tmp_path / "s5.awb")
    recent = settings.recent_projects()
    assert len(recent) == MAX_RECENT
    assert recent[0].endswith("s5.awb") and len(set(recent)) == MAX_RECENT


def test_a_missing_recent_project_is_reported_and_forgotten(window, settings, tmp_path):
    gone = str(tmp_path / "gone.awb")
    settings.add_recent(gone)
    settings.add_recent(tmp_path / "gone.awb")
    assert not window.open_project(gone)
    assert "does not exist" in window.last_error[1]
    assert gone not in settings.recent_projects()


def test_dropping_a_non_project_file_keeps_the_open_station(opened, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    path_before = opened.model.path
    opened.drop_paths([str(text)])
    assert opened.last_error[0] == "Not a station" and "notes.txt" in opened.last_error[1]
    assert opened.model.path == path_before


def test_a_damaged_project_file_gets_a_message_and_loses_nothing(opened, qtbot, tmp_path):
    bad = tmp_path / "broken.awb"
    bad.write_bytes(b"this is not HDF5")
    path_before = opened.model.path
    opened.drop_paths([str(bad)])
    qtbot.waitUntil(lambda: opened.last_error is not None and not opened.model.busy, timeout=10000)
    assert "broken.awb" in opened.last_error[0] + opened.last_error[1]
    assert opened.model.path == path_before and opened.model.snapshot is not None


def test_new_and_save_as_create_files_and_remember_them(opened, asked, qtbot, tmp_path, settings):
    target = tmp_path / "copy.awb"
    opened.files.ask_save_path = lambda title: str(target)
    opened.files.save_project_as()
    qtbot.waitUntil(lambda: opened.model.path == str(target), timeout=20000)
    assert target.exists() and settings.recent_projects()[0] == str(target.resolve())
    fresh = tmp_path / "fresh.awb"
    opened.files.ask_save_path = lambda title: str(fresh)
    opened.files.new_project()
    qtbot.waitUntil(lambda: opened.model.path == str(fresh), timeout=20000)
    assert opened.model.snapshot.samples == []
    assert opened.viewer.stack.currentWidget() is opened.viewer.message


def test_check_project_path_says_what_is_wrong(tmp_path):
    assert "does not exist" in check_project_path(str(tmp_path / "x.awb"))
    assert "folder" in check_project_path(str(tmp_path))
    (tmp_path / "a.png").write_bytes(b"x")
    assert ".awb" in check_project_path(str(tmp_path / "a.png"))
    (tmp_path / "ok.awb").write_bytes(b"x")
    assert check_project_path(str(tmp_path / "ok.awb")) is None
