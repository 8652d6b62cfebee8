"""The Line step lists each part the runtime reports: its verdict in green or red, a suspect pass in amber
with the tracking's reasons, each view's score in units of its threshold, and the chosen part's crops."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QColor

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def part(n: int, verdict: str, status: str = "ok", reasons=()) -> tuple[dict, dict, dict]:
    views = {
        "front": {"verdict": verdict, "score": 3.0 if verdict == "NG" else 1.0, "threshold": 2.0},
        "back": {"verdict": "OK", "score": 0.5, "threshold": 2.0},
    }
    result = {"part": n, "frames": [10 * n, 10 * n + 8], "verdict": verdict, "status": status, "views": views}
    if reasons:
        result["reasons"] = list(reasons)
    crops = {v: np.full((30, 40, 3), 90, np.uint8) for v in views}
    maps = {v: np.linspace(0, 4, 30 * 40, dtype=np.float32).reshape(30, 40) for v in views}
    return result, crops, maps


def test_parts_are_listed_with_verdicts_and_suspect_passes(window):
    pane = window.analysis_panes["line"]
    pane._on_part(*part(1, "OK"))
    pane._on_part(*part(2, "NG"))
    pane._on_part(*part(3, "OK", "suspect", ["view 'back' matched twice"]))
    assert pane.table.rowCount() == 3
    assert pane.table.item(1, 2).foreground().color() == QColor(window.colors.defective)
    assert pane.table.item(0, 2).foreground().color() == QColor(window.colors.good)
    status = pane.table.item(2, 3)
    assert status.text() == "suspect" and status.foreground().color() == QColor(window.colors.warn)
    assert "matched twice" in status.toolTip()
    assert "front NG 1.50×" in pane.table.item(1, 4).text()  # the score in units of the threshold
    totals = pane.totals.text()
    assert "<b>3</b> parts" in totals and "2 OK" in totals and "1 NG" in totals and "1 suspect" in totals
    pane.table.selectRow(2)  # the chosen part's views, their crops with heatmaps
    assert pane.picture_grid.count() == 4 and "matched twice" in pane.detail_title.text()


def test_a_run_without_a_bundle_says_so_and_starts_nothing(window, tmp_path):
    pane = window.analysis_panes["line"]
    pane.bundle.setText(str(tmp_path))
    pane.source.setText(str(tmp_path / "none.mp4"))
    pane.start()
    assert not pane.job.running and "not a bundle folder" in pane.bar.message.text()
