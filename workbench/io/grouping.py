"""Crossings of all views -> passes (one per part), and the checks that make a doubtful pass loud.

Each view crosses its home a fixed travel after the part's first view (``ViewTrack.offset``), so a crossing
at time t with speed v says when the part's first view crossed: t - offset / v. Crossings whose reference
times agree within half a part pitch belong to one part; that holds for parts back to back, any gap, and
speed changing from part to part. A pass is final once every view is in or its views can no longer come.

A pass is "suspect" (with the reasons) when a view is missing, a view matched twice, the views came out of
their order along the part, or it lasted much longer or shorter than usual; "partial" when the stream
began or ended while some view could not yet (or no longer) reach home; else "ok".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from workbench.io.crossings import Crossing
from workbench.io.track_rule import TrackRule

LONG = 1.6  # "much" longer or shorter than the median pass, unless the video's own spread is wider


@dataclass
class TrackedPass:
    """One part: the chosen crossing per view, duplicates, partial crossings, status and reasons."""

    index: int
    t_ref: float  # fractional frame at which the part's first view crossed (or would have)
    crossings: dict[str, Crossing] = field(default_factory=dict)
    duplicates: list[Crossing] = field(default_factory=list)
    partial: list[Crossing] = field(default_factory=list)
    status: str = "ok"  # ok, partial, suspect
    reasons: list[str] = field(default_factory=list)
    extent: tuple[int, int] | None = None  # frames the part's views are in sight (or the presence run)
    rejected: dict[str, tuple[Crossing, float]] = field(default_factory=dict)  # below a minimum score

    @property
    def all_crossings(self) -> list[Crossing]:
        return [
            *self.crossings.values(),
            *self.duplicates,
            *self.partial,
            *(c for c, _ in self.rejected.values()),
        ]

    @property
    def first(self) -> int:
        return self.extent[0] if self.extent else min(c.first for c in self.all_crossings)

    @property
    def last(self) -> int:
        return self.extent[1] if self.extent else max(c.last for c in self.all_crossings)

    @property
    def span(self) -> tuple[int, int]:
        return self.first, self.last


class PassGrouper:
    """Feed crossings with ``add``; ``due(frame)`` returns passes that are final by that frame, in order."""

    def __init__(self, rule: TrackRule, first_frame: int = 0) -> None:
        self.rule = rule
        self.offsets = {v.name: v.offset for v in rule.views}
        self.names = rule.names
        lo, med, _ = rule.speed
        self.v_slow = max(lo, 0.3 * med, 1e-3)
        self.spread = max(self.offsets.values()) if self.offsets else 0.0
        self.first_frame = first_frame
        self.last_frame: int | None = None
        self._open: list[TrackedPass] = []
        self._count = 0
        self.skipped = 0  # parts seen only partly (at the stream's start or end) with no view at home

    def _ref(self, c: Crossing) -> float:
        return c.time - self.offsets.get(c.view, 0.0) / max(c.speed, self.v_slow)

    def add(self, c: Crossing) -> None:
        ref = self._ref(c)
        tol = 0.5 * self.rule.pitch / max(c.speed, self.v_slow)
        best = min(self._open, key=lambda p: abs(p.t_ref - ref), default=None)
        if best is None or abs(best.t_ref - ref) > tol:
            best = TrackedPass(-1, ref)
            self._open.append(best)
            self._open.sort(key=lambda p: p.t_ref)
        if not c.reached:
            best.partial.append(c)
            return
        old = best.crossings.get(c.view)
        if old is None:
            best.crossings[c.view] = c
        elif abs(c.time - old.time) * max(c.speed, self.v_slow) < self.rule.window[0]:
            # one passage the window's match left and found again (a shifted match of repeated shapes took
            # over for a frame): the same view of the same part; the better match decides
            best.crossings[c.view] = c if _quality(c) > _quality(old) else old
        else:  # matched twice: keep the crossing whose timing fits the part better, report both
            keep, extra = (old, c) if abs(self._ref(old) - best.t_ref) <= abs(ref - best.t_ref) else (c, old)
            best.crossings[c.view] = keep
            best.duplicates.append(extra)
        refs = [self._ref(x) for x in best.crossings.values()]
        if refs:
            best.t_ref = sum(refs) / len(refs)

    def _is_due(self, p: TrackedPass, frame: int) -> bool:
        if len(p.crossings) == len(self.names) and all(c.last < frame for c in p.all_crossings):
            return True
        window = self.rule.window[0]
        return frame > p.t_ref + (self.spread + 2 * window) / self.v_slow + 2

    def due(self, frame: int) -> list[TrackedPass]:
        """Passes final at ``frame`` (every view in, or too late for the rest), with status and reasons."""
        out = []
        while self._open and self._is_due(self._open[0], frame):
            out += self._finalize(self._open.pop(0))
        return out

    def finish(self, last_frame: int) -> list[TrackedPass]:
        """Every open pass, at the end of the stream (``last_frame`` = the last frame read)."""
        self.last_frame = last_frame
        out = [q for p in self._open for q in self._finalize(p)]
        self._open = []
        return out

    def _finalize(self, p: TrackedPass) -> list[TrackedPass]:
        if not p.crossings:  # only in view at the start or the end, no view reached home: nothing to inspect
            self.skipped += 1
            return []
        return [self._judge(p)]

    def _judge(self, p: TrackedPass) -> TrackedPass:
        self._count += 1
        p.index = self._count - 1
        v = self.rule.speed[1]
        reasons: list[str] = []
        partial = False
        for name in self.names:
            if name in p.crossings:
                continue
            expected = p.t_ref + self.offsets.get(name, 0.0) / max(v, self.v_slow)
            reach = self.rule.window[0] / max(v, self.v_slow)
            at_start = expected - reach <= self.first_frame
            at_end = self.last_frame is not None and expected + reach >= self.last_frame
            if at_start or at_end or any(c.view == name for c in p.partial):
                partial = True
            else:
                reasons.append(f"view '{name}' not found")
        for c in p.duplicates:
            kept = p.crossings[c.view]
            reasons.append(f"view '{c.view}' matched twice (frames {round(kept.time)} and {round(c.time)})")
        got = [c.view for c in sorted(p.crossings.values(), key=lambda c: c.time)]
        want = [n for n in self.rule.order if n in p.crossings]
        if got != want and self._out_of_order(p):
            reasons.append(f"views out of order: {', '.join(got)} (expected {', '.join(want)})")
        if self.rule.pass_frames > 0 and not partial and len(p.crossings) == len(self.names):
            span = p.last - p.first + 1
            med, mad = self.rule.pass_frames, self.rule.pass_spread
            if span > max(LONG * med, med + 4 * mad):
                reasons.append(f"pass lasts {span} frames, much longer than usual ({med:.0f})")
            elif span < min(med / LONG, med - 4 * mad):
                reasons.append(f"pass lasts {span} frames, much shorter than usual ({med:.0f})")
        p.reasons = reasons
        p.status = "suspect" if reasons else ("partial" if partial else "ok")
        return p

    def _out_of_order(self, p: TrackedPass) -> bool:
        """True when two views crossed in the wrong order by more than timing noise."""
        cs = list(p.crossings.values())
        for a in cs:
            for b in cs:
                da = self.offsets.get(a.view, 0.0)
                db = self.offsets.get(b.view, 0.0)
                if da < db:
                    margin = max(1.5, 0.25 * (db - da) / max(min(a.speed, b.speed), self.v_slow))
                    if a.time > b.time + margin:
                        return True
        return False


def _quality(c: Crossing) -> float:
    """A crossing's best full-resolution match score (its coarse peak when nothing was refined)."""
    refined = [s.payload.score for s in c.samples if s.payload is not None]
    return max(refined) if refined else c.peak


def pass_spans(passes: list[TrackedPass]) -> tuple[float, float]:
    """(median, MAD) of the frames whole passes were tracked, for the 'much longer or shorter' check."""
    spans = sorted(p.last - p.first + 1 for p in passes if p.status == "ok")
    if not spans:
        return 0.0, 0.0
    med = (
        spans[len(spans) // 2]
        if len(spans) % 2
        else (spans[len(spans) // 2 - 1] + spans[len(spans) // 2]) / 2
    )
    dev = sorted(abs(s - med) for s in spans)
    mad = 1.4826 * dev[len(dev) // 2] if dev else 0.0
    return float(med), float(mad) if math.isfinite(mad) else 0.0
