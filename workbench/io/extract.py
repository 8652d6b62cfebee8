"""Samples from a video: the pass rule calibrated from the video (unless given), then one read through the
one pass tracker that line mode runs too; per pass and view the best-aligned frame(s) cropped.

Nothing here touches a project; the import job adds the result at the end. Doubtful passes are never
silent: each suspect or partial pass is a warning line and its samples carry the status and reasons.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import cv2
import numpy as np

from workbench.core.image import bgr_to_rgb
from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress, sub_progress
from workbench.io.calibrate import calibrate
from workbench.io.grouping import TrackedPass
from workbench.io.passes import PassRule, presence_thumbnail
from workbench.io.presence_tracker import PresenceTracker
from workbench.io.track_rule import TrackRule
from workbench.io.tracker import PassTracker, TrackView
from workbench.io.video import FrameRange, VideoReader, prefetched


@dataclass(frozen=True)
class ViewSpec:
    """A view to extract: template (grey or RGB uint8), match threshold of the presence rule, crop window
    relative to the match, and where its template was cut (x, y) when known."""

    name: str
    template: np.ndarray
    threshold: float = 0.6
    crop: tuple[int, int, int, int] = (0, 0, 0, 0)  # x, y, w, h; w = h = 0 means the template itself
    origin: tuple[float, ...] | None = None  # (x, y) or (x, y, frame) where its template was cut

    def track_view(self) -> TrackView:
        x, y, w, h = self.crop
        th, tw = self.template.shape[:2]
        return TrackView(
            self.name, self.template, (x, y, w, h) if w > 0 and h > 0 else (0, 0, tw, th), self.threshold
        )


@dataclass
class ExtractedSample:
    """One crop: its pass and view, source frame, match and crop position, score and rank, pass status."""

    pass_index: int
    view: str
    frame: int
    score: float
    match_x: int
    match_y: int
    x: int
    y: int
    rank: int
    image: np.ndarray  # (h, w, 3) uint8 RGB
    clipped: bool = False  # the crop window reached outside the frame (padded with black)
    status: str = "ok"  # of its pass: ok, partial, suspect
    reasons: tuple[str, ...] = ()


@dataclass
class PassRecord:
    """A pass as a record: frames, status, reasons, and each view's best frame."""

    index: int
    first: int
    last: int
    status: str
    reasons: list[str]
    views: dict[str, int]  # view -> best-aligned frame

    def to_dict(self) -> dict:
        return {"index": self.index, "frames": [self.first, self.last], "status": self.status,
                "reasons": list(self.reasons), "views": dict(self.views)}  # fmt: skip

    def describe(self) -> str:
        what = "; ".join(self.reasons) if self.reasons else "the video starts or ends during this part"
        return f"pass {self.index} (frames {self.first}-{self.last}): {self.status}: {what}"


@dataclass
class Extraction:
    """Everything one video gave: the rule, passes, the reviewable per-frame signals, samples and problems."""

    video: str
    fps: float
    width: int
    height: int
    frame_count: int
    rule: TrackRule | PassRule
    frames: np.ndarray  # (N,) int64 frame indices read
    signals: np.ndarray  # (N, S) float32: each view's window score, or the presence statistic
    signal_names: list[str]
    thresholds: list[float]  # per signal, the level that counts
    passes: list[tuple[int, int]]
    records: list[PassRecord]
    samples: list[ExtractedSample]
    unmatched: list[tuple[int, str, float]]  # (pass index, view, best score found) of missing views
    warnings: list[str] = field(default_factory=list)
    fine_matches: int = 0
    skipped: int = 0  # parts only partly in view at the start or end, no view at home

    @property
    def presence(self) -> np.ndarray:
        """(N,) one signal for a quick look: the presence, or the best window score relative to its threshold."""
        if self.signals.shape[1] == 1 or not self.thresholds:
            return self.signals[:, 0]
        rel = self.signals - np.asarray(self.thresholds, np.float32)[None, :]
        return np.max(np.where(np.isfinite(rel), rel, -1.0), axis=1).astype(np.float32)

    @property
    def suspects(self) -> list[PassRecord]:
        return [r for r in self.records if r.status == "suspect"]


def open_tracker(
    rule: TrackRule | PassRule,
    views: list[TrackView],
    frame_size: tuple[int, int],
    top_k: int = 1,
    first_frame: int = 0,
    reference: np.ndarray | None = None,
    step: int = 1,
) -> PassTracker | PresenceTracker:
    """The tracker for a rule: calibrated (match peaks) or presence thresholds; ``step``: every n-th frame."""
    if isinstance(rule, TrackRule):
        return PassTracker(rule, views, frame_size, top_k, first_frame, step)
    return PresenceTracker(rule, views, frame_size, top_k, first_frame, reference)


def initial_reference(reader: VideoReader, rule: PassRule, sampling: FrameRange) -> np.ndarray | None:
    """The empty-conveyor thumbnail a presence rule asks for, or None for "first" (taken while reading).

    "median" takes the per-pixel median of 31 frames spread over the range: the conveyor is empty
    in most frames of most videos, so the median shows it even when the video starts mid-pass.
    """
    if rule.reference == "first":
        return None
    if rule.reference == "median":
        idx = sampling.indices(reader.frame_count)
        picks = sorted({idx[int(i)] for i in np.linspace(0, len(idx) - 1, min(31, len(idx)))})
        thumbs = [presence_thumbnail(_gray(reader.read(i, color="bgr")), rule.scale) for i in picks]
        return np.median(np.stack(thumbs), axis=0).astype(np.float32)
    return presence_thumbnail(_gray(reader.read(int(rule.reference), color="bgr")), rule.scale)


