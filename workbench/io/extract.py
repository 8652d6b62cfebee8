"""Samples from a video: passes found, each view matched coarse-to-fine, best frame(s) cropped.

One sequential decode does everything: per frame the presence signal feeds an online pass
segmenter, and while a part is present every view is matched at coarse scale; only frames whose
coarse score comes close to the best of the current pass are refined at full resolution and
cropped. Per pass and view the ``top_k`` best refined matches (rank 0 = the best-aligned frame,
seed 000) are kept. Nothing here touches a project; the import job adds the result at the end.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import cv2
import numpy as np

from workbench.core.best_frame import BestFrameTracker
from workbench.core.image import bgr_to_rgb
from workbench.core.matching import FramePyramid, ViewMatcher
from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.io.passes import PassRule, PassSegmenter, presence_thumbnail, presence_value, segment_passes
from workbench.io.video import FrameRange, VideoReader


@dataclass(frozen=True)
class ViewSpec:
    """A view to extract: template (grey or RGB uint8), threshold, crop window relative to the match."""

    name: str
    template: np.ndarray
    threshold: float = 0.6
    crop: tuple[int, int, int, int] = (0, 0, 0, 0)  # x, y, w, h; w = h = 0 means the template itself


@dataclass
class ExtractedSample:
    """One crop: its pass and view, source frame, match and crop position, score and rank."""

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


@dataclass
class Extraction:
    """Everything one video gave: passes, the reviewable per-frame signals, samples and problems."""

    video: str
    fps: float
    width: int
    height: int
    frame_count: int
    rule: PassRule
    frames: np.ndarray  # (N,) int64 sampled frame indices
    presence: np.ndarray  # (N,) float32 presence statistic per sampled frame
    passes: list[tuple[int, int]]
    samples: list[ExtractedSample]
    unmatched: list[tuple[int, str, float]]  # (pass index, view, best score found)
    warnings: list[str] = field(default_factory=list)
    fine_matches: int = 0  # how many full-resolution refinements were needed


def initial_reference(reader: VideoReader, rule: PassRule, sampling: FrameRange) -> np.ndarray | None:
    """The empty-conveyor thumbnail the rule asks for, or None for "first" (taken while reading).

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
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


def find_passes(
    video: str | os.PathLike,
    rule: PassRule = PassRule(),
    sampling: FrameRange = FrameRange(),
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """(frames (N,) int64, presence (N,) float32, [(first, last)]) of a video, without matching:
    a quick preview for tuning the pass rule."""
    with VideoReader(video) as reader:
        reference = initial_reference(reader, rule, sampling)
        frames, values = [], []
        for index, bgr in reader.frames(sampling, color="bgr", progress=progress, cancel=cancel):
            thumb = presence_thumbnail(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), rule.scale)
            reference = thumb if reference is None else reference
            frames.append(index)
            values.append(presence_value(thumb, reference, rule))
    frames_a, values_a = np.asarray(frames, np.int64), np.asarray(values, np.float32)
    return frames_a, values_a, segment_passes(values_a, rule, frames_a)


def extract_samples(
    video: str | os.PathLike,
    views: list[ViewSpec],
    rule: PassRule = PassRule(),
    sampling: FrameRange = FrameRange(),
    top_k: int = 1,
    coarse_scale: float = 0.25,
    skip_margin: float = 0.2,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> Extraction:
    """Read ``video`` once and return passes, presence signal and the best crops per pass and view.

    ``skip_margin``: a frame is refined only when its coarse score is within this margin of the
    best coarse score seen so far in the pass (and not far below the threshold).
    """
    if not views:
        raise ValueError("at least one view (template) is needed to extract samples")
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, found {top_k}")
    names = [v.name for v in views]
    if len(set(names)) != len(names):
        raise ValueError(f"view names must be unique, found {names}")
    with VideoReader(video) as reader:
        where = f"the frames of '{reader.name}'"
        matchers = [ViewMatcher(v.name, v.template, v.threshold, coarse_scale) for v in views]
        windows = {}
        for m, v in zip(matchers, views, strict=True):
            m.check_frame(reader.width, reader.height, where)
            x, y, w, h = v.crop
            windows[v.name] = (x, y, w, h) if w > 0 and h > 0 else (0, 0, *m.size)
        reference = initial_reference(reader, rule, sampling)
        segmenter = PassSegmenter(rule)
        trackers = [BestFrameTracker(m, windows[m.name], top_k, skip_margin) for m in matchers]
        frames: list[int] = []
        presence: list[float] = []
        samples: list[ExtractedSample] = []
        unmatched: list[tuple[int, str, float]] = []
        warnings: list[str] = []
        passes: list[tuple[int, int]] = []

        def finalize(closed: list[tuple[int, int]]) -> None:
            if not closed:  # the open pass was too short: drop what was collected
                for t in trackers:
                    t.discard()
                return
            for first, last in closed:
                p = len(passes)
                passes.append((first, last))
                for t in trackers:
                    ranked, best = t.finish()
                    if not ranked:
                        unmatched.append((p, t.matcher.name, best if math.isfinite(best) else float("nan")))
                    for rank, c in enumerate(ranked):
                        samples.append(
                            ExtractedSample(
                                p,
                                t.matcher.name,
                                c.frame,
                                c.score,
                                c.match_x,
                                c.match_y,
                                c.x,
                                c.y,
                                rank,
                                bgr_to_rgb(c.crop),
                                c.clipped,
                            )
                        )

        sub = sampling.indices(reader.frame_count)
        for index, bgr in reader.frames(sampling, color="bgr", progress=progress, cancel=cancel):
            gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
            thumb = presence_thumbnail(gray, rule.scale)
            if reference is None:
                reference = thumb
            value = presence_value(thumb, reference, rule)
            frames.append(index)
            presence.append(value)
            before = segmenter.open_pass
            closed = segmenter.push(index, value)
            after = segmenter.open_pass
            if closed or (before is not None and (after is None or after[0] != before[0])):
                finalize(closed)
            if not segmenter.is_on:
                continue
            pyr = FramePyramid(gray)
            for t in trackers:
                t.push(index, pyr, bgr)
        finalize(segmenter.finish())
        warnings += reader.warnings
        if not frames:
            raise ValueError(
                f"video '{reader.name}' has no frames in the chosen range ({len(sub)} asked for)"
            )
        for p, name, best in unmatched:
            first, last = passes[p]
            found = "no match at all" if math.isnan(best) else f"best score {best:.2f}"
            thr = next(v.threshold for v in views if v.name == name)
            warnings.append(
                f"pass {p} (frames {first}-{last}): view '{name}' not found ({found}, threshold {thr:.2f})"
            )
        if not passes:
            warnings.append(
                f"no pass found in '{reader.name}': the presence signal never reached {rule.high} "
                f"(max {max(presence):.2f}); check the pass rule"
            )
        return Extraction(
            video=os.fspath(video),
            fps=reader.fps,
            width=reader.width,
            height=reader.height,
            frame_count=reader.frame_count,
            rule=rule,
            frames=np.asarray(frames, np.int64),
            presence=np.asarray(presence, np.float32),
            passes=passes,
            samples=samples,
            unmatched=unmatched,
            warnings=warnings,
            fine_matches=sum(t.fine_matches for t in trackers),
        )
