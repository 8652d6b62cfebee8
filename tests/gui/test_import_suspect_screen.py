"""Screenshot of the Import pane on a real display (1366x768 and 1920x1080): a bracket-scene video where a sheet
hides one part's middle view; the pane shows the pass rule calibrated from the video and why, each view's
match signal with its threshold, and the suspect pass marked on the plot and listed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ORIGINAL_QPA
from PySide6.QtGui import QImage

from workbench.project import Project
from workbench.project.types import CropWindow, ViewInfo
from workbench.synth.scenes import SceneParams, render_scene
from workbench.synth.scenes.render import cut_templates

pytestmark = pytest.mark.screenshot

SHOT = r"""
import json, sys
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
from workbench.gui import theme
from workbench.gui.main_window import MainWindow
from workbench.gui.settings import Settings

project, video, png, w, h, ini = sys.argv[1:7]
app = QApplication(sys.argv[:1])
theme.apply(app, "dark")
win = MainWindow(settings=Settings(QSettings(ini, QSettings.Format.IniFormat)), probe_device=False)
win.resize(int(w), int(h))
win.show()
win.open_project(project)
out = {}

def prepare():
    win.show_pane("import")
    win.import_pane.open_path(video)
    QTimer.singleShot(1500, win.import_pane.find_passes)
    QTimer.singleShot(2000, wait)

def wait():
    pane = win.import_pane
    if pane.job.running or pane.rule is None:
        QTimer.singleShot(500, wait)
        return
    QTimer.singleShot(800, save)

def save():
    pane = win.import_pane
    out["saved"] = win.grab().save(png)
    out["marks"] = pane.plot.suspect_marks
    out["suspects"] = [pane.suspects.item(i).text() for i in range(pane.suspects.count())]
    out["rule"] = pane.rule_label.text()
    print(json.dumps(out))
    win._close_confirmed = True
    win.close()
    app.quit()

win.when_ready(prepare)
QTimer.singleShot(240000, save)
app.exec()
"""


@pytest.fixture(scope="module")
def scene_station(tmp_path_factory):
    root = tmp_path_factory.mktemp("suspect_screen")
    params = SceneParams(
        width=848, height=480, fps=25, parts=4, gap_s=0.2, codec="mp4v", covered=((3, "middle"),), seed=9
    )
    truth = render_scene(root, params)
    p = Project.create(root / "station.awb")
    for name, (tpl, (frame, x, y)) in cut_templates(root, truth).items():
        th, tw = tpl.shape[:2]
        p.set_view(ViewInfo(name, tpl, CropWindow(-16, -16, tw + 32, th + 32), template_origin=(frame, x, y)))
    p.save()
    p.close()
    return root / "station.awb", root / truth["video"]


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_import_pane_shows_the_calibrated_rule_and_marks_the_suspect_pass(scene_station, tmp_path, size):
    if ORIGINAL_QPA == "offscreen" or not os.environ.get("DISPLAY"):
        pytest.skip("needs a real display (run under xvfb-run)")
    project, video = scene_station
    out_dir = Path(os.environ.get("WORKBENCH_SCREENSHOT_DIR", tmp_path))
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"import-suspect-{size[0]}x{size[1]}.png"
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    run = subprocess.run(
        [sys.executable, "-c", SHOT, str(project), str(video), str(png), str(size[0]), str(size[1]),
         str(tmp_path / "settings.ini")],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    doc = json.loads(run.stdout.strip().splitlines()[-1])
    assert doc["saved"] and QImage(str(png)).width() >= size[0] * 0.9
    assert doc["marks"] == 1 and len([t for t in doc["suspects"] if "suspect" in t]) == 1
    assert "view 'middle' not found" in doc["suspects"][0] or any("middle" in t for t in doc["suspects"])
    assert "calibrated from this video" in doc["rule"] and "Why" in doc["rule"]
