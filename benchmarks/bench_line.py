"""Line-mode throughput on 2 cores: sustained parts per minute and frames per second of `workbench run` on the
demo video, with a PatchCore bundle and an EfficientAD-S bundle, against the same loop without inference.

Prints one JSON line per model: throughput, inference time per part, and the export's parity figures
(largest map difference as a fraction of the map range, identical verdicts). Models are not trained to
quality (throughput does not depend on it): PatchCore with the packaged EfficientNet-Lite0 weights at
the crops' own size, EfficientAD-S (the packaged distilled teacher) at 256 x 256 with a few iterations.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import torch

from workbench.core.masks import roi_for
from workbench.jobs.demo import build_demo_station
from workbench.jobs.export import export_station
from workbench.line.inspect import LineInspector, frames_of, run_line
from workbench.line.sinks import Outputs
from workbench.models import registry
from workbench.project import Project

CORES = 2


def train(project: Path, name: str) -> None:
    with Project.open(project) as p:
        for view, v in p.views.items():
            images = [p.sample_image(s.id) for s in p.samples(view=view, split="train")]
            roi = roi_for(v.roi, v.roi_margin, v.crop.h, v.crop.w)
            if name == "patchcore":
                m = registry.create(
                    "patchcore", backbone="efficientnet_lite0", coreset_ratio=0.1, device="cpu"
                )
            else:
                m = registry.create(
                    "efficientad", pdn_size="small", max_iters=20, penalty_images=4, device="cpu"
                )
            m.fit(images, roi=roi)
            p.add_run(name, view, m.get_params(), m.state_dict(), {"bench": True})
        p.save()


def baseline_fps(bundle: Path, video: Path) -> float:
    """Frames per second of pass detection + matching + best frame alone (no inference)."""
    from workbench.line.bundle import Bundle

    b = Bundle.load(bundle)

    class NoModel:
        def infer(self, crop):
            import numpy as np

            return 0.0, np.zeros(crop.shape[:2], np.float32)

        providers = []

    insp = LineInspector(b, {v.name: NoModel() for v in b.views})
    frames, _ = frames_of(str(video))
    t0, n = time.perf_counter(), 0
    for i, f in frames:
        insp.push(i, f)
        n += 1
    insp.finish()
    return n / (time.perf_counter() - t0)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(CORES)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        station = build_demo_station(root / "station", passes=10, defect_rate=0.3, seed=5)
        video = Path(station.video)
        baseline = None
        for name in ("patchcore", "efficientad"):
            proj = root / f"{name}.awb"
            Project.open(station.project_path).save_as(proj)
            train(proj, name)
            bundle = root / f"bundle_{name}"
            rep = export_station(proj, bundle, accept_small_validation=True).parity
            if baseline is None:
                baseline = baseline_fps(bundle, video)
            sink = Outputs(stdout=io.StringIO(), stderr=io.StringIO())
            s = run_line(bundle, str(video), sink, device="cpu", threads=CORES)
            views = rep["views"].values()
            print(
                json.dumps(
                    {
                        "bench": "line",
                        "model": "efficientad_s" if name == "efficientad" else name,
                        "cores": CORES,
                        "parts_per_minute": round(s.parts_per_minute, 1),
                        "fps": round(s.fps, 1),
                        "parts": s.parts,
                        "frames": s.frames,
                        "inference_ms_per_part": round(1000 * s.inference_seconds / max(1, s.parts), 1),
                        "baseline_no_inference_fps": round(baseline, 1),
                        "ratio_fps_vs_no_inference": round(s.fps / baseline, 3),
                        "video_fps": 25.0,
                        "parity_passed": rep["passed"],
                        "parity_max_relative_diff": max(v["relative_diff"] for v in views),
                        "parity_max_abs_diff": max(v["max_abs_diff"] for v in views),
                        "parity_verdicts_identical": sum(v["verdicts_identical"] for v in views),
                        "parity_samples": sum(v["samples"] for v in views),
                        "ms_per_image_onnx": round(max(v["ms_per_image_onnx"] for v in views), 1),
                        "ms_per_image_torch": round(max(v["ms_per_image_torch"] for v in views), 1),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    sys.exit(main())
