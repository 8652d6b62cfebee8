"""Take the tour of the window (tour.py) and grab the whole window at every step at each size asked for
(the window is resized between the pictures of one step: one tour serves every size), with what the
screenshot test checks: the share of the width the active step gets, the horizontal scroll bars shown
anywhere, and whether the step's page fits its width without clipping. One JSON line per picture.

    python tests/gui/shoot_tour.py DEMO_DIR OUT_DIR 1366x768 1920x1080
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def layout_facts(win) -> dict:
    """What the test checks of the window as it is on screen now."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QAbstractScrollArea, QScrollBar

    holder = win.workspace.stack.currentWidget()  # the step's page in its up-and-down scroll area
    page = holder.widget()
    bars = []
    for bar in win.findChildren(QScrollBar):
        if bar.orientation() != Qt.Orientation.Horizontal or not bar.isVisible() or bar.maximum() <= 0:
            continue
        owner = bar.parent()
        while owner is not None and not isinstance(owner, QAbstractScrollArea):
            owner = owner.parent()
        name = type(owner).__name__ if owner is not None else "?"
        bars.append(f"{name} in {type(owner.parent()).__name__ if owner is not None else '?'}")
    return {
        "step": win.workspace.current,
        "window": [win.width(), win.height()],
        "workspace_width": win.workspace.stack.width(),
        "width_share": round(win.workspace.stack.width() / win.width(), 3),
        "page_min_width": page.minimumSizeHint().width(),
        "page_width": holder.viewport().width(),
        "scrolls_up_and_down": holder.verticalScrollBar().isVisible(),
        "horizontal_scroll_bars": bars,
        "side_docks_open": [k for k, d in win.docks.items() if d.isVisible()],
    }


def main() -> None:
    demo, out = sys.argv[1], Path(sys.argv[2])
    sizes = [tuple(int(x) for x in arg.split("x")) for arg in sys.argv[3:]]
    os.environ["WORKBENCH_DEMO_DIR"] = demo
    sys.path.insert(0, str(Path(__file__).parent))
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication
    from tour import Tour

    from workbench.gui import theme
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv[:1])
    theme.apply(app, "dark")
    win = MainWindow(
        settings=Settings(QSettings(str(out / "shots.ini"), QSettings.Format.IniFormat)),
        probe_device=False,
    )
    win.resize(*sizes[0])
    win.show()
    tour = Tour(win, between=lambda go_on: shoot(go_on))

    def shoot(then, todo=None) -> None:
        todo = list(sizes) if todo is None else todo
        if not todo:
            then()
            return
        width, height = todo.pop(0)
        win.resize(width, height)

        def grab() -> None:
            facts = layout_facts(win)
            png = out / f"workbench-{facts['step']}-{width}x{height}.png"
            facts.update(png=str(png), saved=win.grab().save(str(png)))
            print(json.dumps(facts), flush=True)
            shoot(then, todo)

        win.when_ready(lambda: QTimer.singleShot(600, grab))  # the new size laid out, the last repaint landed

    def end(error: str = "") -> None:
        done = {"done": True, "times": tour.times, "error": error, "torch": "torch" in sys.modules}
        print(json.dumps(done), flush=True)
        win._close_confirmed = True
        win.close()
        app.quit()

    tour.finished.connect(lambda _t: end())
    tour.failed.connect(lambda key, why: end(f"{key}: {why}"))
    QTimer.singleShot(500, lambda: shoot(tour.start))  # the start page first
    app.exec()


if __name__ == "__main__":
    main()
