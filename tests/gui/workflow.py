"""The small demo station of the GUI walk-through and the screenshots: its video, split and two models.

The walk-through sets the station up through the window; the screenshot tests need the same state
(a station with two trained runs per view) and build it once per session through the Qt-free API.
"""

from __future__ import annotations

import json
from pathlib import Path

DEMO = {"passes": 8, "defect_rate": 0.5, "seed": 3}  # 8 parts, 4 of them with bead defects
SPLIT = {"train": 0.5, "val": 0.0, "test": 0.5}  # defective parts all go to test: counts to move
ROI_MARGIN = 6
MODELS = (  # small inputs: each trains in seconds on two CPU cores
    ("patchcore", {"image_size": [128, 128], "embed_dim": 128, "coreset_ratio": 0.1}),
    ("padim", {"image_size": [128, 128], "n_features": 50}),
)


def render_video(folder: Path) -> tuple[dict, dict]:
    """Render the demo video into ``folder``; returns (truth, views document) as the renderer wrote them."""
    from workbench.synth.demo.render import render_demo

    truth = render_demo(folder, **DEMO)
    views = json.loads((folder / truth["views_file"]).read_text())
    return truth, views


def build_trained_station(folder: Path) -> Path:
    """The walk-through's end state without the window: the demo station (templates, ROI with margin,
    zones, labels and GT masks from the truth), the walk-through's split, both models trained and
    scored on every split (as ``workbench eval`` leaves it, so a report needs no model)."""
    from workbench.core.splits import SplitRule
    from workbench.jobs.demo import build_demo_station
    from workbench.jobs.evaluate import evaluate
    from workbench.jobs.splits import split_samples
    from workbench.jobs.train import train_views
    from workbench.project import Project

    result = build_demo_station(folder, roi_margin=ROI_MARGIN, **DEMO)
    with Project.open(result.project_path) as p:
        split_samples(p, SplitRule(**SPLIT, seed=0, keep_test=False))
        for model, params in MODELS:
            train_views(p, model, params)
        evaluate(p)
        p.save()
    return Path(result.project_path)
