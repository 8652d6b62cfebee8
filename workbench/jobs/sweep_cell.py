"""One sweep cell on a worker (a local child process or a Ray task): train on the staged copy exactly as
``workbench train`` would, make the predictions the evaluation needs (validation split, augmented
copies for robustness), and send the runs back as one npz. Never touches the project.

The cell's thread count is fixed by the workstation (``threads``) and set here, so the same cell
computes the same numbers on the local executor and on a cluster worker.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench import __version__
from workbench.core.progress import CancelToken, ProgressFn, sub_progress
from workbench.jobs.staging import outputs_bytes, train_staged, write_outputs


def _pin(threads: int | None, gpu: int | None) -> None:
    import torch

    if threads:
        torch.set_num_threads(int(threads))
    if gpu is not None and torch.cuda.is_available():
        torch.cuda.set_device(int(gpu))


def _check_version(params: dict[str, Any]) -> None:
    want = params.get("version")
    if want and want != __version__:
        raise RuntimeError(
            f"this worker ({socket.gethostname()}) runs workbench {__version__}, the workstation {want}; "
            "install the same version on every machine of the cluster"
        )


def evaluation_predictions(robustness: bool) -> Callable[[Any, list[str], ProgressFn, CancelToken], None]:
    """What the workstation's evaluation would predict, done here: the validation split (and the
    training normals when it has none), and with ``robustness`` the five augmented test splits. Stored
    as the evaluation stores them, so the evaluation and the report reuse them."""

    def after(project: Any, run_ids: list[str], progress: ProgressFn, cancel: CancelToken) -> None:
        from workbench.jobs.evaluate_data import THRESHOLD_TRAIN_NORMALS, ensure_split, labelled_samples
        from workbench.jobs.robustness import robustness as run_robustness

        for k, rid in enumerate(run_ids):
            part = sub_progress(progress, k / len(run_ids), (k + 1) / len(run_ids))
            view = project.run(rid).view
            models: dict = {}
            val = labelled_samples(project, view, "val")
            if val:
                ensure_split(project, rid, "val", progress=part, cancel=cancel, models=models)
            if not any(s.label == "good" for s in val) and labelled_samples(project, view, "train"):
                ensure_split(
                    project, rid, "train", with_maps=False, progress=part, cancel=cancel, models=models,
                    limit=THRESHOLD_TRAIN_NORMALS,
                )  # fmt: skip
            if robustness:
                run_robustness(project, rid, progress=part, cancel=cancel)

    return after


def _train(params: dict[str, Any], stage: str, progress: ProgressFn, cancel: CancelToken):
    _check_version(params)
    _pin(params.get("threads"), params.get("gpu"))
    t0 = time.perf_counter()
    after = evaluation_predictions(bool(params.get("robustness"))) if params.get("evaluate", True) else None
    runs = train_staged(stage, params["job"], progress, cancel, after)
    seconds = time.perf_counter() - t0
    info = {
        "cell": params["key"],
        "seconds": round(seconds, 3),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    return runs, info


def cell_job(params: dict[str, Any], progress: ProgressFn, cancel: CancelToken) -> dict[str, Any]:
    """Job entry (local executor): params {'stage', 'out', 'key', 'job', 'threads', 'gpu', 'version'};
    writes ``out/outputs.npz``; returns {'outputs', 'seconds', 'host'}."""
    runs, info = _train(params, params["stage"], progress, cancel)
    Path(params["out"]).mkdir(parents=True, exist_ok=True)
    path = write_outputs(runs, params["out"], {"worker": info})
    return {"outputs": str(path), **info}


def cell_bytes(
    params: dict[str, Any], stage_bytes: bytes, progress: ProgressFn, cancel: CancelToken
) -> bytes:
    """Cluster entry: the staged copy arrives as bytes, the outputs leave as bytes (no shared disk)."""
    with tempfile.TemporaryDirectory(prefix="workbench-cell-") as tmp:
        stage = Path(tmp) / "stage.awb"
        stage.write_bytes(stage_bytes)
        runs, info = _train(params, str(stage), progress, cancel)
    return outputs_bytes(runs, {"worker": info})
