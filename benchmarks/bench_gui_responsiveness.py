"""Largest gap of a 20 ms GUI-thread heartbeat over the whole tour of the window (one JSON line).

The tour (tests/gui/tour.py) goes as a user would from the start page (Open the demo station) through
every step: a sample clicked, the video's passes found, a view's zones, a synthetic sample, a click on
the bead in Synthesis, a small training, a pixel read in Compare with its nearest normal patch, a
threshold moved and saved, a bundle exported with it, the bundle run on the video, a report. The goal
is no gap over 100 ms. The baseline, measured in the same run, is the idle window's largest gap.

On a loaded machine a wall-clock gap also holds the time the process waited for a core; the CPU time
the GUI thread itself used between two beats (``time.thread_time``) does not, so the largest of those
(``largest_gui_cpu_ms``) bounds the GUI thread's own work whatever the load. Both are printed.

Usage: python benchmarks/bench_gui_responsiveness.py [--demo-dir DIR]
  DIR holds the ready demo station (built there first when absent: that build is part of the tour);
  default $WORKBENCH_DEMO_DIR, else a temporary folder. Runs on $DISPLAY when there is one (xvfb-run),
  else offscreen.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HEARTBEAT_MS = 20
GOAL_MS = 100
IDLE_S = 5.0


class Watchdog:
    """Samples the GUI thread's Python stack every 10 ms while its heartbeat is late (``--why``)."""

    def __init__(self, late_s: float):
        import collections
        import threading

        self.late_s, self.last, self.phase = late_s, time.perf_counter(), ""
        self.main = threading.get_ident()
        self.stacks: collections.Counter = collections.Counter()
        threading.Thread(target=self._run, daemon=True).start()

    def beat(self, phase: str) -> None:
        self.last, self.phase = time.perf_counter(), phase

    def _run(self) -> None:
        import traceback

        while True:
            time.sleep(0.01)
            if time.perf_counter() - self.last > self.late_s:
                frame = sys._current_frames().get(self.main)
                if frame is not None:
                    lines = [
                        f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}"
                        for f in traceback.extract_stack(frame)[-10:]
                    ]
                    self.stacks[(self.phase, "\n  ".join(lines))] += 1

    def report(self, top: int = 12) -> str:
        return "\n".join(
            f"[{phase}] x{n} (~{n * 10} ms)\n  {stack}" for (phase, stack), n in self.stacks.most_common(top)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-dir", type=Path, default=None)
    parser.add_argument("--until", default=None, help="stop after this step (a shorter tour)")
    parser.add_argument(
        "--why",
        action="store_true",
        help="sample the GUI thread's stack while it is late; print them to stderr",
    )
    args = parser.parse_args()
    demo = args.demo_dir or Path(
        os.environ.get("WORKBENCH_DEMO_DIR") or tempfile.mkdtemp(prefix="bench-demo-")
    )
    os.environ["WORKBENCH_DEMO_DIR"] = str(demo)
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "gui"))
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication
    from tour import Tour

    from workbench.gui import theme
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="bench-gui-"))
    app = QApplication([])
    theme.apply(app, "dark")
    win = MainWindow(
        settings=Settings(QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat)), probe_device=False
    )
    win.resize(1366, 768)
    win.show()
    state = {
        "last": time.perf_counter(),
        "cpu": time.thread_time(),
        "phase": "idle",
        "ticks": 0,
        "gaps": {},
        "worst": (0.0, ""),
        "cpu_gaps": {},
        "cpu_worst": (0.0, ""),
    }

    def tick() -> None:
        now, cpu = time.perf_counter(), time.thread_time()  # the GUI thread's own CPU time
        gap, cpu_gap = now - state["last"], cpu - state["cpu"]
        state["last"], state["cpu"], state["ticks"] = now, cpu, state["ticks"] + 1
        state["cpu_gaps"][state["phase"]] = max(state["cpu_gaps"].get(state["phase"], 0.0), cpu_gap)
        if state["phase"] != "idle" and cpu_gap > state["cpu_worst"][0]:
            state["cpu_worst"] = (cpu_gap, state["phase"])
        if watch is not None:
            watch.beat(state["phase"])
        phase = state["phase"]
        state["gaps"][phase] = max(state["gaps"].get(phase, 0.0), gap)
        if phase != "idle" and gap > state["worst"][0]:
            state["worst"] = (gap, phase)

    watch = Watchdog(GOAL_MS / 2000) if args.why else None
    beat = QTimer()
    beat.setInterval(HEARTBEAT_MS)
    beat.timeout.connect(tick)
    tour = Tour(win)

    def begin_tour() -> None:
        state["phase"] = tour.stops[0].key
        tour.start()

    def on_arrived(key: str) -> None:
        print(f"{key}: done in {tour.times.get(key)} s", file=sys.stderr, flush=True)
        if tour.stops:
            state["phase"] = tour.stops[0].key

    tour.arrived.connect(on_arrived)

    def report(times: dict, error: str = "") -> None:
        beat.stop()
        largest, where = state["worst"]
        idle = state["gaps"].get("idle", 0.0)
        print(
            json.dumps(
                {
                    "bench": "gui_responsiveness",
                    "heartbeat_ms": HEARTBEAT_MS,
                    "goal_ms": GOAL_MS,
                    "largest_gap_ms": round(largest * 1000, 1),
                    "largest_gap_in": where,
                    "idle_largest_gap_ms": round(idle * 1000, 1),
                    "ratio_to_idle": round(largest / idle, 2) if idle else None,
                    "per_step_largest_gap_ms": {k: round(v * 1000, 1) for k, v in state["gaps"].items()},
                    "largest_gui_cpu_ms": round(state["cpu_worst"][0] * 1000, 1),
                    "largest_gui_cpu_in": state["cpu_worst"][1],
                    "per_step_largest_gui_cpu_ms": {
                        k: round(v * 1000, 1) for k, v in state["cpu_gaps"].items()
                    },
                    "step_seconds": times,
                    "ticks": state["ticks"],
                    "platform": app.platformName(),
                    "torch_in_window": "torch" in sys.modules,
                    "load": round(os.getloadavg()[0], 2),
                    **({"error": error} if error else {}),
                }
            )
        )
        if watch is not None:
            print(watch.report(), file=sys.stderr)
        win._close_confirmed = True
        win.close()
        app.quit()

    tour.finished.connect(report)
    tour.failed.connect(lambda key, why: report(tour.times, f"{key}: {why}"))
    if args.until:
        tour.stops = tour.stops[: [s.key for s in tour.stops].index(args.until) + 1]
    QTimer.singleShot(
        0, lambda: (state.update(last=time.perf_counter(), cpu=time.thread_time()), beat.start())
    )
    QTimer.singleShot(int(IDLE_S * 1000), begin_tour)  # the idle window first: the baseline
    app.exec()


if __name__ == "__main__":
    main()
