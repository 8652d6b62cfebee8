"""Build the demo station: render the demo video, then import it into a labelled, split project.

The result is what README command (1) opens and what tests and benchmarks use: ``DIR/demo.mp4``,
``DIR/templates/<view>.png``, ``DIR/truth.json`` (the renderer's ground truth) and ``DIR/station.awb``
with three views (template, crop window, ROI with margin, zones), one sample per pass and view found
by template matching, labels and GT masks taken from the truth at the frame the matcher chose, and a
seeded train/val/test split by pass.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress, sub_progress
from workbench.core.splits import SplitRule
from workbench.io.images import read_image, read_mask
from workbench.jobs.demo_recipe import READY, READY_FILE, READY_RECIPE, STATION_FILE
from workbench.jobs.import_video import import_video
from workbench.jobs.splits import split_samples
from workbench.project import Project
from workbench.project.types import CropWindow, ViewInfo
from workbench.synth.demo import render_demo

log = logging.getLogger(__name__)

DEFAULT_ROI_MARGIN = 6  # px: covers the few pixels of alignment error the matcher leaves


@dataclass
class DemoStationResult:
    """Where the demo station was written and how well the matcher found the truth's best frames."""

    out_dir: str
    project_path: str
    video: str
    truth_path: str
    samples: int
    passes_rendered: int
    passes_found: int
    frame_within_1: float  # share of (pass, view) whose chosen frame is within +-1 of the truth
    unmatched: list = field(default_factory=list)


def build_demo_station(
    out_dir: str | os.PathLike,
    *,
    roi_margin: int = DEFAULT_ROI_MARGIN,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
    **render,
) -> DemoStationResult:
    """Render the demo video into ``out_dir`` and build ``out_dir/station.awb`` from it.

    ``render``: :func:`render_demo`'s keywords (passes, defect_rate, seed, width, height, fps); the seed
    also draws the train/val/test split.
    """
    out = Path(out_dir)
    truth = render_demo(out, progress=sub_progress(progress, 0.0, 0.6), cancel=cancel, **render)
    rendered = truth["parameters"]
    views_doc = json.loads((out / truth["views_file"]).read_text())
    building = out / ".building.awb"
    _remove_project(building)
    try:
        project = Project.create(building, overwrite=True)
        for v in views_doc["views"]:
            project.set_view(_view_from_doc(out, v, roi_margin))
        imported = import_video(
            project, out / truth["video"], progress=sub_progress(progress, 0.6, 0.93), cancel=cancel
        )
        cancel.raise_if_cancelled()
        progress(0.94, "labelling samples from the truth")
        within = _label_from_truth(project, out, truth)
        split_samples(project, SplitRule(seed=rendered["seed"]))
        project.set_meta("description", "Demo station: sealant beads on rendered car underbodies")
        project.set_meta(
            "demo",
            {
                "parameters": truth["parameters"],
                "truth": "truth.json",
                "frame_within_1": within,
            },
        )
        final = out / STATION_FILE
        project.save_as(final)
        project.close()
    finally:
        _remove_project(building)
    progress(1.0, "demo station ready")
    return DemoStationResult(
        out_dir=str(out),
        project_path=str(final),
        video=str(out / truth["video"]),
        truth_path=str(out / "truth.json"),
        samples=len(imported.sample_ids),
        passes_rendered=rendered["passes"],
        passes_found=len(imported.passes),
        frame_within_1=within,
        unmatched=imported.unmatched,
    )


def _remove_project(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".lock").unlink(missing_ok=True)  # the writer lock of the scratch project
    shutil.rmtree(path.with_name(path.name + ".d"), ignore_errors=True)


def _view_from_doc(out: Path, doc: dict, roi_margin: int) -> ViewInfo:
    zones = read_image(out / doc["zones"]).image
    return ViewInfo(
        name=doc["name"],
        template=read_image(out / doc["template"]).image,
        crop=CropWindow(*[int(v) for v in doc["crop"]]),
        match_threshold=0.5,
        roi=read_mask(out / doc["roi_mask"]),
        roi_margin=roi_margin,
        zones=zones.astype(np.uint8),
        zone_names=list(doc["zone_names"]),
        template_origin=None,
        meta={"reference_front_x": doc.get("reference_front_x")},
    )


def _frame_mask(track: dict, frame: int, size: tuple[int, int]) -> np.ndarray | None:
    """A defect's full-frame mask at ``frame`` from its per-frame track, or None when not visible."""
    hits = np.flatnonzero(track["frames"] == frame)
    if hits.size == 0:
        return None
    k = int(hits[0])
    x, y, w, h = (int(v) for v in track["bboxes"][k])
    full = np.zeros(size, np.uint8)
    full[y : y + h, x : x + w] = track["masks"][k][:h, :w]
    return full


