"""The full variation grid of issue 15, with default settings: every cell of workbench.synth.scenes.grid (gaps
0 / 0.1 / 1 s x 640x480, 848x480, 1280x720, 1920x1080 x 15/25/30/60 fps x mp4v / H.264 / MJPG, half grey,
half inspected off centre; speed +-30 %, brightness drift +-15 % and a 20 % step, shake +-4 px, half parts)
plus the video made from the real cookie photographs (../shared/data/cookies, when present).

Per cell: the import (calibrate + track) scored against the truth: pass-views within +-1 frame, match
positions within +-3 px, merged and split passes, suspect passes; and line mode (the same tracker fed RGB
frames as `workbench run` does) checked for one result per part, in order. Prints the table, then one JSON
line with the totals, the acceptance (>= 98 % within +-1 frame and +-3 px, no merge, no split, one line
result per part on every cell) and the load average. Rendered videos are kept with --cache (resumable).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2

from workbench.io.extract import ViewSpec, extract_samples, open_tracker
from workbench.io.video import VideoReader, prefetched
from workbench.synth.scenes import render_scene
from workbench.synth.scenes.evaluate import score_passes
from workbench.synth.scenes.grid import cell_name, full_grid, templates_for

ROOT = Path(__file__).resolve().parents[1]


def found_passes(ex) -> list[dict[str, tuple[int, int, int]]]:
    out = [{} for _ in ex.records]
    for s in ex.samples:
        if s.rank == 0:
            out[s.pass_index][s.view] = (s.frame, s.match_x, s.match_y)
    return out


def line_passes(video: Path, rule, views: list[ViewSpec]) -> list[dict[str, int]]:
    """Line mode's passes: RGB frames through the tracker with the import's rule, as `workbench run` does."""
    out = []
    with VideoReader(video) as r:
        tracker = open_tracker(rule, [v.track_view() for v in views], (r.width, r.height))
        done = []
        for index, rgb in prefetched(r.frames()):
            done += tracker.push(index, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), rgb)
        done += tracker.finish()
        for p in done:
            found = {n: tracker.ranked(c)[0].frame for n, c in p.crossings.items() if tracker.ranked(c)}
            out.append((found, p.status))
    return out


def line_ok(truth: dict, passes: list[tuple[dict[str, int], str]]) -> bool:
    """One line result per part with a view at home, in order, each at that part's best frames (+-1); a
    further result only for a part cut by the video's start or end (partial)."""
    parts = [p for p in truth["parts"] if p["views"]]
    inner = [
        found for found, status in passes if not (status == "partial" and not _matches_any(truth, found))
    ]
    if len(inner) != len(parts):
        return False
    for found, part in zip(inner, parts):
        for view, frame in found.items():
            t = part["views"].get(view)
            if t is None or abs(frame - t["best_frame"]) > 1:
                return False
    return True


def _matches_any(truth: dict, found: dict[str, int]) -> bool:
    return any(
        abs(part["views"][v]["best_frame"] - f) <= 1
        for part in truth["parts"]
        for v, f in found.items()
        if v in part["views"]
    )


def run_cell(folder: Path, truth: dict, views: list[ViewSpec]) -> dict:
    video = folder / truth["video"]
    t0 = time.perf_counter()
    ex = extract_samples(video, views)
    seconds = time.perf_counter() - t0
    score = score_passes(truth, found_passes(ex), status=[r.status for r in ex.records])
    line = line_passes(video, ex.rule, views)
    return {
        **{k: v for k, v in score.to_dict().items() if k != "problems"},
        "problems": score.problems[:5],
        "suspect": len(ex.suspects),
        "line_results": len(line),
        "line_ok": line_ok(truth, line),
        "frames": truth["frame_count"],
        "import_s": round(seconds, 2),
    }


