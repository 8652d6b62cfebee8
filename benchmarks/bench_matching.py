"""Benchmark: video import throughput (decode + passes + coarse-to-fine matching of three views).

Prints one JSON line: frames per second of ``extract_samples`` on an 848x480 video with three
views, and the ratio to plain full-resolution TM_CCOEFF_NORMED matching of every view on every
frame (decoding included) measured in the same run. Uses the demo station video when
``workbench.synth.demo.render_demo`` exists, else a synthetic conveyor video.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from workbench.core.image import bgr_to_rgb
from workbench.core.matching import match_template
from workbench.io.extract import ViewSpec, extract_samples
from workbench.io.images import read_image
from workbench.io.video import VideoReader


def synthetic_video(path: Path, passes: int, width: int = 848, height: int = 480, seed: int = 0) -> dict:
    """A conveyor video with a textured part moving right to left; returns {view: template RGB}."""
    rng = np.random.default_rng(seed)
    pw, ph = 960, 400
    part = np.full((ph, pw, 3), 80, np.uint8)
    for _ in range(400):
        p1 = tuple(int(v) for v in rng.integers(0, (pw, ph)))
        p2 = tuple(int(v) for v in rng.integers(0, (pw, ph)))
        cv2.line(part, p1, p2, tuple(int(c) for c in rng.integers(110, 255, 3)), int(rng.integers(3, 12)))
    background = cv2.GaussianBlur(rng.integers(15, 45, (height, width, 3)).astype(np.uint8), (7, 7), 0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (width, height))
    steps, top = 90, (height - ph) // 2
    templates = {}
    for p in range(passes):
        for _ in range(20):
            writer.write(background)
        for s in range(steps):
            px = int(width - s * (width + pw) / (steps - 1))
            frame = background.copy()
            x0, x1 = max(px, 0), min(px + pw, width)
            if x1 > x0:
                frame[top : top + ph, x0:x1] = part[:, x0 - px : x1 - px]
            if p == 0 and s == steps // 2:
                for name, (vx, vy) in {"front": (60, 60), "center": (330, 40), "back": (600, 80)}.items():
                    templates[name] = bgr_to_rgb(frame[top + vy : top + vy + 200, vx : vx + 220].copy())
            writer.write(frame)
    for _ in range(20):
        writer.write(background)
    writer.release()
    return templates


def demo_video(out: Path, passes: int) -> tuple[Path, dict] | None:
    try:
        from workbench.synth.demo import render_demo
    except ImportError:
        return None
    render_demo(out, passes=passes, defect_rate=0.3, seed=0, width=848, height=480)
    templates = {p.stem: read_image(p).image for p in sorted((out / "templates").glob("*.png"))}
    return out / "demo.mp4", templates


def plain_matching(video: Path, templates: dict) -> tuple[int, float]:
    """Frames and seconds for full-resolution matching of every view on every decoded frame."""
    grey = {n: cv2.cvtColor(t, cv2.COLOR_RGB2GRAY) if t.ndim == 3 else t for n, t in templates.items()}
    t0 = time.perf_counter()
    n = 0
    with VideoReader(video) as r:
        for _, bgr in r.frames(color="bgr"):
            gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
            for t in grey.values():
                match_template(gray, t)
            n += 1
    return n, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--passes", type=int, default=6)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        found = demo_video(tmp / "demo", args.passes)
        if found:
            video, templates, kind = *found, "demo"
        else:
            video, kind = tmp / "conveyor.mp4", "synthetic"
            templates = synthetic_video(video, args.passes)
        views = [ViewSpec(n, t, 0.6) for n, t in templates.items()]
        extract_samples(video, views)  # warm-up: file cache, OpenCV's lazy initialisation
        t0 = time.perf_counter()
        ex = extract_samples(video, views)
        fast_s = time.perf_counter() - t0
        frames = len(ex.frames)
        base_frames, base_s = plain_matching(video, templates)
    fps, base_fps = frames / fast_s, base_frames / base_s
    print(
        json.dumps(
            {
                "benchmark": "matching",
                "video": kind,
                "size": "848x480",
                "views": len(views),
                "frames": frames,
                "passes": len(ex.passes),
                "fps": round(fps, 1),
                "baseline_fps": round(base_fps, 1),
                "ratio": round(fps / base_fps, 2),
                "fine_matches_per_frame": round(ex.fine_matches / max(frames, 1), 2),
                "threads": cv2.getNumThreads(),
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
