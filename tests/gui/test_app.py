"""``workbench.gui.app.run``: a screenshot run saves a picture and exits 0 without importing torch;
the status bar finds the device without torch and shows memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ORIGINAL_QPA
from PySide6.QtGui import QImage

from workbench.gui.status_bar import StatusBar, format_bytes, parse_nvidia_smi, process_memory_bytes

RUN = """
import json, sys
from workbench.gui.app import run
code = run({project!r}, screenshot={png!r}, size=({w}, {h}), settings_path={ini!r})
print(json.dumps({{"code": code, "torch": "torch" in sys.modules}}))
"""


def run_screenshot(project, png, size, tmp_path, env_extra=None) -> dict:
    env = {**os.environ, **(env_extra or {})}
    script = RUN.format(project=project, png=str(png), w=size[0], h=size[1], ini=str(tmp_path / "s.ini"))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_screenshot_run_saves_the_window_and_skips_torch(station, tmp_path):
    png = tmp_path / "shot.png"
    result = run_screenshot(str(station), png, (1280, 800), tmp_path, {"QT_QPA_PLATFORM": "offscreen"})
    assert result == {"code": 0, "torch": False}
    image = QImage(str(png))
    assert (image.width(), image.height()) == (1280, 800)


def test_screenshot_of_a_missing_project_exits_non_zero(tmp_path):
    result = run_screenshot(
        str(tmp_path / "nope.awb"), tmp_path / "x.png", (800, 600), tmp_path, {"QT_QPA_PLATFORM": "offscreen"}
    )
    assert result["code"] == 1


def test_gpu_names_come_from_nvidia_smi_output():
    text = "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1234)\nGPU 1: NVIDIA A10 (UUID: GPU-5678)\n"
    assert parse_nvidia_smi(text) == ["NVIDIA H100 80GB HBM3", "NVIDIA A10"]
    assert parse_nvidia_smi("") == []


def test_status_bar_says_cpu_without_nvidia_smi_and_shows_memory(qtbot):
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.probe_device("workbench-no-such-program")
    qtbot.waitUntil(lambda: bar.gpus is not None, timeout=10000)
    assert bar.device.text() == "Device: CPU"
    bar.set_gpus(["NVIDIA H100"])
    assert "NVIDIA H100" in bar.device.text()
    if sys.platform.startswith("linux"):
        assert process_memory_bytes() > 10 * 2**20
        assert bar.memory.text().endswith("MB") or bar.memory.text().endswith("GB")
    assert format_bytes(3 * 2**30) == "3.0 GB"
    bar.shutdown()


def _real_display() -> bool:
    return bool(os.environ.get("DISPLAY")) and ORIGINAL_QPA != "offscreen"


@pytest.mark.screenshot
@pytest.mark.skipif(
    not _real_display(), reason="needs a real X display (DISPLAY set, QT_QPA_PLATFORM not offscreen)"
)
@pytest.mark.parametrize("size", [(1920, 1080), (1366, 768)], ids=["1920x1080", "1366x768"])
def test_screenshots_on_a_real_display(station, tmp_path, size):
    folder = Path(os.environ.get("WORKBENCH_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"workbench-{size[0]}x{size[1]}.png"
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env["QT_QPA_PLATFORM"] = ORIGINAL_QPA or "xcb"
    result = run_screenshot(str(station), png, size, tmp_path, env)
    assert result == {"code": 0, "torch": False}
    image = QImage(str(png))
    assert (image.width(), image.height()) == size
