"""Screenshots of pane states the tour of test_screens.py does not reach, on a real display (1920x1080
and 1366x768): the Import preview on the small test station's video, a view's ROI and zones, and the
Synthesis pane's one defect, batch and counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ORIGINAL_QPA
from PySide6.QtGui import QImage

SHOT = r"""
import json, os, sys
from pathlib import Path
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
from workbench.gui import theme
from workbench.gui.main_window import MainWindow
from workbench.gui.settings import Settings

project, pane, png, w, h, ini = sys.argv[1:7]
app = QApplication(sys.argv[:1])
theme.apply(app, "dark")
win = MainWindow(settings=Settings(QSettings(ini, QSettings.Format.IniFormat)), probe_device=False)
win.resize(int(w), int(h))
win.show()
win.open_project(project)
state = {"step": 0, "code": 1}

def prepare():
    snap = win.model.snapshot
    win.show_pane(pane.split("-")[0])
    video = snap.video_sources()[0].uri if snap.video_sources() else None
    if pane == "import" and video:
        win.import_pane.open_path(video)
        QTimer.singleShot(1500, win.import_pane.find_passes)
    elif pane.startswith("views") and snap.views:
        s = next((s for s in snap.samples if s.view == next(iter(snap.views))), None)
        if s is not None:
            win.model.select_sample(s.id)
        win.views_pane.view_box.setCurrentText(next(iter(snap.views)))
        if pane == "views-roi":
            win.views_pane.tabs.setCurrentWidget(win.views_pane.roi_editor)
    elif pane == "samples":
        first = next((s for s in snap.samples if s.has_mask), None)
        if first is not None:
            win.samples_pane.select_ids([first.id])
    elif pane.startswith("synthesis"):
        synth = win.setup_panes["synthesis"]
        synth.load_catalogue()
        if pane in ("synthesis-batch", "synthesis-counts"):
            synth.tabs.setCurrentWidget(synth.batch)
            synth.batch.count.setValue(12)
            if pane == "synthesis-counts":
                synth.batch.generated.connect(lambda _ids: synth.tabs.setCurrentWidget(synth.counts))
            synth.batch.start()
        else:
            place = synth.place
            place.type_box.setCurrentIndex(place.type_box.findData("bifurcation"))
            def click():
                line = max(place.bead.lines, key=lambda ln: ln.length) if place.bead else None
                if line is not None:
                    place.pick(*line.points[len(line.points) // 2])
            win.when_ready(click)
    QTimer.singleShot(4000, lambda: win.when_ready(save))

def save():
    state["code"] = 0 if win.grab().save(png) else 1
    win._close_confirmed = True
    win.close()
    app.quit()

win.when_ready(prepare)
QTimer.singleShot(int(os.environ.get("WORKBENCH_SHOT_LIMIT_MS", "90000")), save)
app.exec()
print(json.dumps({"code": state["code"], "torch": "torch" in sys.modules, **getattr(win, "shot_note", {})}))
"""


def shoot(project, pane, png, size, tmp_path, env, timeout: int = 180) -> dict:
    args = [sys.executable, "-c", SHOT, str(project), pane, str(png), str(size[0]), str(size[1])]
    out = subprocess.run(
        [*args, str(tmp_path / "s.ini")], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _real_display() -> bool:
    return bool(os.environ.get("DISPLAY")) and ORIGINAL_QPA != "offscreen"


@pytest.mark.screenshot
@pytest.mark.skipif(
    not _real_display(), reason="needs a real X display (DISPLAY set, QT_QPA_PLATFORM not offscreen)"
)
@pytest.mark.parametrize("pane", ["import", "views-roi"])
@pytest.mark.parametrize("size", [(1920, 1080), (1366, 768)], ids=["1920x1080", "1366x768"])
def test_pane_screenshots_on_a_real_display(station, tmp_path, size, pane):
    folder = Path(os.environ.get("WORKBENCH_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"workbench-{pane}-{size[0]}x{size[1]}.png"
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env["QT_QPA_PLATFORM"] = ORIGINAL_QPA or "xcb"
    project = os.environ.get("WORKBENCH_SCREENSHOT_STATION") or str(station)
    result = shoot(project, pane, png, size, tmp_path, env)
    assert result == {"code": 0, "torch": False}
    image = QImage(str(png))
    assert (image.width(), image.height()) == size


@pytest.fixture(scope="module")
def demo_station(tmp_path_factory) -> str:
    """A small demo station (rendered sealant beads, 6 passes): what the Synthesis pane needs to show."""
    from workbench.jobs.demo import build_demo_station

    if os.environ.get("WORKBENCH_SCREENSHOT_STATION"):
        return os.environ["WORKBENCH_SCREENSHOT_STATION"]
    return build_demo_station(tmp_path_factory.mktemp("demo"), passes=6, defect_rate=0.0, seed=1).project_path


@pytest.mark.screenshot
@pytest.mark.skipif(
    not _real_display(), reason="needs a real X display (DISPLAY set, QT_QPA_PLATFORM not offscreen)"
)
@pytest.mark.parametrize("pane", ["synthesis", "synthesis-batch", "synthesis-counts"])
@pytest.mark.parametrize("size", [(1920, 1080), (1366, 768)], ids=["1920x1080", "1366x768"])
def test_synthesis_pane_screenshots_on_a_real_display(demo_station, tmp_path, size, pane):
    test_pane_screenshots_on_a_real_display(demo_station, tmp_path, size, pane)
