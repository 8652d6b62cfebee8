"""Open a station in the window, go to the Train step and grab the whole window twice: with a model's
plan on screen, then with a fit the plan refuses (it would not fit in memory). One JSON line per picture
with what the screenshot test checks.

    python tests/gui/shoot_train_plan.py STATION.awb OUT_DIR 1366x768
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

PLANNED = {"backbone": "resnet18", "pretrained": False}
REFUSED = {**PLANNED, "batch_size": 16, "image_size": [8192, 8192]}


def main() -> None:
    station, out = sys.argv[1], Path(sys.argv[2])
    width, height = (int(v) for v in sys.argv[3].split("x"))
    sys.path.insert(0, str(Path(__file__).parent))
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication
    from shoot_tour import layout_facts

    from workbench.gui import theme
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv[:1])
    theme.apply(app, "dark")
    win = MainWindow(settings=Settings(QSettings(str(out / "plan.ini"), QSettings.Format.IniFormat)))
    win.resize(width, height)
    win.show()

    def wait(cond, what: str, limit_s: float = 900.0) -> None:
        t0 = time.monotonic()
        while not cond():
            app.processEvents()
            time.sleep(0.02)
            if time.monotonic() - t0 > limit_s:
                raise TimeoutError(f"waited {limit_s:.0f} s for {what}")

    def settle(s: float = 0.6) -> None:
        t0 = time.monotonic()
        while time.monotonic() - t0 < s:
            app.processEvents()
            time.sleep(0.02)

    win.open_project(station)
    wait(lambda: win.model.snapshot is not None and win.is_ready(), "the station")
    win.show_pane("train")
    pane = win.analysis_panes["train"]
    wait(lambda: pane.model_combo.count() > 0, "the model catalogue")
    for name, params in (("planned", PLANNED), ("refused", REFUSED)):
        pane.model_combo.setCurrentText("patchcore")
        for key, value in params.items():
            pane.form.set_value(key, value)
        wait(
            lambda: pane.plans and not pane._plan_timer.isActive() and pane.plan.text() != "Planning …",
            "the plan",
        )
        settle()
        png = out / f"workbench-train-plan-{name}-{width}x{height}.png"
        facts = layout_facts(win)
        top_left = pane.plan.mapTo(win, pane.plan.rect().topLeft())
        bottom_right = pane.plan.mapTo(win, pane.plan.rect().bottomRight())
        facts.update(
            png=str(png),
            saved=win.grab().save(str(png)),
            plans=pane.plans,
            plan_text=pane.plan.text(),
            plan_box=[top_left.x(), top_left.y(), bottom_right.x(), bottom_right.y()],
            plan_visible=pane.plan.isVisible(),
            train_enabled=pane.train_button.isEnabled(),
            train_tip=pane.train_button.toolTip(),
            refused_note=pane.refused.text(),
        )
        print(json.dumps(facts, default=str), flush=True)
    print(json.dumps({"done": True, "torch": "torch" in sys.modules}), flush=True)
    win._close_confirmed = True
    win.close()


if __name__ == "__main__":
    main()
