"""Largest gap of a 10 ms GUI-thread heartbeat while the Train pane trains a small PaDiM (one JSON line).

Usage: python benchmarks/bench_gui_responsiveness.py [station.awb]  (default: a tiny generated station)
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="bench-gui-"))
    if len(sys.argv) > 1:
        station = sys.argv[1]
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "gui"))
        from station_fixture import build_station

        station = str(build_station(tmp))
    app = QApplication([])
    win = MainWindow(
        settings=Settings(QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat)), probe_device=False
    )
    win.resize(1280, 800)
    win.show()
    state = {"last": 0.0, "largest": 0.0, "ticks": 0, "t0": 0.0}
    beat = QTimer()
    beat.setInterval(10)

    def tick() -> None:
        now = time.perf_counter()
        state["largest"] = max(state["largest"], now - state["last"])
        state["last"], state["ticks"] = now, state["ticks"] + 1

    beat.timeout.connect(tick)
    pane = win.analysis_panes["train"]

    def start_when_ready() -> None:
        if pane.model_combo.count() == 0 or pane.busy:
            QTimer.singleShot(100, start_when_ready)
            return
        pane.model_combo.setCurrentText("padim")
        for k, v in {"backbone": "resnet18", "pretrained": False, "n_features": 20}.items():
            pane.form.set_value(k, v)
        state["last"] = state["t0"] = time.perf_counter()
        beat.start()
        pane.start()

    def finished(_ids) -> None:
        beat.stop()
        print(
            json.dumps(
                {
                    "bench": "gui_responsiveness",
                    "station": station,
                    "model": "padim/resnet18 (random weights)",
                    "train_seconds": round(time.perf_counter() - state["t0"], 2),
                    "heartbeat_ms": 10,
                    "ticks": state["ticks"],
                    "largest_gap_ms": round(state["largest"] * 1000, 1),
                }
            )
        )
        win._close_confirmed = True
        win.close()
        app.quit()

    pane.trained.connect(finished)
    pane.job.failed.connect(
        lambda m: (print(json.dumps({"bench": "gui_responsiveness", "error": m})), app.quit())
    )
    win.model.opened.connect(lambda _s: (win.show_pane("train"), start_when_ready()))
    win.open_project(station)
    app.exec()


if __name__ == "__main__":
    main()
