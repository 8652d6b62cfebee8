"""Screenshots of every step of the window on a real display at 1366x768 and 1920x1080, taken on the tour
a user would take on the demo station (start page, Station, Import, Views, Samples, Synthesis, Train,
Compare, Thresholds, Export, Line, Report). Each picture is checked: the active step has at least 75 %
of the window's width, no pane shows a horizontal scroll bar, and the step's page is not narrower than
its contents need (nothing clipped). The README's pictures are these (WORKBENCH_SCREENSHOT_DIR keeps
them; scripts/readme_pictures.sh copies the ones the README shows).

The demo station is built once per session (conftest.ready_demo), or taken from $WORKBENCH_DEMO_DIR
when that holds one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ORIGINAL_QPA
from PySide6.QtGui import QImage

from workbench.gui.steps import STEPS

SHOOT = Path(__file__).with_name("shoot_tour.py")
MIN_SHARE = 0.75
SIZES = ((1366, 768), (1920, 1080))


def _real_display() -> bool:
    return bool(os.environ.get("DISPLAY")) and ORIGINAL_QPA != "offscreen"


@pytest.mark.screenshot
@pytest.mark.skipif(
    not _real_display(), reason="needs a real X display (DISPLAY set, QT_QPA_PLATFORM not offscreen)"
)
def test_every_step_gets_the_room_and_nothing_scrolls_sideways(ready_demo, tmp_path):
    import shutil

    demo = tmp_path / "demo"  # the tour trains and saves: a private copy of the session's demo
    shutil.copytree(ready_demo, demo, ignore=shutil.ignore_patterns("*.lock"))
    out = Path(os.environ.get("WORKBENCH_SCREENSHOT_DIR") or tmp_path / "shots")
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env["QT_QPA_PLATFORM"] = ORIGINAL_QPA or "xcb"
    run = subprocess.run(
        [sys.executable, str(SHOOT), str(demo), str(out), *(f"{w}x{h}" for w, h in SIZES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=3000,
    )
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert lines and lines[-1].get("done"), run.stderr[-3000:]
    assert not lines[-1]["error"], lines[-1]["error"]
    assert not lines[-1]["torch"], "the window's process never imports torch (models run in workers)"
    shots = {(f["step"], tuple(f["window"])): f for f in lines if "step" in f}
    for size in SIZES:
        steps = {step for step, s in shots if s == size}
        assert steps >= {"start", *(s.key for s in STEPS)}, (size, sorted(steps))
    for (step, size), f in shots.items():
        image = QImage(f["png"])
        assert (image.width(), image.height()) == size, step
        where = f"{step} at {size[0]}x{size[1]}"
        assert f["width_share"] >= MIN_SHARE, f"{where}: the step has {f['width_share']:.0%} of the width"
        assert not f["horizontal_scroll_bars"], f"{where}: {f['horizontal_scroll_bars']}"
        assert f["page_min_width"] <= f["page_width"], (
            f"{where}: needs {f['page_min_width']} px, has {f['page_width']}"
        )
