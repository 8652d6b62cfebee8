"""Speed of pass finding + matching with three views (issue 15): frames per second of the one pass tracker on
848x480 and 1920x1080 line videos of the bracket scene (mp4v, parts back to back), against decoding alone
in the same run, on 2 cores (OpenCV's threads set to 2).

Prints one JSON line: per size the frames per second of decoding alone, of line mode (tracking with the
calibrated rule, decoding included), of the import (calibration read + tracking read), the CPU seconds per
frame of each (every thread counted), the ratio to decoding, the goal (200 fps at 848x480, 25 at
1920x1080) and whether line mode meets it; and the load average when it ran (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import cv2

from workbench.io.calibrate import calibrate
from workbench.io.extract import ViewSpec, extract_samples
from workbench.io.tracker import PassTracker
from workbench.io.video import VideoReader, prefetched
from workbench.synth.scenes import SceneParams, render_scene
from workbench.synth.scenes.grid import templates_for

GOALS = {(848, 480): 200.0, (1920, 1080): 25.0}


def timed(fn):
    """(result, wall seconds, CPU seconds of the process: every thread)."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def decode(video: Path) -> int:
    n = 0
    with VideoReader(video) as r:
        for _ in r.frames(color="bgr"):
            n += 1
    return n


def line_mode(video: Path, rule, views: list[ViewSpec]) -> int:
    """What line mode does per frame: decode, grey, the tracker (window matches, refinement, crops)."""
    n = 0
    with VideoReader(video) as r:
        tracker = PassTracker(rule, [v.track_view() for v in views], (r.width, r.height))
        for index, bgr in prefetched(r.frames(color="bgr")):
            tracker.push(index, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), bgr)
            n += 1
        tracker.finish()
    return n


def measure(size: tuple[int, int], seconds: float, root: Path) -> dict:
    w, h = size
    params = SceneParams(width=w, height=h, fps=25.0, parts=max(3, int(seconds / 1.4)), gap_s=0.0, codec="mp4v",
                         seed=7)  # fmt: skip
    folder = root / f"{w}x{h}"
    truth_file = folder / "truth.json"
    truth = json.loads(truth_file.read_text()) if truth_file.is_file() else render_scene(folder, params)
    video = folder / truth["video"]
    views = [ViewSpec(n, t) for n, (t, _) in templates_for(params, folder, truth).items()]
    frames, dec_w, dec_c = timed(lambda: decode(video))
    rule, cal_w, cal_c = timed(lambda: calibrate(video, [(v.name, v.template) for v in views]))
    n, line_w, line_c = timed(lambda: line_mode(video, rule, views))
    ex, imp_w, imp_c = timed(lambda: extract_samples(video, views))
    goal = GOALS.get(size, 0.0)
    return {
        "size": f"{w}x{h}",
        "frames": frames,
        "views": len(views),
        "passes": len(ex.records),
        "decode_fps": round(frames / dec_w, 1),
        "line_fps": round(n / line_w, 1),
        "import_fps": round(frames / imp_w, 1),
        "calibration_fps": round(rule.calibrated_on.get("frames", frames) / cal_w, 1),
        "decode_cpu_ms_per_frame": round(1000 * dec_c / frames, 2),
        "line_cpu_ms_per_frame": round(1000 * line_c / n, 2),
        "import_cpu_ms_per_frame": round(1000 * imp_c / frames, 2),
        "tracking_cpu_ms_per_frame_without_decoding": round(1000 * (line_c - dec_c) / n, 2),
        "ratio_line_to_decode": round((n / line_w) / (frames / dec_w), 3),
        "ratio_import_to_decode": round((frames / imp_w) / (frames / dec_w), 3),
        "goal_fps": goal,
        "line_meets_goal": n / line_w >= goal,
        "import_meets_goal": frames / imp_w >= goal,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="video length (s)")
    ap.add_argument("--threads", type=int, default=2, help="OpenCV threads (cores)")
    ap.add_argument("--sizes", default="848x480,1920x1080")
    ap.add_argument("--cache", type=Path, default=None, help="keep the rendered videos here")
    args = ap.parse_args()
    cv2.setNumThreads(args.threads)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.cache or Path(tmp)
        results = [measure(s, args.seconds, root) for s in sizes]
    print(
        json.dumps(
            {
                "bench": "passes_speed",
                "threads": args.threads,
                "cpu_count": os.cpu_count(),
                "load_avg_before": [round(x, 2) for x in load_before],
                "load_avg_after": [round(x, 2) for x in os.getloadavg()],
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
