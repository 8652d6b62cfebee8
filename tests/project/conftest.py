"""Small projects for the project-store tests."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.project import Project
from workbench.project.types import CropWindow, ViewInfo


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


@pytest.fixture
def view() -> ViewInfo:
    roi = np.zeros((20, 30), np.uint8)
    roi[2:18, 2:28] = 255
    zones = np.zeros((20, 30), np.uint8)
    zones[2:18, 2:15] = 1
    zones[2:18, 15:28] = 2
    return ViewInfo(
        "front",
        np.arange(64, dtype=np.uint8).reshape(8, 8),
        CropWindow(-3, -2, 30, 20),
        match_threshold=0.7,
        roi=roi,
        roi_margin=2,
        zones=zones,
        zone_names=["a", "b"],
        template_origin=(5, 10, 20),
        meta={"k": [1, 2]},
    )


@pytest.fixture
def project(tmp_path) -> Project:
    p = Project.create(tmp_path / "station.awb")
    yield p
    p.close()
