"""A small demo station with a tiny PatchCore run per view, exported once per test session (shared by
tests/export and tests/jobs/test_line*.py: import with ``load_helper``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from workbench.core.masks import roi_for
from workbench.jobs.demo import build_demo_station
from workbench.jobs.export import export_station
from workbench.models import registry
from workbench.project import Project

TINY_PATCHCORE = dict(
    backbone="resnet18", pretrained=False, image_size=(64, 80), embed_dim=48, coreset_ratio=0.5, device="cpu"
)


def load_helper():
    """This module, importable from any test folder (tests/ is not a package)."""
    name = "exported_station"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


def train_tiny(
    project_path: Path, model: str = "patchcore", views: list[str] | None = None, **params
) -> list[str]:
    """Fit a tiny model on every view's (or the given views') train split with the view's ROI; store the runs."""
    params = params or TINY_PATCHCORE
    ids = []
    with Project.open(project_path) as p:
        for name, v in p.views.items():
            if views is not None and name not in views:
                continue
            images = [p.sample_image(s.id) for s in p.samples(view=name, split="train")]
            roi = roi_for(v.roi, v.roi_margin, v.crop.h, v.crop.w)
            m = registry.create(model, **params).fit(images, roi=roi)
            ids.append(p.add_run(model, name, m.get_params(), m.state_dict(), {"test": True}))
        p.save()
    return ids


def exported_station(base: Path) -> dict:
    """{'dir', 'project', 'video', 'bundle'}: built under ``base`` on first use, reused afterwards."""
    root = Path(base) / "exported_station"
    bundle = root / "bundle"
    if not (bundle / "manifest.json").is_file():
        result = build_demo_station(root, passes=8, defect_rate=0.5, seed=3)
        train_tiny(Path(result.project_path))
        export_station(result.project_path, bundle, accept_small_validation=True)
    return {"dir": root, "project": root / "station.awb", "video": root / "demo.mp4", "bundle": bundle}
