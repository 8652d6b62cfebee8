"""How long saving a small edit (a threshold policy) takes in a project with ~1 GB of samples.

Builds the same project as bench_project_open.py, changes one threshold policy, and times
``save()``; the baseline measured in the same run is writing the whole project into one file
(``pack``), which is what a save would cost if the file were rewritten whole. Prints one JSON line.

    .venv/bin/python benchmarks/bench_project_save.py [--samples 2000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_project_open import build_project

from workbench.project import Project


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=2000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_save_"))
    try:
        path = tmp / "station.awb"
        build_project(path, args.samples)
        saves = []
        with Project.open(path) as p:
            for i in range(5):
                p.set_policy("default", {"value": 0.5 + i / 100, "scope": "global", "min_area": 20})
                t0 = time.perf_counter()
                p.save()
                saves.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            p.pack(tmp / "whole.awb")
            whole_s = time.perf_counter() - t0
        save_s = float(np.median(saves))
        print(
            json.dumps(
                {
                    "benchmark": "project_save_small_edit",
                    "samples": args.samples,
                    "main_file_kb": round(path.stat().st_size / 1e3, 1),
                    "save_s": round(save_s, 4),
                    "baseline_rewrite_whole_file_s": round(whole_s, 3),
                    "ratio_save_to_rewrite": round(save_s / whole_s, 5),
                }
            )
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