def cookie_cell(cache: Path) -> dict | None:
    sys.path.insert(0, str(ROOT / "tests" / "export"))
    try:
        from cookie_scene import DATA, photos, render
    except ImportError:
        return None
    if not DATA.is_dir():
        return None
    folder = cache / "cookies"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cookies.mp4"
    meta = folder / "truth.json"
    if meta.is_file():
        trays = json.loads(meta.read_text())
    else:
        trays = render(path, photos(good=24, cracked=8, every=3), seed=0)
        meta.write_text(json.dumps(trays))
    first = trays[0]
    x, y, w, h = first["box"]
    with VideoReader(path) as r:
        tpl = r.read(first["centred"])[y : y + h, x : x + w]
    from cookie_scene import SPEED  # px per frame, the same for every tray

    def at(t: dict) -> dict:
        bx, by = t["box"][:2]
        return {str(t["centred"] + k): [bx + SPEED * k, by] for k in range(-2, 3)}

    truth = {
        "video": path.name,
        "frame_count": 0,
        "parts": [
            {"index": i, "first": t["first"], "last": t["last"],
             "views": {"tray": {"best_frame": t["centred"], "xy_at": at(t)}}}
            for i, t in enumerate(trays)
        ],
    }  # fmt: skip
    return run_cell(
        folder, truth, [ViewSpec("tray", tpl, origin=(float(x), float(y), int(first["centred"])))]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=None, help="keep rendered videos (and reuse them) here")
    ap.add_argument("--parts", type=int, default=6, help="whole parts per video")
    ap.add_argument("--only", default="", help="run only cells whose name contains this")
    ap.add_argument("--limit", type=int, default=0, help="at most this many cells (0: all)")
    ap.add_argument(
        "--spread",
        action="store_true",
        help="run the cells in an order that spreads every factor from the start (a cut run is still a sample)",
    )
    args = ap.parse_args()
    cv2.setNumThreads(2)
    load_before = os.getloadavg()
    t_start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or Path(tmp)
        cells = [p for p in full_grid(args.parts) if args.only in cell_name(p)]
        if args.spread:  # a step coprime with the grid's factor counts visits every level of each early
            step = next(k for k in (37, 41, 43, 47, 53) if len(cells) % k)
            cells = [cells[(i * step) % len(cells)] for i in range(len(cells))]
        if args.limit:
            cells = cells[: args.limit]
        print(
            f"{'cell':52s} {'pv':>4s} {'±1f':>6s} {'±3px':>6s} {'mrg':>3s} {'spl':>3s} {'sus':>3s} {'line':>5s} {'s':>6s}"
        )
        for p in cells:
            folder = cache / cell_name(p)
            tf = folder / "truth.json"
            truth = json.loads(tf.read_text()) if tf.is_file() else render_scene(folder, p)
            views = [
                ViewSpec(n, t, origin=None if o is None else (float(o[1]), float(o[2]), int(o[0])))
                for n, (t, o) in templates_for(p, folder, truth).items()
            ]
            r = {"cell": cell_name(p), **run_cell(folder, truth, views)}
            rows.append(r)
            print(
                f"{r['cell']:52s} {r['pass_views']:4d} {100 * r['frame_rate']:5.1f}% {100 * r['position_rate']:5.1f}% "
                f"{r['merged']:3d} {r['split']:3d} {r['suspect']:3d} {'ok' if r['line_ok'] else 'FAIL':>5s} "
                f"{r['import_s']:6.1f}",
                flush=True,
            )
        cookie = cookie_cell(cache)
        if cookie is not None:
            print(
                f"{'cookies (real photographs)':52s} {cookie['pass_views']:4d} {100 * cookie['frame_rate']:5.1f}% "
                f"{100 * cookie['position_rate']:5.1f}% {cookie['merged']:3d} {cookie['split']:3d} {cookie['suspect']:3d} "
                f"{'ok' if cookie['line_ok'] else 'FAIL':>5s} {cookie['import_s']:6.1f}"
            )
    pv = sum(r["pass_views"] for r in rows)
    w1 = sum(r["within_one"] for r in rows)
    pos = sum(r["position_ok"] for r in rows)
    cell_ok = [
        r["frame_rate"] >= 0.98
        and r["position_rate"] >= 0.98
        and not r["merged"]
        and not r["split"]
        and r["line_ok"]
        for r in rows
    ]
    print(
        json.dumps(
            {
                "bench": "passes_grid",
                "cells": len(rows),
                "cells_meeting_all": int(sum(cell_ok)),
                "failing_cells": [r["cell"] for r, ok in zip(rows, cell_ok) if not ok],
                "pass_views": pv,
                "within_one_frame": round(w1 / pv, 4) if pv else None,
                "position_within_3px": round(pos / w1, 4) if w1 else None,
                "min_cell_within_one": round(min((r["frame_rate"] for r in rows), default=1.0), 4),
                "merged": sum(r["merged"] for r in rows),
                "split": sum(r["split"] for r in rows),
                "suspect_passes": sum(r["suspect"] for r in rows),
                "line_one_result_per_part": all(r["line_ok"] for r in rows),
                "cookie": cookie,
                "seconds": round(time.perf_counter() - t_start, 1),
                "load_avg_before": [round(x, 2) for x in load_before],
                "load_avg_after": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
