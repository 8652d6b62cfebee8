"""One view's passages through its window and their crossings of home, online (one sample per frame).

A sample is the view's best match inside its window: score, ``u`` (position along the motion relative to
home, negative before home) and ``w`` (across the motion). A passage is a run of samples at or above the
threshold that move with the line (``u`` grows by about the speed per frame). A passage that reaches home
gives one :class:`Crossing`; one that starts with the stream or ends with it without reaching home gives a
partial one (the part was already past, or not yet there). Calibration replays stored samples through the
same code the online tracker uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


def min_samples(window: float, speed: float, step: float = 1.0) -> int:
    """Samples a passage needs: two when the window holds three or more frames of travel, else one."""
    return 2 if 2 * window >= 3 * max(speed, 1e-6) * step else 1


def _slope(run: list[Sample]) -> float:
    """Least-squares px per frame of a run's matches (shake and match noise average out)."""
    n = len(run)
    mf = sum(s.frame for s in run) / n
    mu = sum(s.u for s in run) / n
    var = sum((s.frame - mf) ** 2 for s in run)
    return sum((s.frame - mf) * (s.u - mu) for s in run) / var if var > 0 else 0.0


@dataclass
class Sample:
    frame: int
    score: float
    u: float
    w: float
    payload: Any = None  # what the tracker attached (the refined match and crop), or None


@dataclass
class Crossing:
    """A view passing its home: the crossing time (fractional frame), speed, the passage's samples."""

    view: str
    time: float
    speed: float  # px per frame along the motion
    samples: list[Sample] = field(default_factory=list)
    reached: bool = True  # False: partial (the stream started or ended before the view reached home)

    @property
    def first(self) -> int:
        return self.samples[0].frame

    @property
    def last(self) -> int:
        return self.samples[-1].frame

    @property
    def peak(self) -> float:
        return max(s.score for s in self.samples)


class PassageTracker:
    """Feed ``push(sample)`` in frame order; returns crossings as their passages end; ``finish()`` the rest.

    ``speed`` (low, high) px/frame bounds how far ``u`` may move between samples (``jitter`` px either way,
    the camera shake and match noise); ``reach`` px: a passage whose ``u`` comes this close to 0 (or changes
    sign) has crossed home; ``max_gap`` frames below the threshold inside a passage are bridged.
    """

    def __init__(
        self,
        view: str,
        threshold: float,
        speed: tuple[float, float],
        jitter: float,
        reach: float,
        max_gap: int = 2,
        catch_up: float = 0.0,
        min_samples: int = 2,
        window: float = 0.0,
    ) -> None:
        self.view, self.threshold = view, threshold
        self.v_lo, self.v_hi = speed
        self.jitter, self.reach, self.max_gap, self.catch_up = jitter, reach, max_gap, catch_up
        self.min_samples = min_samples  # a passage moves with the line: one lone match is no passage
        self.window = window  # half-length of the window: matches clamped at its edge do not measure speed
        self.started = False  # the stream's first frame was seen
        self._first_frame: int | None = None
        self._run: list[Sample] = []
        self._run_from_start = False
        self._strong = 0  # samples of the run up to its last strong one
        self._missed = 0

    @property
    def active(self) -> bool:
        return bool(self._run)

    def speed_estimate(self, default: float) -> float:
        """px per frame of the passage under way (its matches' slope, within the speed bounds), else ``default``."""
        if len(self._run) < 2:
            return default
        return min(max(_slope(self._run), self.v_lo), self.v_hi)

    def _fits(self, s: Sample) -> bool:
        last = self._run[self._strong - 1]  # the last sample at or above the threshold
        dt = s.frame - last.frame
        du = s.u - last.u
        # a match never runs back against the motion by more than the jitter (that is another instance
        # entering the window); it may lag and catch up (clamped at the window's edge, or a weak match
        # sliding over a part that differs from the template)
        return self.v_lo * dt - self.jitter <= du <= self.v_hi * dt + self.jitter + self.catch_up

    def push(self, s: Sample) -> list[Crossing]:
        if self._first_frame is None:
            self._first_frame = s.frame
        out: list[Crossing] = []
        finite = math.isfinite(s.u) and math.isfinite(s.score)
        if s.score >= self.threshold and finite:
            if self._run and self._fits(s):
                self._run.append(s)
                self._strong = len(self._run)
                self._missed = 0
                return out
            out += self._close(at_end=False)
            self._run = [s]
            self._strong = 1
            self._run_from_start = s.frame == self._first_frame
            self._missed = 0
            return out
        if self._run:
            self._missed += 1
            if self._missed > self.max_gap:
                out += self._close(at_end=False)
            elif finite and self._fits(s):
                # a weaker frame that moves with the part (compression, aliasing): kept, but it must be
                # followed by a strong one to count
                self._run.append(s)
        return out

    def finish(self) -> list[Crossing]:
        return self._close(at_end=True)

    def _close(self, at_end: bool) -> list[Crossing]:
        run, self._run, self._missed = self._run[: self._strong], [], 0
        if len(run) < self.min_samples and not (at_end or self._run_from_start):
            return []
        if not run:
            return []
        us = [s.u for s in run]
        inner = [r for r in run if abs(r.u) < self.window - 1.5] if self.window > 0 else run
        inner = inner if len(inner) >= 2 else run  # matches clamped at the window's edge do not move
        speed = _slope(inner) if len(inner) >= 2 else (self.v_lo + self.v_hi) / 2
        if not self.v_lo <= speed <= self.v_hi:  # a run too short or too jumpy to measure
            speed = min(max(speed, self.v_lo), self.v_hi) if self.v_hi > 0 else speed
        time = None
        for a, b in zip(run, run[1:]):
            if a.u <= 0 <= b.u and b.u > a.u:  # crossed home between these samples
                time = a.frame + (b.frame - a.frame) * (-a.u) / (b.u - a.u)
                break
        near = min(run, key=lambda s: abs(s.u))
        if time is None and abs(near.u) <= self.reach:
            # close to home without passing it: lost near home (a crossing) unless the stream began or
            # ended first (the crossing fell outside the video)
            est = near.frame - near.u / speed if speed > 0 else float(near.frame)
            cut = (at_end and est > run[-1].frame + 0.5) or (
                self._run_from_start and est < run[0].frame - 0.5
            )
            if not cut:
                time = est
        if time is not None and len(inner) >= 3 and speed > 0:
            # the part moves smoothly and camera shake or match noise jitter each frame: the line through
            # the passage's matches says when the part itself was at home
            mf = sum(r.frame for r in inner) / len(inner)
            mu = sum(r.u for r in inner) / len(inner)
            fitted = mf - mu / speed
            if abs(fitted - time) <= 2.0 and run[0].frame - 0.5 <= fitted <= run[-1].frame + 0.5:
                time = fitted
        if time is not None:
            return [Crossing(self.view, float(time), float(speed), run, True)]
        if self._run_from_start or at_end:
            # the stream began after the view passed home, or ended before it got there
            t = run[0].frame - us[0] / speed if speed > 0 else float(near.frame)
            return [Crossing(self.view, float(t), float(speed), run, False)]
        return []
