"""Benchmark: render the 40-pass demo station; print one JSON line with its speed against real time.

Baseline measured in the same run: encoding the same number of frames (one fixed frame) with the same
mp4v writer, i.e. what the video alone costs; ``ratio_to_encode_only`` = render time / encode time.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from workbench.synth.demo import render_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=40)
    parser.add_argument("--out", type=Path, default=None, help="keep the rendered station here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "demo"
        start, cpu_start = time.perf_counter(), time.process_time()
        truth = render_demo(out, passes=args.passes, seed=0)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        frames, fps = truth["frame_count"], truth["fps"]

        frame = cv2.imread(str(out / "templates" / "center.png"))
        frame = cv2.resize(frame, (truth["width"], truth["height"]))
        writer = cv2.VideoWriter(
            str(Path(tmp) / "baseline.mp4"),
            cv2.VideoWriter_fourcc(*"mp4v"),
            fps,
            (truth["width"], truth["height"]),
        )
        noise = np.random.default_rng(0).integers(0, 6, (8, *frame.shape), dtype=np.uint8)
        start = time.perf_counter()
        for i in range(frames):
            writer.write(cv2.add(frame, noise[i % 8]))  # varying noise so the encoder cannot skip frames
        writer.release()
        encode_seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "benchmark": "demo_render",
                "passes": args.passes,
                "size": [truth["width"], truth["height"]],
                "seconds": round(seconds, 2),
                "cpu_seconds": round(cpu_seconds, 2),  # all threads; wall time suffers on a shared machine
                "frames": frames,
                "fps": round(frames / seconds, 1),
                "video_seconds": round(frames / fps, 1),
                "realtime_ratio": round(frames / fps / seconds, 2),
                "baseline_encode_only_seconds": round(encode_seconds, 2),
                "ratio_to_encode_only": round(seconds / encode_seconds, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
