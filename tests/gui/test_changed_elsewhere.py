"""The window notices that another process saved its station, offers to reload, and never saves over it."""

from __future__ import annotations

from workbench.gui.file_actions import CANCEL, RELOAD


def _other_process_adds_a_run(path) -> None:
    import numpy as np

    from workbench.project import Project

    with Project.open(path, lock=True) as p:  # what `workbench train` does, in short
        p.add_run("m", sorted(p.views)[0], {}, {"w": np.ones(3, np.float32)})
        p.save()


def _runs_on_disk(path) -> list[str]:
    from workbench.project import Project

    with Project.open(path) as p:
        return [r.id for r in p.runs]


def test_a_save_after_another_process_saved_offers_to_reload_and_writes_nothing(opened, qtbot, station):
    asked: list[tuple[str, bool]] = []
    answer = {"value": CANCEL}

    def ask(message, dirty):
        asked.append((message, dirty))
        return answer["value"]

    opened.files.ask_reload = ask
    opened.model.edit(lambda p: p.set_meta("note", "window edit"))
    qtbot.waitUntil(lambda: opened.model.dirty and not opened.model.busy, timeout=10000)
    before = _runs_on_disk(station)
    _other_process_adds_a_run(station)
    opened.model.save()
    qtbot.waitUntil(lambda: bool(asked), timeout=10000)
    assert "was saved by another process" in asked[0][0] and asked[0][1] is True
    after = _runs_on_disk(station)
    assert len(after) == len(before) + 1  # the other process's run is still there
    assert opened.model.dirty  # and the window kept its edit
    answer["value"] = RELOAD
    opened.files.on_changed_elsewhere("again")
    qtbot.waitUntil(
        lambda: not opened.model.dirty and len(opened.model.snapshot.runs) == len(after), timeout=20000
    )


def test_the_window_notices_a_save_by_another_process_without_saving(opened, qtbot, station):
    asked: list[str] = []
    opened.files.ask_reload = lambda message, dirty: asked.append(message) or CANCEL
    _other_process_adds_a_run(station)
    opened.model.check_disk()  # what the window's timer does every few seconds
    qtbot.waitUntil(lambda: bool(asked), timeout=10000)
    assert "was saved by another program" in asked[0]
    opened.model.check_disk()
    qtbot.wait(300)
    assert len(asked) == 1  # told once per change
