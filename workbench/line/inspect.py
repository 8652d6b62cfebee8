"""Line mode: frames from a video or camera -> part passes -> best-aligned frame per view -> ONNX inference ->
a verdict per view and one per part (late fusion), emitted as JSON on stdout / MQTT with NG images and zone alerts.

The per-frame work is the import's, by the same code: the pass rule calibrated when the station's video
was imported travels in the bundle's manifest (``pass_rule``) and :func:`workbench.io.extract.open_tracker`
runs it, so a video gives the same passes, frames and crops in the import and on the line. When a pass is
final, each view's crop goes through its bundle graph, the threshold policy of the view's run gives the
view verdict and the fusion rule the part verdict. A doubtful pass (a view missing or matched twice, views
out of order, much longer or shorter than usual) is reported with ``"status": "suspect"`` and its reasons;
one that the stream cut off with ``"status": "partial"``.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.core.working import to_rgb8
from workbench.io.calibrate import calibrate
from workbench.io.camera import open_camera
from workbench.io.extract import initial_reference, open_tracker
from workbench.io.grouping import TrackedPass
from workbench.io.passes import PassRule
from workbench.io.track_rule import TrackRule, rule_from_dict
from workbench.io.tracker import TrackView
from workbench.io.video import FrameRange, VideoReader, prefetched
from workbench.line.bundle import Bundle
from workbench.line.sinks import Outputs
from workbench.line.verdict import fuse, view_verdict

log = logging.getLogger(__name__)


@dataclass
class LineSummary:
    """What a line run did: parts and rejects, frames, time, throughput, providers, alerts."""

    parts: int = 0
    ng: int = 0
    suspect: int = 0
    frames: int = 0
    seconds: float = 0.0
    inference_seconds: float = 0.0
    alerts: int = 0
    providers: dict[str, list[str]] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def parts_per_minute(self) -> float:
        return 60.0 * self.parts / self.seconds if self.seconds > 0 else 0.0


def frames_of(source: str, realtime: bool = True, cancel: CancelToken = NEVER_CANCEL) -> tuple[Iterator, Any]:
    """(iterator of (index, (H, W, 3) uint8 RGB), first-reference hint) for a source spec.

    ``video.mp4`` (a file, read as fast as it decodes), ``sim:video.mp4`` (the file played as a live
    camera, at its frame rate unless ``realtime`` is False), ``camera:N`` / ``N`` (OpenCV device),
    ``genicam:CTI[#N]``. The hint is the VideoReader for a file (its pass rule reference may need it).
    """
    if source.startswith("camera:"):
        source = source[len("camera:") :]
    if source.startswith(("sim:", "genicam:")) or source.isdigit():
        cam = open_camera(source)
        if source.startswith("sim:"):
            cam.realtime = realtime

        def camera_frames() -> Iterator:
            with cam:
                for i, f in enumerate(cam.frames(cancel=cancel)):
                    yield i, to_rgb8(f)

        return camera_frames(), None
    if not os.path.isfile(source):
        raise FileNotFoundError(
            f"--source {source!r}: expected a video file, sim:VIDEO, camera:N or genicam:CTI[#N]; no such file"
        )
    reader = VideoReader(source)

    def video_frames() -> Iterator:
        with reader:
            yield from prefetched(reader.frames(FrameRange(), cancel=cancel))

    return video_frames(), reader


class LineInspector:
    """Stateful per-frame inspection of one station bundle; ``push(index, frame)`` returns finished parts."""

    def __init__(
        self,
        bundle: Bundle,
        runtimes: dict[str, Any],
        fusion: str | None = None,
        missing: str | None = None,
        source: str = "",
        rule: TrackRule | PassRule | None = None,
    ) -> None:
        self.bundle, self.runtimes = bundle, runtimes
        fz = bundle.manifest.get("fusion", {})
        self.fusion = fusion or fz.get("rule", "any")
        self.missing = missing or fz.get("missing", "ng")
        fuse({}, self.fusion, self.missing)  # validates both rules before any frame is read
        self.rule = rule if rule is not None else rule_from_dict(bundle.manifest.get("pass_rule"))
        if self.rule is None:
            log.warning(
                "the bundle carries no calibrated pass rule (exported before calibration): using presence "
                "thresholds against the first frame; import a video of the line and export again"
            )
            self.rule = PassRule()
        self.views = [TrackView(v.name, v.template, v.crop, v.match_threshold) for v in bundle.views]
        self.tracker = None
        self.reference: np.ndarray | None = None
        self.parts = 0
        self.suspect = 0
        self.source = source
        self.stamp = _dt.datetime.now().strftime("%Y%m%dT%H%M%S")
        # part ids stay unique across runs started in the same second (their NG folders too)
        self.run_id = f"{self.stamp}-{uuid.uuid4().hex[:6]}"
        self.inference_seconds = 0.0

    def push(self, index: int, frame: np.ndarray) -> list[tuple[dict, dict, dict]]:
        """Feed one RGB frame; returns [(result, crops, maps)] of the parts whose pass became final here."""
        if self.tracker is None:
            h, w = frame.shape[:2]
            self.tracker = open_tracker(self.rule, self.views, (w, h), 1, index, self.reference)
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        return [self._inspect(p) for p in self.tracker.push(index, gray, frame)]

    def finish(self) -> list[tuple[dict, dict, dict]]:
        """The passes still open at the end of the source."""
        return [] if self.tracker is None else [self._inspect(p) for p in self.tracker.finish()]

    def _inspect(self, tracked: TrackedPass) -> tuple[dict, dict, dict]:
        t0 = time.perf_counter()
        self.parts += 1
        views: dict[str, Any] = {}
        crops, maps, verdicts = {}, {}, {}
        for bv in self.bundle.views:
            c = tracked.crossings.get(bv.name)
            ranked = self.tracker.ranked(c) if c is not None else []
            if not ranked:
                views[bv.name] = {"verdict": "MISSING", "best_match": None}
                verdicts[bv.name] = "MISSING"
                continue
            best = ranked[0]
            score, amap = self.runtimes[bv.name].infer(best.crop)
            r = view_verdict(bv.policy, bv.name, score, amap, bv.roi, bv.zones, bv.zone_names)
            r.update(
                {
                    "frame": int(best.frame),
                    "match": round(float(best.score), 4),
                    "crop_xy": [int(best.x), int(best.y)],
                }
            )
            views[bv.name] = r
            crops[bv.name], maps[bv.name] = best.crop, amap
            verdicts[bv.name] = r["verdict"]
        seconds = time.perf_counter() - t0
        self.inference_seconds += seconds
        self.suspect += tracked.status == "suspect"
        result = {
            "part": self.parts,
            "id": f"{self.run_id}-{self.parts:05d}",
            "time": _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds"),
            "station": self.bundle.manifest.get("station", {}).get("name", ""),
            "source": self.source,
            "frames": [int(tracked.first), int(tracked.last)],
            "status": tracked.status,
            "verdict": fuse(verdicts, self.fusion, self.missing),
            "fusion": self.fusion,
            "views": views,
            "latency_ms": round(1000.0 * seconds, 2),
        }
        if tracked.reasons:
            result["reasons"] = list(tracked.reasons)
        return result, crops, maps


def run_line(
    bundle_dir: str | os.PathLike,
    source: str,
    outputs: Outputs,
    *,
    device: str = "auto",
    require_gpu: bool = False,
    threads: int | None = None,
    fusion: str | None = None,
    missing: str | None = None,
    realtime: bool = True,
    max_parts: int | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> LineSummary:
    """Inspect parts from ``source`` with the bundle at ``bundle_dir`` until the source ends, ``max_parts``
    parts were inspected, or ``cancel`` is set; every part goes to ``outputs``."""
    bundle = Bundle.load(bundle_dir)
    runtimes = bundle.open_runtimes(device, require_gpu, threads)
    rule = rule_from_dict(bundle.manifest.get("pass_rule"))
    if rule is None and os.path.isfile(str(source)):
        log.info("line: the bundle has no calibrated pass rule; calibrating it from %s", source)
        rule = calibrate(str(source), [(v.name, v.template) for v in bundle.views], cancel=cancel)
    inspector = LineInspector(bundle, runtimes, fusion, missing, source=str(source), rule=rule)
    frames, reader = frames_of(str(source), realtime, cancel)
    if reader is not None and isinstance(inspector.rule, PassRule) and inspector.rule.reference != "first":
        inspector.reference = initial_reference(reader, inspector.rule, FrameRange())
    summary = LineSummary(providers={k: r.providers for k, r in runtimes.items()})
    log.info("line: bundle %s (%d views), source %s", Path(bundle_dir).name, len(bundle.views), source)
    t0 = time.perf_counter()

    def emit(parts: list) -> bool:
        for result, crops, maps in parts:
            summary.parts += 1
            summary.ng += result["verdict"] == "NG"
            summary.suspect += result["status"] == "suspect"
            summary.alerts += len(outputs.part(result, crops, maps))
            progress(None, f"{summary.parts} parts, {summary.ng} NG")
            if max_parts is not None and summary.parts >= max_parts:
                return True
        return False

    try:
        stop = False
        for index, frame in frames:
            cancel.raise_if_cancelled()
            summary.frames += 1
            if emit(inspector.push(int(index), frame)):
                stop = True
                break
        if not stop:
            emit(inspector.finish())
    finally:
        frames.close()
        for warning in reader.warnings if reader is not None else []:
            log.warning(warning)  # e.g. a truncated video, as import reports it
        summary.seconds = time.perf_counter() - t0
        summary.inference_seconds = inspector.inference_seconds
    return summary
