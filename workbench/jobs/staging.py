"""Staged copies: a job that runs away from the open project (a GUI child, a sweep worker, a Ray node)
reads a small, self-contained project file holding only what it needs, and sends its runs back as one
``.npz`` file; only the workstation adds them to the real project (one writer).

* :func:`stage_project` writes the staged copy with the Project API itself (views, sources, project
  metadata and the samples of the chosen views; optionally only some training normals), packed into one file that can travel to another machine;
* :func:`train_staged` trains into a private copy of the staged file (a real project), and
  :func:`collect_runs` reads the new runs back;
* :func:`write_outputs` / :func:`read_outputs` carry the runs (weights, scores, maps) as one
  npz (``allow_pickle=False``), :func:`apply_outputs` adds them to the real project, giving sample ids
  back their original numbers (results and run metadata keys ending in ``_ids``).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress, sub_progress

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
    from workbench.project.samples_api import sample_fields

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
            info = sample_fields(s, source=sources.get(s.source, ""))
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


def _maps_or_none(project: Any, result_id: str) -> list[np.ndarray] | None:
    """A result's maps, or None for a scores-only result (training normals, an augmented copy)."""
    return project.result_maps(result_id) if project.result_has_maps(result_id) else None


def collect_runs(project: Any, run_ids: list[str]) -> list[dict[str, Any]]:
    """The runs ``run_ids`` of ``project`` with their weights and every result (scores, maps, meta)."""
    runs = []
    for rid in run_ids:
        run = project.run(rid)
        results = []
        for res in project.results(run_id=rid):
            maps = _maps_or_none(project, res.id)
            results.append((list(res.sample_ids), project.result_scores(res.id), maps, res.meta))
        runs.append(
            {
                "model": run.model,
                "view": run.view,
                "params": run.params,
                "meta": run.meta,
                "state": project.run_state(rid),
                "results": results,
            }
        )
    return runs


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
    after: Callable[[Any, list[str], ProgressFn, CancelToken], None] | None = None,
) -> list[dict[str, Any]]:
    """Train as ``workbench train`` would (``job``: model, params, views, seed, device) on a private
    copy of a staged project; ``after(project, run_ids, progress, cancel)`` may add results (evaluation
    predictions). The new runs with their results, as :func:`collect_runs` gives them."""
    from workbench.jobs.train import train_described
    from workbench.project import Project

    with tempfile.TemporaryDirectory(prefix="workbench-stage-") as tmp:
        private = Path(tmp) / STAGE_FILE
        shutil.copyfile(stage_path, private)  # the staged file stays unchanged for other workers
        with Project.open(private) as staged:
            step = sub_progress(progress, 0.0, 0.85 if after is not None else 1.0)
            ids = train_described(staged, job, step, cancel)["runs"]
            if after is not None:
                after(staged, ids, sub_progress(progress, 0.85, 1.0), cancel)
            cancel.raise_if_cancelled()
            return collect_runs(staged, ids)


def train_staged_job(params: dict[str, Any], progress: ProgressFn, cancel: CancelToken) -> dict[str, Any]:
    """Job entry: params {'stage': staged file, 'out': folder, 'job': {model, params, views, seed, device}};
    writes ``out/outputs.npz`` and returns {'outputs': path, 'runs': n, 'views': [...]}."""
    runs = train_staged(params["stage"], params["job"], progress, cancel)
    path = write_outputs(runs, params["out"])
    return {"outputs": str(path), "runs": len(runs), "views": [r["view"] for r in runs]}
