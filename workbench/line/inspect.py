"""Line mode: frames from a video or camera -> part passes -> best-aligned frame per view -> ONNX inference ->
a verdict per view and one per part (late fusion), emitted as JSON on stdout / MQTT with NG images and zone alerts.

The per-frame work is the import's (``workbench.io.extract``): the presence signal feeds an online
pass segmenter; while a part is present every view is matched coarse-to-fine and the best-aligned
frame kept (:class:`~workbench.core.best_frame.BestFrameTracker`). When a pass closes, each view's
crop goes through its bundle graph, the threshold policy of the view's run gives the view verdict and
the fusion rule the part verdict.
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

from workbench.core.best_frame import BestFrameTracker
from workbench.core.matching import FramePyramid, ViewMatcher
from workbench.core.preprocess import gray_to_rgb
from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.io.camera import open_camera
from workbench.io.extract import initial_reference
from workbench.io.passes import PassRule, PassSegmenter, presence_thumbnail, presence_value
from workbench.io.video import FrameRange, VideoReader
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
                    yield i, gray_to_rgb(f)

        return camera_frames(), None
    if not os.path.isfile(source):
        raise FileNotFoundError(
            f"--source {source!r}: expected a video file, sim:VIDEO, camera:N or genicam:CTI[#N]; no such file"
        )
    reader = VideoReader(source)

    def video_frames() -> Iterator:
        with reader:
            yield from reader.frames(FrameRange(), cancel=cancel)

    return video_frames(), reader


class LineInspector:
    """Stateful per-frame inspection of one station bundle; ``push(index, frame)`` returns finished parts."""

    def __init__(
        self,
        bundle: Bundle,
        runtimes: dict[str, Any],
        fusion: str | None = None,
        missing: str | None = None,
        coarse_scale: float = 0.25,
        source: str = "",
    ) -> None:
        self.bundle, self.runtimes = bundle, runtimes
        fz = bundle.manifest.get("fusion", {})
        self.fusion = fusion or fz.get("rule", "any")
        self.missing = missing or fz.get("missing", "ng")
        fuse({}, self.fusion, self.missing)  # validates both rules before any frame is read
        self.rule = (
            PassRule(**bundle.manifest["pass_rule"]) if bundle.manifest.get("pass_rule") else PassRule()
        )
        self.segmenter = PassSegmenter(self.rule)
        self.trackers = []
        for v in bundle.views:
            m = ViewMatcher(v.name, v.template, v.match_threshold, coarse_scale)
            self.trackers.append(BestFrameTracker(m, v.crop, top_k=1))
        self.reference: np.ndarray | None = None
        self.parts = 0
        self.source = source
        self.stamp = _dt.datetime.now().strftime("%Y%m%dT%H%M%S")
        # part ids stay unique across runs started in the same second (their NG folders too)
        self.run_id = f"{self.stamp}-{uuid.uuid4().hex[:6]}"
        self.inference_seconds = 0.0

    def push(self, index: int, frame: np.ndarray) -> list[tuple[dict, dict, dict]]:
        """Feed one RGB frame; returns [(result, crops, maps)] of the parts whose pass ended here."""
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        thumb = presence_thumbnail(gray, self.rule.scale)
        if self.reference is None:
            self.reference = thumb
        value = presence_value(thumb, self.reference, self.rule)
        before = self.segmenter.open_pass
        closed = self.segmenter.push(index, value)
        after = self.segmenter.open_pass
        out = []
        if closed or (before is not None and (after is None or after[0] != before[0])):
            out = self._finalize(closed)
        if self.segmenter.is_on:
            pyr = FramePyramid(gray)
            for t in self.trackers:
                t.push(index, pyr, frame)
        return out

    def finish(self) -> list[tuple[dict, dict, dict]]:
        """Close the pass still open at the end of the source."""
        return self._finalize(self.segmenter.finish())

    def _finalize(self, closed: list[tuple[int, int]]) -> list[tuple[dict, dict, dict]]:
        if not closed:  # the open pass was too short to be a part
            for t in self.trackers:
                t.discard()
            return []
        return [self._inspect(first, last) for first, last in closed]

    def _inspect(self, first: int, last: int) -> tuple[dict, dict, dict]:
        t0 = time.perf_counter()
        self.parts += 1
        views: dict[str, Any] = {}
        crops, maps, verdicts = {}, {}, {}
        for t, bv in zip(self.trackers, self.bundle.views):
            ranked, best = t.finish()
            if not ranked:
                views[bv.name] = {
                    "verdict": "MISSING",
                    "best_match": round(best, 4) if np.isfinite(best) else None,
                }
                verdicts[bv.name] = "MISSING"
                continue
            c = ranked[0]
            score, amap = self.runtimes[bv.name].infer(c.crop)
            r = view_verdict(bv.policy, bv.name, score, amap, bv.roi, bv.zones, bv.zone_names)
            r.update(
                {"frame": int(c.frame), "match": round(float(c.score), 4), "crop_xy": [int(c.x), int(c.y)]}
            )
            views[bv.name] = r
            crops[bv.name], maps[bv.name] = c.crop, amap
            verdicts[bv.name] = r["verdict"]
        seconds = time.perf_counter() - t0
        self.inference_seconds += seconds
        result = {
            "part": self.parts,
            "id": f"{self.run_id}-{self.parts:05d}",
            "time": _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds"),
            "station": self.bundle.manifest.get("station", {}).get("name", ""),
            "source": self.source,
            "frames": [int(first), int(last)],
            "verdict": fuse(verdicts, self.fusion, self.missing),
            "fusion": self.fusion,
            "views": views,
            "latency_ms": round(1000.0 * seconds, 2),
        }
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
    inspector = LineInspector(bundle, runtimes, fusion, missing, source=str(source))
    frames, reader = frames_of(str(source), realtime, cancel)
    if reader is not None and inspector.rule.reference != "first":
        inspector.reference = initial_reference(reader, inspector.rule, FrameRange())
    summary = LineSummary(providers={k: r.providers for k, r in runtimes.items()})
    log.info("line: bundle %s (%d views), source %s", Path(bundle_dir).name, len(bundle.views), source)
    t0 = time.perf_counter()

    def emit(parts: list) -> bool:
        for result, crops, maps in parts:
            summary.parts += 1
            summary.ng += result["verdict"] == "NG"
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
