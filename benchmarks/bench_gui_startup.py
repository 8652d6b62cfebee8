"""Time from process launch to a usable workbench window, against `python -c "import PySide6.QtWidgets"`.

"Usable" is what ``workbench.gui.app.run(screenshot=...)`` waits for: the window shown and, with
``--project``, the station's tree, first frame and first sample on screen. Each figure is the median
of ``--repeat`` fresh processes. Prints one JSON line. Runs headless (offscreen Qt) without a display.

Wall-clock time follows the machine's load (other jobs on the same cores); the CPU time the process
used (user + system, to its exit) does much less, so both are reported with the load average.

    python benchmarks/bench_gui_startup.py [--project station.awb] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WINDOW = """
import json, sys
from workbench.gui.app import run
code = run({project!r}, screenshot={png!r}, size=(1366, 768), settings_path={ini!r})
print(json.dumps({{"code": code, "torch": "torch" in sys.modules, "h5py": "h5py" in sys.modules}}))
"""


def _children_cpu() -> float:
    """CPU seconds used by finished child processes so far (0 where the OS does not say: Windows)."""
    try:
        import resource
    except ImportError:
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _load() -> float:
    """The 1-minute load average (processes wanting a core), NaN where the OS does not say."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def launch(args: list[str], env: dict[str, str], ready_file: str | None = None) -> tuple[float, float, str]:
    """Seconds from spawning the process to its exit, or to when it wrote ``ready_file``; the CPU
    seconds it used (to its exit); its stdout.

    The window process writes its screenshot the moment it is usable, so the file's modification time
    marks "ready" without counting the shutdown that follows.
    """
    if ready_file and os.path.exists(ready_file):
        os.remove(ready_file)
    cpu0, t0 = _children_cpu(), time.time()
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    t_end, cpu = time.time(), _children_cpu() - cpu0
    if out.returncode != 0:
        raise SystemExit(f"benchmark process failed ({out.returncode}): {out.stderr[-2000:]}")
    if ready_file:
        return os.stat(ready_file).st_mtime - t0, cpu, out.stdout
    return t_end - t0, cpu, out.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default=None, help="station to open (default: the empty window)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    env = dict(os.environ)
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    with tempfile.TemporaryDirectory() as tmp:
        png, ini = str(Path(tmp) / "shot.png"), str(Path(tmp) / "settings.ini")
        window_cmd = [sys.executable, "-c", WINDOW.format(project=args.project, png=png, ini=ini)]
        baseline_cmd = [sys.executable, "-c", "import PySide6.QtWidgets"]
        launch(baseline_cmd, env)  # warm the OS file cache for both, so neither pays for a cold disk
        *_, out = launch(window_cmd, env, png)
        window_s, window_cpu, baseline_s, baseline_cpu = [], [], [], []
        load_before = _load()
        for _ in range(args.repeat):  # interleaved, so drift in machine load hits both alike
            t, cpu, _out = launch(baseline_cmd, env)
            baseline_s.append(t)
            baseline_cpu.append(cpu)
            t, cpu, out = launch(window_cmd, env, png)
            window_s.append(t)
            window_cpu.append(cpu)
        state = json.loads(out.strip().splitlines()[-1])
    w, b = statistics.median(window_s), statistics.median(baseline_s)
    print(
        json.dumps(
            {
                "benchmark": "gui_startup",
                "window_ready_s": round(w, 3),
                "window_cpu_s": round(statistics.median(window_cpu), 3),
                "baseline_import_qtwidgets_s": round(b, 3),
                "baseline_cpu_s": round(statistics.median(baseline_cpu), 3),
                "ratio_to_baseline": round(w / b, 2),
                "load_1min": [round(load_before, 2), round(_load(), 2)],
                "goal_s": 2.0,
                "project": args.project,
                "exit_code": state["code"],
                "torch_imported": state["torch"],
                "h5py_imported": state["h5py"],
                "platform": env.get("QT_QPA_PLATFORM", "native"),
                "repeat": args.repeat,
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