def _label_from_truth(project: Project, out: Path, truth: dict) -> float:
    """Label every sample good/defective with its GT mask at the chosen frame; returns the +-1 hit rate."""
    size = (int(truth["height"]), int(truth["width"]))
    tracks: dict[str, dict] = {}
    hits = total = 0
    good: list[int] = []
    for s in project.samples():
        tp = next((p for p in truth["passes"] if p["first_frame"] <= s.frame <= p["last_frame"]), None)
        if tp is None:
            project.update_samples([s.id], label="unknown")
            continue
        view_truth = tp["views"].get(s.view)
        if view_truth is not None:
            total += 1
            hits += abs(int(view_truth["best_frame"]) - s.frame) <= 1
        mask = np.zeros((s.height, s.width), np.uint8)
        for d in tp["defects"]:
            if d["view"] != s.view:
                continue
            if d["frame_masks"] not in tracks:
                with np.load(out / d["frame_masks"], allow_pickle=False) as z:
                    tracks[d["frame_masks"]] = {k: z[k] for k in ("frames", "bboxes", "masks")}
            full = _frame_mask(tracks[d["frame_masks"]], s.frame, size)
            if full is not None:
                mask = np.maximum(mask, _crop(full, s.x, s.y, s.width, s.height))
        if mask.any():
            project.update_samples([s.id], label="defective")
            project.set_gt_mask(s.id, mask)
        else:
            good.append(s.id)
    if good:
        project.update_samples(good, label="good")
    return hits / total if total else 0.0


def _crop(full: np.ndarray, x: int, y: int, w: int, h: int) -> np.ndarray:
    """The (h, w) window at (x, y) of ``full``, zero where the window leaves the frame."""
    out = np.zeros((h, w), full.dtype)
    fy0, fx0 = max(y, 0), max(x, 0)
    fy1, fx1 = min(y + h, full.shape[0]), min(x + w, full.shape[1])
    if fy1 > fy0 and fx1 > fx0:
        out[fy0 - y : fy1 - y, fx0 - x : fx1 - x] = full[fy0:fy1, fx0:fx1]
    return out


# --- the ready demo: what the window's "Open the demo station" opens ----------------------------------
def build_ready_demo(
    out_dir: str | os.PathLike,
    *,
    seed: int = 0,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> DemoStationResult:
    """The demo station as the window opens it: rendered and imported (:func:`build_demo_station`), a
    split with a test share of at least 30 samples per view, synthetic defects beside the rendered ones
    in val and test, PatchCore and PaDiM trained per view with their val and test scores and maps
    stored, and a threshold policy per PatchCore run fitted on its validation split."""
    from workbench.jobs.evaluate_data import ensure_split
    from workbench.jobs.synthesize import synthesize
    from workbench.jobs.train import train_views

    out = Path(out_dir)
    (out / READY_FILE).unlink(missing_ok=True)
    r = READY
    result = build_demo_station(
        out,
        passes=r["passes"],
        defect_rate=r["defect_rate"],
        seed=seed,
        progress=sub_progress(progress, 0.0, 0.5),
        cancel=cancel,
    )
    with Project.open(result.project_path) as p:
        train, val, test = r["split"]
        split_samples(p, SplitRule(train, val, test, seed=seed, keep_test=False))
        progress(0.5, "adding synthetic defects")
        synthesize(
            p, count=r["synthetic"], seed=seed, progress=sub_progress(progress, 0.5, 0.58), cancel=cancel
        )
        models = r["models"]
        for k, (model, params) in enumerate(models):
            lo = 0.58 + 0.3 * k / len(models)
            train_views(
                p, model, params, progress=sub_progress(progress, lo, lo + 0.3 / len(models)), cancel=cancel
            )
        progress(0.88, "scoring the validation split")
        runs = [run for run in p.runs if run.model == models[0][0]]  # the policy is fitted on these
        for k, run in enumerate(runs):  # stored as `workbench eval` stores them
            cancel.raise_if_cancelled()
            ensure_split(p, run.id, "val", with_maps=True, cancel=cancel)
            progress(0.88 + 0.07 * (k + 1) / len(runs), f"scored {run.id} on the validation split")
        source = r["policy_source"]
        name = demo_policy(p, models[0][0], source, cancel)
        meta = dict(p.meta.get("demo", {}))
        meta.update(recipe=READY_RECIPE, models=[m for m, _ in models], policy=name)
        p.set_meta("demo", meta)
        p.save()
    (out / READY_FILE).write_text(
        json.dumps({"recipe": READY_RECIPE, "station": STATION_FILE}), encoding="utf-8"
    )
    progress(1.0, "demo station ready")
    return result


def demo_policy(project: Project, model: str, source: str, cancel: CancelToken = NEVER_CANCEL) -> str:
    """Fit a ``source`` policy on the validation split for each run of ``model`` (as ``workbench policy
    --run RUN --source SOURCE`` does) and store them as one policy with a threshold per view, naming
    its run per view as the Thresholds step saves them; returns its name."""
    from workbench.jobs.evaluate_policy import fit_run_policy
    from workbench.metrics.policy import ThresholdPolicy

    runs = [r for r in project.runs if r.model == model]
    per_view, n_val = {}, {}
    for run in runs:
        cancel.raise_if_cancelled()
        fitted = fit_run_policy(project, run.id, source, cancel=cancel)
        per_view[run.view] = fitted.threshold_for(run.view)
        n_val[run.view] = int(fitted.params.get("n_normals", fitted.params.get("n_val", 0)))
    name = f"{model}-{source}"
    policy = ThresholdPolicy(
        threshold=max(per_view.values()),
        level="image",
        per_view=per_view,
        source=source if source != "far" else "false_alarm_rate",
        params={
            "runs": {r.view: r.id for r in runs},
            "fitted_on": "val",
            "n_normals": n_val,
            "set_in": "demo",
        },
    )
    project.set_policy(name, policy.to_dict())
    return name
