"""The one pass tracker, used by the import and by line mode: frames in, passes with their best frames out.

Per frame, each view is matched (coarse) only inside its window around home; the match feeds the view's
:class:`~workbench.io.crossings.PassageTracker`. Frames whose match is near home are refined at full
resolution and cropped right away (the frame is not kept), so a view's crossing arrives with its
candidates; the best-aligned frame is the one whose refined match is nearest home (the next nearest follow
for ``top_k`` > 1). Crossings of all views are grouped into passes (:mod:`workbench.io.grouping`), each
with its status (ok, partial, suspect) and reasons. The rule comes calibrated
(:func:`workbench.io.calibrate.calibrate`) or from a bundle's manifest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from workbench.core.best_frame import Candidate
from workbench.core.image import crop_padded
from workbench.core.matching import ViewMatcher, peak_centre
from workbench.io.crossings import Crossing, PassageTracker, Sample, min_samples
from workbench.io.grouping import PassGrouper, TrackedPass
from workbench.io.silhouette import allowed_offsets, motion_labels
from workbench.io.track_rule import TrackRule, decode_weights
from workbench.io.window import ViewWindow


@dataclass(frozen=True)
class TrackView:
    """A view to track: name, template (any image), crop window (x, y, w, h) relative to the match, and the
    match threshold the presence rule uses (the calibrated rule has its own)."""

    name: str
    template: np.ndarray
    window: tuple[int, int, int, int]
    threshold: float = 0.6


class PassTracker:
    """``push(index, gray, image)`` per frame in order; returns the passes that became final.

    ``gray`` is the (H, W) uint8 grey frame, ``image`` what crops are cut from (BGR for an import, RGB on
    the line). ``top_k`` candidates per view and pass are kept (nearest home first).
    """

    def __init__(
        self,
        rule: TrackRule,
        views: list[TrackView],
        frame_size: tuple[int, int],
        top_k: int = 1,
        first_frame: int = 0,
        step: int = 1,
    ) -> None:
        missing = [v.name for v in views if v.name not in rule.names]
        if missing:
            raise ValueError(
                f"the pass rule was calibrated without view(s) {', '.join(missing)}; import a video of the line "
                "with every view to calibrate it again"
            )
        self.rule, self.top_k = rule, top_k
        self.windows = []
        self.crop_windows = {v.name: v.window for v in views}
        for v in views:
            vt = rule.view(v.name)
            win = ViewWindow(
                ViewMatcher(v.name, v.template),
                vt.home,
                rule.axis,
                rule.window,
                frame_size,
                decode_weights(vt.weights),
            )
            win.refine_radius = max(win.matcher.radius, int(math.ceil(vt.refine_radius)))
            outline = decode_weights(vt.outline)
            win.outline = None if outline is None else outline > 0.5
            if abs(1.0 / win.step - vt.scale) > 1e-9:
                raise ValueError(
                    f"view '{v.name}': its template is not the one the pass rule was calibrated with; import the "
                    "video again to calibrate"
                )
            win.matcher.check_frame(*frame_size)
            win.threshold = vt.threshold
            self.windows.append(win)
        lo, med, hi = rule.speed
        self.jitter = rule.jitter  # the same passage parameters as the calibration used
        reach = 0.5 * hi * step + self.jitter
        self.refine_reach = reach + (top_k // 2) * hi * step
        self.passages = {
            w.name: PassageTracker(
                w.name,
                w.threshold,
                (max(lo - self.jitter / 2, 0.0), hi + self.jitter / 2),
                self.jitter,
                reach,
                catch_up=0.5 * rule.window[0],
                min_samples=min_samples(rule.window[0], med, step),
                window=rule.window[0],
            )
            for w in self.windows
        }
        self.grouper = PassGrouper(rule, first_frame)
        self.first_frame = first_frame
        self.frames: list[int] = []
        self.scores: list[list[float]] = []  # per frame, the views' window scores (for review plots)
        self.fine_matches = 0
        self._last = first_frame
        # a view held to the part's outline is refined one frame late: the frames before and after tell the
        # moving part from the still background
        self._prev: tuple[int, np.ndarray] | None = None
        self._pending: list[tuple] = []
        self._known: dict[str, tuple[dict[int, int], np.ndarray]] = {}

    def reuse(self, frames: np.ndarray, windows: dict) -> None:
        """Take the window matches a calibration made on ``frames`` (N,) {view: (box, (N, 3) (score, x, y))}
        instead of matching those frames again; only for a view whose window is the same region."""
        at = {int(f): i for i, f in enumerate(frames)}
        for w in self.windows:
            box, res = windows.get(w.name, (None, None))
            if box == w.box and res is not None and len(res) == len(at):
                self._known[w.name] = (at, res)

    def push(self, index: int, gray: np.ndarray, image: np.ndarray) -> list[TrackedPass]:
        self._resolve((index, gray))
        self._last = index
        row = []
        for w in self.windows:
            known = self._known.get(w.name)
            i = known[0].get(index) if known is not None else None
            score, x, y = (float(v) for v in known[1][i]) if i is not None else w.match_gray(gray)
            u, v = w.uw(x, y)
            row.append(score)
            sample = Sample(index, score, u, v)
            passage = self.passages[w.name]
            if abs(u) <= self.refine_reach and (score >= w.threshold or passage.active):
                if w.outline is None:
                    sample.payload = self._refine(w, index, gray, image, x, y)
                else:  # a sample's payload is first read when its passage closes, a frame later at the earliest
                    self._pending.append((w, sample, self._prev, (index, gray), image, x, y))
            for c in passage.push(sample):
                self.grouper.add(c)
        self._prev = (index, gray)
        self.frames.append(index)
        self.scores.append(row)
        return self._checked(self.grouper.due(index), at_end=False)

    def _resolve(self, after: tuple[int, np.ndarray] | None) -> None:
        """Refine the samples waiting for the frame after theirs (``after``; None at the end)."""
        for w, sample, before, (index, gray), image, x, y in self._pending:
            around = [f for f in (before, (index, gray), after) if f is not None]
            sample.payload = self._refine(w, index, gray, image, x, y, around)
        self._pending = []

    def finish(self) -> list[TrackedPass]:
        self._resolve(None)
        for p in self.passages.values():
            for c in p.finish():
                self.grouper.add(c)
        return self._checked(self.grouper.finish(self._last), at_end=True)

    def _checked(self, passes: list[TrackedPass], at_end: bool) -> list[TrackedPass]:
        """Apply the minimum match scores set by the user (a view whose best frame matches lower is not found)
        and give each pass the frames its part's views are in sight."""
        for p in passes:
            for name, c in list(p.crossings.items()):
                floor = self.rule.view(name).min_score
                if floor > -1 and not self.ranked(c):
                    best = max(
                        (s.payload.score for s in c.samples if s.payload is not None), default=float("nan")
                    )
                    del p.crossings[name]
                    p.rejected[name] = (c, best)
                    p.reasons.append(f"view '{name}' not found (best frame's match {best:.2f} < {floor:.2f})")
                    p.status = "suspect"
            p.extent = self._extent(p, at_end)
        return [p for p in passes if p.crossings or p.reasons]

    def _extent(self, p: TrackedPass, at_end: bool) -> tuple[int, int]:
        """(first, last) frames any view of the part is in sight: each crossing widened by its view's path."""
        lo, hi = [], []
        for c in p.all_crossings:
            a, b = self.rule.view(c.view).path
            v = max(c.speed, 1e-3)
            lo.append(min(c.time + a / v, c.first))
            hi.append(max(c.time + b / v, c.last))
        first = max(self.first_frame, int(math.floor(min(lo) + 0.05)))  # within a twentieth of a frame
        last = int(math.ceil(max(hi) - 0.05))  # may lie ahead: the part is still in sight
        return first, max(first, min(self._last, last) if at_end else last)

    def _refine(
        self, w: ViewWindow, index: int, gray, image, x: float, y: float, around: list | None = None
    ) -> Candidate:
        """Full-resolution match around the coarse one; the position is the centre of the peak's top, among
        the positions that fit the part's outline when the view has one (``around``: neighbouring frames)."""
        m = w.matcher
        tw, th = m.size
        H, W = gray.shape
        r = w.refine_radius
        x0, y0 = max(0, int(round(x)) - r), max(0, int(round(y)) - r)
        x1, y1 = min(W, int(round(x)) + r + tw), min(H, int(round(y)) + r + th)
        if w.weights is not None:  # only the template's stable parts count (see calibrate's weights)
            res = cv2.matchTemplate(gray[y0:y1, x0:x1], m.template, cv2.TM_CCOEFF_NORMED, mask=w.weights)
        else:
            res = cv2.matchTemplate(gray[y0:y1, x0:x1], m.template, cv2.TM_CCOEFF_NORMED)
        if w.outline is not None and around and len(around) > 1:
            speed = self.passages[w.name].speed_estimate(self.rule.speed[1])
            shift = (speed * w.axis[0], speed * w.axis[1])
            probe = (int(round(x)), int(round(y)), tw, th)
            labels = motion_labels(around, index, (x0, y0, x1 - x0, y1 - y0), shift, probe)
            ok = allowed_offsets(labels, w.outline)
            res = np.where(ok, np.nan_to_num(res, nan=-1.0), -1.0).astype(np.float32)
        score, fx, fy = peak_centre(res)
        mx, my = int(round(x0 + fx)), int(round(y0 + fy))
        self.fine_matches += 1
        wx, wy, ww, wh = self.crop_windows[w.name]
        cx, cy = mx + wx, my + wy
        Hi, Wi = image.shape[:2]
        clipped = cx < 0 or cy < 0 or cx + ww > Wi or cy + wh > Hi
        u, _ = w.uw(x0 + fx, y0 + fy)
        return Candidate(score, index, mx, my, cx, cy, crop_padded(image, cx, cy, ww, wh), clipped, u)

    def ranked(self, crossing: Crossing) -> list[Candidate]:
        """A crossing's refined frames, best-aligned first (nearest home; the better score on a tie)."""
        floor = self.rule.view(crossing.view).min_score
        cands = [s.payload for s in crossing.samples if s.payload is not None and s.payload.score >= floor]
        # the frame nearest the moment the part was at home (the passage's fitted crossing), the better
        # aligned match on a tie
        cands.sort(
            key=lambda c: (round(abs(c.frame - crossing.time), 3), round(abs(c.u), 3), -c.score, c.frame)
        )
        return cands[: self.top_k]

    @property
    def signals(self) -> tuple[np.ndarray, np.ndarray]:
        """(frames (N,) int64, window scores (N, V) float32) for review plots; -inf where nothing matched."""
        return np.asarray(self.frames, np.int64), np.asarray(self.scores, np.float32).reshape(
            -1, len(self.windows)
        )
