"""The Train step's plan on a real display at 1366x768: each view's predicted fit and predict time, peak
memory and working size are on screen, inside the window, with nothing scrolling sideways; a fit that
would not fit in memory shows the refusal and a size that would, and Train is disabled with the reason.
The pictures are kept in WORKBENCH_SCREENSHOT_DIR when it is set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ORIGINAL_QPA
from PySide6.QtGui import QImage

SHOOT = Path(__file__).with_name("shoot_train_plan.py")
SIZE = (1366, 768)


def _real_display() -> bool:
    return bool(os.environ.get("DISPLAY")) and ORIGINAL_QPA != "offscreen"


@pytest.mark.screenshot
@pytest.mark.skipif(
    not _real_display(), reason="needs a real X display (DISPLAY set, QT_QPA_PLATFORM not offscreen)"
)
def test_the_train_steps_plan_and_refusal_on_screen(station, tmp_path):
    out = Path(os.environ.get("WORKBENCH_SCREENSHOT_DIR") or tmp_path / "shots")
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env["QT_QPA_PLATFORM"] = ORIGINAL_QPA or "xcb"
    run = subprocess.run(
        [sys.executable, str(SHOOT), str(station), str(out), f"{SIZE[0]}x{SIZE[1]}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert lines and lines[-1].get("done"), run.stderr[-3000:]
    assert not lines[-1]["torch"], "the window's process never imports torch (the planner runs in a worker)"
    planned, refused = lines[0], lines[1]
    for shot in (planned, refused):
        image = QImage(shot["png"])
        assert (image.width(), image.height()) == SIZE
        assert not shot["horizontal_scroll_bars"], shot["horizontal_scroll_bars"]
        x0, y0, x1, y1 = shot["plan_box"]
        assert shot["plan_visible"] and 0 <= x0 < x1 <= SIZE[0] and 0 <= y0 < y1 <= SIZE[1]
    assert sorted(p["view"] for p in planned["plans"]) == ["back", "front"]
    text = planned["plan_text"]
    assert text.count("patchcore at 64x48 on ") == 2 and text.count("peak memory ~") == 2
    assert "fit ~" in text and "predict " in text and "working size 64x48" in text
    assert planned["train_enabled"] and not planned["train_tip"]
    assert all(p.get("refused") for p in refused["plans"]) and "refused" in refused["plan_text"]
    assert not refused["train_enabled"] and "Train is off" in refused["refused_note"]
    assert "needs about" in refused["train_tip"] and "would need about" in refused["train_tip"]
