"""The recipe of the ready demo station (what the window's "Open the demo station" opens) and the check
that a demo folder holds one made by it; light to import (the window asks at start-up)."""

from __future__ import annotations

import json
import os
from pathlib import Path

STATION_FILE = "station.awb"
READY_FILE = "ready.json"  # written last: its presence says the station is complete and which recipe made it
READY_RECIPE = 3  # raise when the recipe below changes, so an older demo folder is rebuilt
READY = {
    "passes": 40,
    "defect_rate": 0.3,
    # good passes (the defective ones share val:test 20:45): 10 train, 6 val and 24 test samples per
    # view, so a threshold rests on more than the 5 normals export asks for
    "split": (0.35, 0.20, 0.45),
    "synthetic": 48,  # synthetic defects, half to val and half to test, spread over the views
    "models": (
        ("patchcore", {"image_size": [128, 176], "embed_dim": 256, "coreset_ratio": 0.1}),
        ("padim", {"image_size": [128, 176], "n_features": 50}),
    ),
    "policy_source": "f1",  # one policy per PatchCore run, as `workbench policy --source f1` writes it
}


def ready_demo(out_dir: str | os.PathLike) -> Path | None:
    """The demo station in ``out_dir`` when it was completed by the current recipe, else None."""
    marker = Path(out_dir) / READY_FILE
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    station = Path(out_dir) / STATION_FILE
    return station if info.get("recipe") == READY_RECIPE and station.is_file() else None
