"""How the screenshot process brings the Train, Compare, Thresholds and Report panes to what a user
sees after the walk-through (imported in the screenshot's own process, on a trained demo station).

``prepare(win, pane, shoot)`` works the pane through its widgets and calls ``shoot()`` once the picture
is worth taking; ``win.shot_note`` says what was reached (the test checks it).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt, QTimer

PANES = ("train", "compare", "thresholds", "report")
LOSS_MODEL = ("stfpm", {"image_size": [64, 64], "max_iters": 12, "train_batch": 2})  # a model with a loss


def prepare(win, pane: str, shoot: Callable[[], None]) -> None:
    win.shot_note = {"reached": None}
    win.show_pane(pane)
    {"train": _train, "compare": _compare, "thresholds": _thresholds, "report": _report}[pane](win, shoot)


def _reached(win, what: str, shoot: Callable[[], None]) -> None:
    win.shot_note["reached"] = what
    QTimer.singleShot(300, shoot)  # the last repaint lands first


def _train(win, shoot) -> None:
    """Train a tiny model with a loss on one view; the picture shows the finished bar and loss curve."""
    pane = win.analysis_panes["train"]
    model, params = LOSS_MODEL

    def start() -> None:
        if pane.model_combo.count() == 0:
            QTimer.singleShot(200, start)
            return
        pane.model_combo.setCurrentText(model)
        for key, value in params.items():
            pane.form.set_value(key, value)
        for i in range(pane.views.count()):
            item = pane.views.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.text() == "front" else Qt.CheckState.Unchecked)
        pane.trained.connect(lambda _ids: _reached(win, "trained", shoot))
        pane.job.failed.connect(lambda m: _reached(win, f"failed: {m}", shoot))
        pane.train_button.click()

    start()


def _compare(win, shoot) -> None:
    """Both runs of the center view on its defective samples; a pixel on a defect read in each run."""
    pane = win.analysis_panes["compare"]
    pane.view_combo.setCurrentText("center")

    def pick() -> None:
        if pane.busy or not pane.cells:
            QTimer.singleShot(200, pick)
            return
        sid = next(iter(pane.cells))[1]
        win.model.call(lambda p: p.gt_mask(sid), lambda gt: _pick_defect(sid, gt))

    def _pick_defect(sid: int, gt) -> None:
        y, x = np.argwhere(gt > 0).mean(axis=0).astype(int) if gt is not None and gt.any() else (20, 20)
        pane.explained.connect(lambda _out: _reached(win, "explained", shoot))
        pane.pick(sid, int(y), int(x))

    QTimer.singleShot(500, pick)


def _thresholds(win, shoot) -> None:
    """Per-zone sliders of the newest training; the center zone whose move changes most verdicts is
    set just below one of its peaks, so the list of changed verdicts has something to show."""
    pane = win.analysis_panes["thresholds"]
    pane.set_scope("zone")

    def flips(key, value: float) -> int:
        rid, region = key
        d = pane.data[rid]
        new = pane.thresholds(rid)
        new[d.regions.index(region)] = value
        return len(d.flips(region, new, pane.rows[key].value()).index)

    def move() -> None:
        if pane.busy or not pane.rows or pane.scope != "zone":
            QTimer.singleShot(200, move)
            return
        options = [
            (k, float(np.nextafter(p, -np.inf)))
            for k in pane.rows
            if pane.data[k[0]].view == "center"
            for p in pane.data[k[0]].peaks(k[1])
            if np.isfinite(p)
        ]
        key, value = max(options, key=lambda o: flips(*o))
        pane.rows[key].spin.setValue(value)  # typed into the number box: the slider follows
        _reached(win, "moved", shoot)

    move()


def _report(win, shoot) -> None:
    """Write the report (the browser is not opened in a test) and show the finished pane."""
    from workbench.gui.panes import report_pane

    report_pane.open_in_browser = lambda path: True
    pane = win.analysis_panes["report"]
    pane.written.connect(lambda _p: _reached(win, "written", shoot))
    pane.job.failed.connect(lambda m: _reached(win, f"failed: {m}", shoot))
    pane.write()
