"""GUI tests run headless (offscreen Qt) unless a real display is asked for; a tiny station to open."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Before Qt is imported: the in-process tests always use the offscreen platform (no windows flash on a
# developer's desktop); the screenshot test starts its own process on the real display when there is one.
# WORKBENCH_REAL_DISPLAY=1 runs everything on the real display instead (to watch the tests).
ORIGINAL_QPA = os.environ.get("QT_QPA_PLATFORM", "")
if not os.environ.get("WORKBENCH_REAL_DISPLAY"):
    os.environ["QT_QPA_PLATFORM"] = "offscreen"

import pytest  # noqa: E402 - after the platform is chosen

sys.path.insert(0, str(Path(__file__).parent))

from station_fixture import build_station  # noqa: E402


@pytest.fixture(scope="session")
def station_dir(tmp_path_factory) -> Path:
    """A station built once per session: 90-frame video, 2 views, 3 passes, 6 samples (2 with masks)."""
    folder = tmp_path_factory.mktemp("station")
    build_station(folder)
    return folder


@pytest.fixture
def station(station_dir, tmp_path) -> Path:
    """A private copy of the session station (tests may edit and save it)."""
    import shutil

    out = tmp_path / "st"
    shutil.copytree(station_dir, out)
    return out / "station.awb"


@pytest.fixture
def settings(tmp_path):
    """Settings in a temporary .ini file, so tests never touch the user's recent projects."""
    from PySide6.QtCore import QSettings

    from workbench.gui.settings import Settings

    return Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def window(qtbot, settings):
    from workbench.gui.main_window import MainWindow

    w = MainWindow(settings=settings)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    yield w
    w._close_confirmed = True
    w.close()


@pytest.fixture
def opened(window, station, qtbot):
    """The window with the test station open and its first picture on screen."""
    window.open_project(str(station))
    qtbot.waitUntil(lambda: window.model.snapshot is not None, timeout=20000)
    qtbot.waitUntil(window.is_ready, timeout=20000)
    return window


@pytest.fixture(autouse=True)
def no_blocking_dialogs(monkeypatch):
    """Modal dialogs would wait forever offscreen: answer them at once and record what was asked.

    The unsaved-changes prompt answers "discard" (tests of the prompt replace it on their instance);
    message boxes return their default button. ``no_blocking_dialogs`` lists (kind, text) asked.
    """
    from PySide6.QtWidgets import QMessageBox

    from workbench.gui import file_actions

    asked: list[tuple[str, str]] = []
    monkeypatch.setattr(file_actions.FileActions, "ask_unsaved", lambda self, name: file_actions.DISCARD)

    def answer(kind):
        def box(parent, title, text, *args, **kwargs):
            asked.append((kind, str(text)))
            buttons = [a for a in args if isinstance(a, QMessageBox.StandardButton)]
            return buttons[-1] if len(buttons) > 1 else QMessageBox.StandardButton.Ok

        return box

    for kind in ("question", "warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, kind, staticmethod(answer(kind)))
    return asked


@pytest.fixture(scope="session")
def ready_demo(tmp_path_factory) -> Path:
    """The demo station as "Open the demo station" builds it (trained runs, a policy), once per session;
    $WORKBENCH_DEMO_DIR is used instead when it holds one made by the current recipe."""
    from workbench.jobs.demo import build_ready_demo
    from workbench.jobs.demo_recipe import ready_demo as is_ready

    given = os.environ.get("WORKBENCH_DEMO_DIR")
    if given and is_ready(given) is not None:
        return Path(given)
    folder = tmp_path_factory.mktemp("ready-demo")
    build_ready_demo(folder)
    return folder
