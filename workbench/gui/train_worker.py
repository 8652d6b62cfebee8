"""Training and model look-ups in their own process, so the window never waits on torch (Qt-free).

The window's process never imports torch: importing it in a thread holds the interpreter lock for
most of a second. Two kinds of child process, started with the 'spawn' context, import this module:

* a training child per job (:func:`train_child`): it runs ``workbench.jobs.train.train_views`` on a
  *staged* copy of what that job reads from the project (written by :func:`stage_inputs` on the I/O
  thread, so unsaved edits count) and writes the runs and results back to the stage folder; the
  window then adds them to the open project (:func:`apply_outputs`). A cancelled or killed child
  therefore leaves the project exactly as it was;
* one long-lived model service (:func:`service_child`): the model catalogue (``describe``), the
  memory planner and PatchCore's nearest-patch explanation, answered over a queue.
"""

from __future__ import annotations

import json
import os
import queue
import re
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.progress import Cancelled, CancelToken

INPUTS, JOB, OUTPUTS, OUT_JSON = "inputs.npz", "job.json", "outputs.npz", "outputs.json"
_LOSS = re.compile(r"\bloss ([-+0-9.eE]+|nan|inf)")
_ITER = re.compile(r"\biter (\d+)")


# --- staging (runs in the window's I/O thread) ------------------------------------------------------
def stage_inputs(project: Any, job: dict[str, Any], folder: str | os.PathLike) -> dict[str, Any]:
    """Write the views, samples and images a training job reads to ``folder``; the job dict back.

    Only the train split (label good) and the test split of the chosen views are staged.
    """
    folder = Path(folder)
    views = job.get("views") or sorted(project.views)
    arrays: dict[str, np.ndarray] = {}
    view_meta, samples = {}, []
    for name in views:
        if name not in project.views:
            raise ValueError(
                f"unknown view {name!r}; the station's views: {', '.join(sorted(project.views))}"
            )
        v = project.views[name]
        view_meta[name] = {"roi_margin": int(v.roi_margin), "has_roi": v.roi is not None}
        if v.roi is not None:
            arrays[f"roi/{name}"] = np.asarray(v.roi)
        for s in project.samples(view=name):
            if (s.split == "train" and s.label == "good") or s.split == "test":
                samples.append({"id": s.id, "view": s.view, "split": s.split, "label": s.label})
                arrays[f"image/{s.id}"] = project.sample_image(s.id)
    np.savez(folder / INPUTS, **arrays)
    job = {**job, "views": views, "view_meta": view_meta, "samples": samples}
    (folder / JOB).write_text(json.dumps(job), encoding="utf-8")
    return job


def apply_outputs(project: Any, folder: str | os.PathLike) -> dict[str, list[str]]:
    """Add the runs and results a finished child wrote to ``folder`` to ``project``; their new ids."""
    folder = Path(folder)
    info = json.loads((folder / OUT_JSON).read_text(encoding="utf-8"))
    with np.load(folder / OUTPUTS) as data:
        runs, results = [], []
        for k, r in enumerate(info["runs"]):
            state = {key: data[f"run{k}/state/{i}"] for i, key in enumerate(r["state_keys"])}
            rid = project.add_run(r["model"], r["view"], r["params"], state, r["meta"])
            runs.append(rid)
            for j, res in enumerate(r["results"]):
                maps = data[f"run{k}/result{j}/maps"] if f"run{k}/result{j}/maps" in data else None
                scores = data[f"run{k}/result{j}/scores"]
                results.append(project.add_result(rid, res["ids"], scores, maps, res["meta"]))
    return {"runs": runs, "results": results}


# --- the training child ---------------------------------------------------------------------------
@dataclass
class _View:
    roi: np.ndarray | None
    roi_margin: int


@dataclass
class _Sample:
    id: int
    view: str
    split: str
    label: str


