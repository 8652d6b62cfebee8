"""The small demo station of the GUI walk-through: its video, split and two models.

The walk-through sets the station up through the window with these parameters.
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
