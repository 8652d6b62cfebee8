"""The presence rule as a tracker: when a user forces grey-level thresholds (flags, the Import pane's manual
rule) or a bundle from before calibration carries one, passes are runs of a presence signal against an
empty-conveyor reference (:mod:`workbench.io.passes`) and each view's best frame within a run is its
highest match score (:class:`~workbench.core.best_frame.BestFrameTracker`).

It has the interface of :class:`~workbench.io.tracker.PassTracker` (``push``, ``finish``, ``ranked``,
``signals``) and gives the same :class:`~workbench.io.grouping.TrackedPass` records, so the import and
line mode run either the same way. A pass misses a view -> suspect; a pass much longer or shorter than
the median of the passes so far -> suspect.
"""

from __future__ import annotations

import math

import numpy as np

from workbench.core.best_frame import BestFrameTracker
from workbench.core.matching import FramePyramid, ViewMatcher
from workbench.io.crossings import Crossing, Sample
from workbench.io.grouping import LONG, TrackedPass
from workbench.io.passes import PassRule, PassSegmenter, presence_thumbnail, presence_value
from workbench.io.tracker import Candidate, TrackView


class PresenceTracker:
    """Feed ``push(index, gray, image)``; passes come out when the presence signal closes them."""

    def __init__(
        self,
        rule: PassRule,
        views: list[TrackView],
        frame_size: tuple[int, int],
        top_k: int = 1,
        first_frame: int = 0,
        reference: np.ndarray | None = None,
    ) -> None:
        self.rule, self.top_k = rule, top_k
        self.reference = reference
        self.segmenter = PassSegmenter(rule)
        self.trackers = []
        for v in views:
            m = ViewMatcher(v.name, v.template, v.threshold)
            m.check_frame(*frame_size)
            self.trackers.append(BestFrameTracker(m, v.window, top_k))
        self.frames: list[int] = []
        self.values: list[float] = []
        self.spans: list[int] = []
        self._count = 0

    @property
    def fine_matches(self) -> int:
        return sum(t.fine_matches for t in self.trackers)

    def push(self, index: int, gray: np.ndarray, image: np.ndarray) -> list[TrackedPass]:
        thumb = presence_thumbnail(gray, self.rule.scale)
        if self.reference is None:
            self.reference = thumb
        value = presence_value(thumb, self.reference, self.rule)
        self.frames.append(index)
        self.values.append(value)
        before = self.segmenter.open_pass
        closed = self.segmenter.push(index, value)
        after = self.segmenter.open_pass
        out: list[TrackedPass] = []
        if closed or (before is not None and (after is None or after[0] != before[0])):
            out = self._finalize(closed)
        if self.segmenter.is_on:
            pyr = FramePyramid(gray)
            for t in self.trackers:
                t.push(index, pyr, image)
        return out

    def finish(self) -> list[TrackedPass]:
        return self._finalize(self.segmenter.finish())

    def _finalize(self, closed: list[tuple[int, int]]) -> list[TrackedPass]:
        if not closed:  # the open run was too short to be a pass
            for t in self.trackers:
                t.discard()
            return []
        out = []
        for first, last in closed:
            p = TrackedPass(self._count, float(first), extent=(first, last))
            self._count += 1
            reasons = []
            for t in self.trackers:
                ranked, best = t.finish()
                if not ranked:
                    found = "no match" if not math.isfinite(best) else f"best score {best:.2f}"
                    reasons.append(f"view '{t.matcher.name}' not found ({found} < {t.matcher.threshold:.2f})")
                    continue
                samples = [Sample(c.frame, c.score, 0.0, 0.0, c) for c in ranked]
                p.crossings[t.matcher.name] = Crossing(t.matcher.name, float(ranked[0].frame), 0.0, samples)
            span = last - first + 1
            if len(self.spans) >= 3:
                med = float(np.median(self.spans))
                if span > LONG * med:
                    reasons.append(f"pass lasts {span} frames, much longer than usual ({med:.0f})")
                elif span < med / LONG:
                    reasons.append(f"pass lasts {span} frames, much shorter than usual ({med:.0f})")
            self.spans.append(span)
            p.reasons = reasons
            p.status = "suspect" if reasons else "ok"
            out.append(p)
        return out

    def ranked(self, crossing: Crossing) -> list[Candidate]:
        return [s.payload for s in crossing.samples if s.payload is not None][: self.top_k]

    @property
    def signals(self) -> tuple[np.ndarray, np.ndarray]:
        """(frames (N,), presence (N, 1)) for review plots."""
        return np.asarray(self.frames, np.int64), np.asarray(self.values, np.float32).reshape(-1, 1)
