"""What the window's child processes run (Qt-free): jobs through the runner, and the model service.

The window's process never imports torch: importing it in a thread holds the interpreter lock for
most of a second. Two kinds of child process, started with the 'spawn' context, serve it:

* job children, started by :class:`workbench.jobs.runner.ChildRun`: training runs the runner's
  ``train_staged`` job on a staged copy of the project (written with the Project API on the I/O thread
  by :func:`workbench.jobs.staging.stage_project`, so unsaved edits count); the window adds the runs
  it sends back to the open project (:func:`workbench.jobs.staging.apply_outputs`). A cancelled or
  killed child therefore leaves the project exactly as it was. The report is :func:`report_job`;
* one long-lived model service (:func:`service_child`): the model catalogue (``describe``), the
  memory planner and PatchCore's nearest-patch explanation, answered over a queue.
"""

from __future__ import annotations

import os
import queue
from pathlib import Path
from typing import Any

from workbench.core.progress import CancelToken, ProgressFn

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


def demo_child(out_dir: str, events: Any, cancel_event: Any) -> None:
    """Child entry: build the ready demo station in ``out_dir``; ('done', path of station.awb) at the end."""
    try:
        from workbench.jobs.demo import build_ready_demo

        result = build_ready_demo(
            out_dir, progress=lambda f, m="": events.put(("progress", f, m)), cancel=EventToken(cancel_event)
        )
        events.put(("done", result.project_path))
    except Cancelled:
        events.put(("cancelled",))
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the window as a message
        events.put(("error", f"{exc}", traceback.format_exc(limit=6)))


def export_child(
    project_path: str,
    out: str,
    run_ids: list[str],
    policies: list[str],
    fusion: str,
    events: Any,
    cancel_event: Any,
) -> None:
    """Child entry: export the saved station as ``workbench export`` does; ('done', {path, manifest,
    parity}) at the end, or the parity failure as an error."""
    try:
        from workbench.jobs.export import export_station

        result = export_station(
            project_path,
            out,
            run_ids=run_ids or None,
            policies=policies or None,
            fusion=fusion,
            progress=lambda f, m="": events.put(("progress", f, m)),
            cancel=EventToken(cancel_event),
        )
        events.put(("done", {"path": str(result.path), "manifest": result.manifest, "parity": result.parity}))
    except Cancelled:
        events.put(("cancelled",))
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the window as a message
        events.put(("error", f"{exc}", traceback.format_exc(limit=6)))


PREVIEW_SIDE = 240  # px: the longest side of the crops and maps a line preview sends to the window


def _small(image: np.ndarray) -> np.ndarray:
    """``image`` shrunk so its longest side is at most PREVIEW_SIDE (nearest: maps keep their peaks)."""
    h, w = image.shape[:2]
    step = max(1, int(np.ceil(max(h, w) / PREVIEW_SIDE)))
    return np.ascontiguousarray(image[::step, ::step])


class _WindowSink:
    """The line runtime's outputs, sent to the window: ('part', result, crops, maps) per part."""

    def __init__(self, events: Any):
        self.events = events

    def part(self, result: dict, crops: dict, maps: dict) -> list:
        small_maps = {k: _small(np.asarray(m, np.float32)).astype(np.float16) for k, m in maps.items()}
        self.events.put(("part", result, {k: _small(c) for k, c in crops.items()}, small_maps))
        return []

    def close(self) -> None:
        pass


def line_child(bundle: str, source: str, realtime: bool, events: Any, cancel_event: Any) -> None:
    """Child entry: run the bundle on ``source`` as ``workbench run`` does; each part as an event, then
    ('done', summary)."""
    try:
        from workbench.line.inspect import run_line

        summary = run_line(
            bundle,
            source,
            _WindowSink(events),
            device="cpu",
            realtime=realtime,
            progress=lambda f, m="": events.put(("progress", f, m)),
            cancel=EventToken(cancel_event),
        )
        events.put(
            (
                "done",
                {
                    "parts": summary.parts,
                    "ng": summary.ng,
                    "frames": summary.frames,
                    "seconds": summary.seconds,
                    "fps": summary.fps,
                    "providers": summary.providers,
                },
            )
        )
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
