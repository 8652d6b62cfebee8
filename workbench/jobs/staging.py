"""Staged copies: a job that runs away from the open project (a GUI child, a sweep worker, a Ray node)
reads a small, self-contained project file holding only what it needs, and sends its runs back as one
``.npz`` file; only the workstation adds them to the real project (one writer).

* :func:`stage_project` writes the staged copy with the Project API itself (views, sources, project
  metadata and the samples of the chosen views; optionally only some training normals), packed into one file that can travel to another machine;
* :class:`RunCapture` is the project a staged job trains into: it reads through the staged project
  and keeps ``add_run``/``add_result`` in memory;
* :func:`write_outputs` / :func:`read_outputs` carry the captured runs (weights, scores, maps) as one
  npz (``allow_pickle=False``), :func:`apply_outputs` adds them to the real project, giving sample ids
  back their original numbers (results and run metadata keys ending in ``_ids``).
"""

from __future__ import annotations

import io
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress

STAGE_FILE = "stage.awb"
OUTPUTS_FILE = "outputs.npz"
_INFO = "__info__"
STAGED_SPLITS = ("train", "val", "test")
LOCAL_META = ("sweeps",)  # bookkeeping of the workstation that a worker never needs


@dataclass
class Stage:
    """A staged copy: its packed project file and the map from staged sample ids to the original ones."""

    path: Path
    id_map: dict[int, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "id_map": {str(k): v for k, v in self.id_map.items()}}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Stage:
        return cls(Path(d["path"]), {int(k): int(v) for k, v in d["id_map"].items()})


def pick_normals(ids: list[int], n: int, seed: int) -> list[int]:
    """``n`` of the training normals ``ids``, chosen with ``seed``; nested (the first n of the same
    seeded order), so a few-shot curve grows by adding images, never by swapping them."""
    order = np.random.default_rng(seed).permutation(len(ids))
    return sorted(ids[i] for i in order[:n])


def stage_project(
    project: Any,
    folder: str | os.PathLike,
    views: list[str] | None = None,
    train_ids: dict[str, list[int]] | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> Stage:
    """Write ``folder/stage.awb``: the chosen views (default all) with their train, val and test samples.

    ``train_ids`` per view keeps only those training normals (few-shot). Sample ids change; the
    returned Stage maps them back.
    """
    from workbench.project import Project

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = list(views) if views else sorted(project.views)
    unknown = [v for v in names if v not in project.views]
    if unknown:
        raise ValueError(
            f"unknown view {unknown[0]!r}; the project's views: {', '.join(sorted(project.views))}"
        )
    build = folder / "build"
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir()
    staged = Project.create(build / STAGE_FILE)
    id_map: dict[int, int] = {}
    try:
        for key, value in project.meta.items():
            if key not in LOCAL_META:
                staged.set_meta(key, value)
        sources = {}
        for s in project.sources:
            sources[s.id] = staged.add_source(s.kind, s.uri, s.meta)
        todo = []
        for name in names:
            view = project.views[name]
            staged.set_view(view)
            keep = None if train_ids is None or name not in train_ids else set(train_ids[name])
            for s in project.samples(view=name):
                if s.split not in STAGED_SPLITS:
                    continue
                if keep is not None and s.split == "train" and s.label == "good" and s.id not in keep:
                    continue
                todo.append(s)
        for k, s in enumerate(todo):
            cancel.raise_if_cancelled()
            img, mask = project.sample_image(s.id), project.gt_mask(s.id) if s.has_mask else None
            info = {
                "source": sources.get(s.source, ""),
                "pass_index": s.pass_index,
                "view": s.view,
                "frame": s.frame,
                "x": s.x,
                "y": s.y,
                "split": s.split,
                "label": s.label,
                "synthetic": s.synthetic,
                "match_score": s.match_score,
                "meta": s.meta,
            }
            (new,) = staged.add_samples([np.ascontiguousarray(img)], [info], [mask])
            id_map[new] = s.id
            if k % 16 == 0:
                progress(0.9 * (k + 1) / len(todo), f"staging {k + 1}/{len(todo)} samples")
        staged.set_meta("staged_from", {"project": project.name, "views": names})
        staged.save()
        target = staged.pack(folder / STAGE_FILE)
    finally:
        staged.close()
        shutil.rmtree(build, ignore_errors=True)
    progress(1.0, f"staged {len(id_map)} samples")
    return Stage(Path(target), id_map)


class RunCapture:
    """A staged project to train into: reads go to the project, runs and results stay in memory.

    ``train_views`` only reads samples and views and calls ``add_run``/``add_result``; this keeps the
    staged file unchanged, so several workers can read one staged copy at once.
    """

    def __init__(self, project: Any):
        self._project = project
        self.runs: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._project, name)

    def add_run(self, model: str, view: str, params: dict, state: dict, meta: dict | None = None) -> str:
        self.runs.append(
            {
                "model": model,
                "view": view,
                "params": params,
                "state": state,
                "meta": meta or {},
                "results": [],
            }
        )
        return f"staged{len(self.runs) - 1}"

    def add_result(self, run_id: str, sample_ids, scores, maps, meta: dict | None = None) -> str:
        k = int(run_id.removeprefix("staged"))
        self.runs[k]["results"].append(([int(i) for i in sample_ids], scores, maps, meta or {}))
        return f"{run_id}/{len(self.runs[k]['results']) - 1}"