def _gray(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr


def records_of(tracker, passes: list[TrackedPass]) -> list[PassRecord]:
    """One :class:`PassRecord` per tracked pass (best-aligned frame per view)."""
    out = []
    for p in passes:
        views = {n: tracker.ranked(c)[0].frame for n, c in p.crossings.items() if tracker.ranked(c)}
        out.append(PassRecord(p.index, p.first, p.last, p.status, list(p.reasons), views))
    return out


def extract_samples(
    video: str | os.PathLike,
    views: list[ViewSpec],
    rule: TrackRule | PassRule | None = None,
    sampling: FrameRange = FrameRange(),
    top_k: int = 1,
    thresholds: dict[str, float] | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> Extraction:
    """Calibrate the pass rule from ``video`` (unless ``rule`` is given), read it once through the pass
    tracker and return passes, signals and the ``top_k`` best-aligned crops per pass and view.

    ``thresholds`` {view: T}: match thresholds set by the user, overriding the calibrated ones.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, found {top_k}")
    names = [v.name for v in views]
    if len(set(names)) != len(names):
        raise ValueError(f"view names must be unique, found {names}")
    if not views and not isinstance(rule, PassRule):
        raise ValueError("at least one view (template) is needed to find passes; cut one first")
    warnings: list[str] = []
    track_progress = progress
    known: dict = {}  # the calibration's window matches: the tracker does not match those frames again
    if rule is None:
        rule = calibrate(
            video, [(v.name, v.template) for v in views], sampling,
            origins={v.name: v.origin for v in views if v.origin is not None}, thresholds=thresholds,
            progress=sub_progress(progress, 0.0, 0.45), cancel=cancel, matches=known,
        )  # fmt: skip
        track_progress = sub_progress(progress, 0.45, 1.0)
    elif isinstance(rule, TrackRule) and thresholds:
        rule = rule.with_thresholds(thresholds)
    with VideoReader(video) as reader:
        tviews = [v.track_view() for v in views]
        reference = initial_reference(reader, rule, sampling) if isinstance(rule, PassRule) else None
        tracker = open_tracker(
            rule, tviews, (reader.width, reader.height), top_k, sampling.start, reference, sampling.every
        )
        if known and isinstance(tracker, PassTracker):
            tracker.reuse(known["frames"], known["windows"])
        passes: list[TrackedPass] = []
        n = 0
        for index, bgr, gray in prefetched(
            reader.frames(sampling, color="bgr", progress=track_progress, cancel=cancel), prepare=_gray
        ):
            passes += tracker.push(index, gray, bgr)
            n += 1
        passes += tracker.finish()
        warnings += reader.warnings
        if n == 0:
            raise ValueError(f"video '{reader.name}' has no frames in the chosen range")
        frames, signals = tracker.signals
        records = records_of(tracker, passes)
        samples: list[ExtractedSample] = []
        unmatched: list[tuple[int, str, float]] = []
        for p in passes:
            for name in names:
                c = p.crossings.get(name)
                ranked = tracker.ranked(c) if c is not None else []
                if not ranked:
                    unmatched.append((p.index, name, float(p.rejected.get(name, (None, float("nan")))[1])))
                for rank, cand in enumerate(ranked):
                    samples.append(
                        ExtractedSample(
                            p.index, name, cand.frame, cand.score, cand.match_x, cand.match_y, cand.x, cand.y,
                            rank, bgr_to_rgb(cand.crop), cand.clipped, p.status, tuple(p.reasons),
                        )
                    )  # fmt: skip
        for rec in records:
            if rec.status != "ok":
                warnings.append(rec.describe())
        skipped = getattr(getattr(tracker, "grouper", None), "skipped", 0)
        if skipped:
            warnings.append(
                f"{skipped} part(s) only partly in view at the start or end, no view at its home: skipped"
            )
        if not passes:
            warnings.append(f"no pass found in '{reader.name}'; check the views' templates and the pass rule")
        if isinstance(rule, TrackRule):
            signal_names = [w.name for w in tracker.windows]
            levels = [rule.view(nm).threshold for nm in signal_names]
        else:
            signal_names, levels = ["presence"], [rule.high]
        return Extraction(
            video=os.fspath(video), fps=reader.fps, width=reader.width, height=reader.height,
            frame_count=reader.frame_count, rule=rule, frames=frames, signals=signals,
            signal_names=signal_names, thresholds=levels, passes=[(r.first, r.last) for r in records],
            records=records, samples=samples, unmatched=unmatched, warnings=warnings,
            fine_matches=tracker.fine_matches, skipped=skipped,
        )  # fmt: skip


def find_passes(
    video: str | os.PathLike,
    rule: TrackRule | PassRule | None = None,
    sampling: FrameRange = FrameRange(),
    views: list[ViewSpec] | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> Extraction:
    """The passes of a video without adding anything anywhere: a preview of the pass rule (calibrated from
    the video when ``rule`` is None; the presence rule when there are no views yet)."""
    if not views and rule is None:
        rule = PassRule()
    return extract_samples(video, views or [], rule, sampling, 1, None, progress, cancel)
