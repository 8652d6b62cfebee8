"""Benchmark: 200 synthetic defects (five bead types, three views) on the demo station; one JSON line.

Baseline measured in the same run: reading the same number of source images from the project and
writing them back untouched (the I/O floor every synthesis pays). Optional ``--sheet PATH`` writes a
contact sheet (before | after | mask) of the first defects of each type.

    .venv/bin/python benchmarks/bench_synth.py [--station DIR] [--count 200] [--sheet sheet.png]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from workbench.jobs.synthesize import synthesize
from workbench.project import Project


def _station(path: str | None) -> Path:
    if path:
        return Path(path) / "station.awb"
    from workbench.jobs.demo import build_demo_station

    out = Path(tempfile.mkdtemp(prefix="bench_synth_"))
    return Path(build_demo_station(out, passes=40, seed=0).project_path)


def contact_sheet(project: Project, ids: list[int], per_type: int, out: Path) -> None:
    """Rows of before | after | mask crops around each defect, ``per_type`` per defect type."""
    rows, seen = [], {}
    for sid in ids:
        s = project.sample(sid)
        syn = s.meta["synthetic"]
        if seen.get(syn["type"], 0) >= per_type:
            continue
        seen[syn["type"]] = seen.get(syn["type"], 0) + 1
        after, mask = project.sample_image(sid), project.gt_mask(sid)
        before = project.sample_image(syn["source_sample"])
        ys, xs = np.nonzero(mask)
        cy, cx = int(ys.mean()), int(xs.mean())
        h, w = mask.shape
        y0, x0 = int(np.clip(cy - 60, 0, h - 120)), int(np.clip(cx - 80, 0, w - 160))
        crop = lambda im, y0=y0, x0=x0: im[y0 : y0 + 120, x0 : x0 + 160]  # noqa: E731
        # Samples are RGB; OpenCV writes BGR.
        rgb = [cv2.cvtColor(crop(im), cv2.COLOR_RGB2BGR) for im in (before, after)]
        tile = np.hstack([*rgb, cv2.cvtColor(crop(mask), cv2.COLOR_GRAY2BGR)])
        tile = cv2.resize(tile, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        cv2.putText(
            tile,
            f"{syn['type']} {syn['size']} {syn['zone']}",
            (6, 22),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6,
            (0, 255, 255),
            1,
            cv2.LINE_AA,
        )
        rows.append(tile)
    cv2.imwrite(str(out), np.vstack(rows))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--station", default=None, help="a demo station folder (default: build one)")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--sheet", default=None)
    args = ap.parse_args()
    src = _station(args.station)
    work = Path(tempfile.mkdtemp(prefix="bench_synth_work_"))
    shutil.copy(src, work / src.name)
    shutil.copytree(src.with_name(src.name + ".d"), work / (src.name + ".d"))
    project = Project.open(work / src.name)

    t0 = time.perf_counter()
    result = synthesize(project, count=args.count, seed=0)
    synth_s = time.perf_counter() - t0

    sources = [project.sample(i).meta["synthetic"]["source_sample"] for i in result.sample_ids]
    t0 = time.perf_counter()
    copies = [project.sample_image(i) for i in sources]
    base = Project.create(work / "baseline.awb")
    base.add_samples(copies, [{} for _ in copies])
    base.save()
    base_s = time.perf_counter() - t0
    if args.sheet:
        contact_sheet(project, result.sample_ids, 3, Path(args.sheet))
    print(
        json.dumps(
            {
                "benchmark": "synth",
                "defects": len(result.sample_ids),
                "failed": len(result.failed),
                "seconds": round(synth_s, 2),
                "per_defect_ms": round(1000 * synth_s / max(len(result.sample_ids), 1), 1),
                "baseline_io_seconds": round(base_s, 2),
                "ratio_vs_io": round(synth_s / max(base_s, 1e-9), 1),
                "counts": result.counts,
            }
        )
    )
    project.close()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