def outputs_bytes(runs: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> bytes:
    """Captured runs as the bytes of one npz: weights, scores and maps as arrays, the rest as JSON."""
    arrays: dict[str, np.ndarray] = {}
    info = []
    for k, r in enumerate(runs):
        keys = list(r["state"])
        for i, key in enumerate(keys):
            arrays[f"run{k}/state/{i}"] = np.asarray(r["state"][key])
        results = []
        for j, (ids, scores, maps, meta) in enumerate(r["results"]):
            arrays[f"run{k}/result{j}/scores"] = np.asarray(scores, np.float32)
            if maps is not None:
                maps = list(maps)
                if len({np.shape(m) for m in maps}) == 1:
                    arrays[f"run{k}/result{j}/maps"] = np.asarray(maps, np.float32)
                else:  # samples of different sizes: one array per map
                    for i, m in enumerate(maps):
                        arrays[f"run{k}/result{j}/map{i}"] = np.asarray(m, np.float32)
            results.append({"ids": ids, "meta": meta, "maps": None if maps is None else len(maps)})
        info.append(
            {**{x: r[x] for x in ("model", "view", "params", "meta")}, "state_keys": keys, "results": results}
        )
    arrays[_INFO] = np.frombuffer(json.dumps({"runs": info, **(extra or {})}).encode("utf-8"), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def write_outputs(runs: list[dict[str, Any]], folder: str | os.PathLike, extra: dict | None = None) -> Path:
    """Write the captured runs to ``folder/outputs.npz`` atomically; its path."""
    target = Path(folder) / OUTPUTS_FILE
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(outputs_bytes(runs, extra))
    os.replace(tmp, target)
    return target


def read_outputs(source: str | os.PathLike | bytes) -> dict[str, Any]:
    """The runs of an outputs file (or its bytes): {'runs': [{model, view, params, meta, state, results}]}."""
    data = np.load(io.BytesIO(source) if isinstance(source, bytes) else source, allow_pickle=False)
    with data:
        info = json.loads(bytes(data[_INFO]).decode("utf-8"))
        for k, r in enumerate(info["runs"]):
            r["state"] = {key: data[f"run{k}/state/{i}"] for i, key in enumerate(r.pop("state_keys"))}
            for j, res in enumerate(r["results"]):
                res["scores"] = data[f"run{k}/result{j}/scores"]
                n = res.pop("maps")
                if n is None:
                    res["maps"] = None
                elif f"run{k}/result{j}/maps" in data:
                    res["maps"] = data[f"run{k}/result{j}/maps"]
                else:
                    res["maps"] = [data[f"run{k}/result{j}/map{i}"] for i in range(n)]
    return info


def _unstage_meta(meta: dict[str, Any], id_map: dict[int, int]) -> dict[str, Any]:
    out = dict(meta)
    for key, value in meta.items():
        if key.endswith("_ids") and isinstance(value, list) and all(isinstance(i, int) for i in value):
            out[key] = [id_map[i] for i in value]
    return out


def apply_outputs(
    project: Any, outputs: dict[str, Any], id_map: dict[int, int], run_meta: dict[str, Any] | None = None
) -> dict[str, list[str]]:
    """Add the runs and results of ``outputs`` (from :func:`read_outputs`) to ``project``; their new ids.

    ``run_meta`` is merged into every run's metadata (e.g. the sweep cell it belongs to).
    """
    runs, results = [], []
    for r in outputs["runs"]:
        meta = {**_unstage_meta(r["meta"], id_map), **(run_meta or {})}
        rid = project.add_run(r["model"], r["view"], r["params"], r["state"], meta)
        runs.append(rid)
        for res in r["results"]:
            ids = [id_map[i] for i in res["ids"]]
            results.append(project.add_result(rid, ids, res["scores"], res["maps"], res["meta"]))
    return {"runs": runs, "results": results}


def train_staged(
    stage_path: str | os.PathLike,
    job: dict[str, Any],
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> list[dict[str, Any]]:
    """Train as ``workbench train`` would (``job``: model, params, views, seed, device) on a staged copy;
    the captured runs."""
    from workbench.jobs.train import train_views
    from workbench.project import Project

    with Project.open(stage_path) as staged:
        capture = RunCapture(staged)
        train_views(
            capture,
            job["model"],
            job.get("params"),
            job.get("views"),
            job.get("seed"),
            job.get("device"),
            progress,
            cancel,
        )
    cancel.raise_if_cancelled()
    return capture.runs


def train_staged_job(params: dict[str, Any], progress: ProgressFn, cancel: CancelToken) -> dict[str, Any]:
    """Job entry: params {'stage': staged file, 'out': folder, 'job': {model, params, views, seed, device}};
    writes ``out/outputs.npz`` and returns {'outputs': path, 'runs': n, 'views': [...]}."""
    runs = train_staged(params["stage"], params["job"], progress, cancel)
    path = write_outputs(runs, params["out"])
    return {"outputs": str(path), "runs": len(runs), "views": [r["view"] for r in runs]}