class StagedProject:
    """What ``train_views`` reads and writes of a project, from a stage folder (the child's side)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.job = json.loads((self.folder / JOB).read_text(encoding="utf-8"))
        self._data = np.load(self.folder / INPUTS)
        meta = self.job["view_meta"]
        self.views = {
            n: _View(self._data[f"roi/{n}"] if m["has_roi"] else None, m["roi_margin"])
            for n, m in meta.items()
        }
        self._samples = [_Sample(**s) for s in self.job["samples"]]
        self.runs: list[dict[str, Any]] = []

    def samples(self, view: str | None = None, split: str | None = None, label: str | None = None) -> list:
        return [
            s
            for s in self._samples
            if (view is None or s.view == view)
            and (split is None or s.split == split)
            and (label is None or s.label == label)
        ]

    def sample_image(self, sid: int) -> np.ndarray:
        return self._data[f"image/{sid}"]

    def add_run(self, model: str, view: str, params: dict, state: dict, meta: dict | None = None) -> str:
        self.runs.append({"model": model, "view": view, "params": params, "state": state, "meta": meta or {}})
        return str(len(self.runs) - 1)

    def add_result(self, run_id: str, ids: list[int], scores, maps, meta: dict | None = None) -> str:
        self.runs[int(run_id)].setdefault("results", []).append((list(ids), scores, maps, meta or {}))
        return f"{run_id}/{len(self.runs[int(run_id)]['results']) - 1}"

    def write_outputs(self) -> None:
        arrays: dict[str, np.ndarray] = {}
        info = []
        for k, r in enumerate(self.runs):
            keys = list(r["state"])
            for i, key in enumerate(keys):
                arrays[f"run{k}/state/{i}"] = np.asarray(r["state"][key])
            results = []
            for j, (ids, scores, maps, meta) in enumerate(r.get("results", [])):
                arrays[f"run{k}/result{j}/scores"] = np.asarray(scores, np.float32)
                if maps is not None:
                    arrays[f"run{k}/result{j}/maps"] = np.asarray(maps, np.float32)
                results.append({"ids": [int(i) for i in ids], "meta": meta})
            info.append(
                {
                    **{x: r[x] for x in ("model", "view", "params", "meta")},
                    "state_keys": keys,
                    "results": results,
                }
            )
        np.savez(self.folder / OUTPUTS, **arrays)
        (self.folder / OUT_JSON).write_text(json.dumps({"runs": info}), encoding="utf-8")


class EventToken(CancelToken):
    """A cancel token the parent sets through a multiprocessing Event."""

    def __init__(self, event: Any):
        super().__init__()
        self._mp_event = event

    def cancel(self) -> None:
        self._mp_event.set()

    @property
    def cancelled(self) -> bool:
        return self._mp_event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._mp_event.is_set():
            raise Cancelled("cancelled by the user")


def train_child(folder: str, events: Any, cancel_event: Any) -> None:
    """Child entry: train on the staged inputs; events ('progress', f, msg), ('loss', value, iteration),
    ('done', summary), ('cancelled',) or ('error', message) go to ``events``."""
    try:
        from workbench.jobs.train import train_views

        staged = StagedProject(folder)
        job = staged.job

        def progress(fraction: float | None, message: str = "") -> None:
            events.put(("progress", fraction, message))
            m = _LOSS.search(message or "")
            if m:
                it = _ITER.search(message)
                events.put(("loss", float(m.group(1)), int(it.group(1)) if it else None))

        cancel = EventToken(cancel_event)
        params = dict(job.get("params") or {})
        device = job.get("device")
        train_views(staged, job["model"], params, job["views"], job.get("seed"), device, progress, cancel)
        cancel.raise_if_cancelled()
        staged.write_outputs()
        events.put(("done", {"runs": len(staged.runs), "views": [r["view"] for r in staged.runs]}))
    except Cancelled:
        events.put(("cancelled",))
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the window as a message
        events.put(("error", f"{exc}", traceback.format_exc(limit=6)))


def report_child(
    project_path: str, out_dir: str, policy: str | None, robustness: bool, events: Any, cancel_event: Any
) -> None:
    """Child entry: write the report of the saved station to ``out_dir`` (the file itself is not
    changed: predictions made for it are not saved); ('done', path of index.html) at the end."""
    try:
        from workbench.jobs.report import write_report
        from workbench.project import Project

        cancel = EventToken(cancel_event)
        with Project.open(project_path) as project:
            path = write_report(
                project,
                out_dir,
                policy=policy,
                robustness=robustness,
                progress=lambda f, m="": events.put(("progress", f, m)),
                cancel=cancel,
            )
        events.put(("done", str(path)))
    except Cancelled:
        events.put(("cancelled",))
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the window as a message
        events.put(("error", f"{exc}", traceback.format_exc(limit=6)))


# --- the model service child ----------------------------------------------------------------------
def available_ram_bytes() -> int | None:
    """Memory the system can still give (Linux MemAvailable, else the physical total), or None."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def _catalogue() -> dict[str, Any]:
    from workbench.models import registry

    out = {}
    for name in registry.names():
        try:
            out[name] = registry.describe(name)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not hide the others
            out[name] = {"name": name, "doc": f"cannot be loaded: {exc}", "params": {}, "broken": True}
    return out


def _estimate(model: str, params: dict, n_images: int, image_size: list[int]) -> dict[str, Any]:
    from workbench.models.memory import estimate_memory

    est = estimate_memory(model, params, int(n_images), (int(image_size[0]), int(image_size[1])))
    return {**est, "available_ram_bytes": available_ram_bytes()}


def _explain(**kwargs: Any) -> dict[str, Any]:
    from workbench.jobs.explain import explain_model

    return explain_model(**kwargs)


HANDLERS = {"catalogue": lambda: _catalogue(), "estimate": _estimate, "explain": _explain}


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
