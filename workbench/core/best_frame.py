"""The best-aligned frames of one view during one pass, found with few full-resolution matches.

Every frame of the pass is matched at coarse scale only. The coarse score rises while the view
moves into place and falls after, so the best-aligned frame sits at (or next to) a local maximum
of the coarse score: only such peaks, and their neighbours, are refined at full resolution, and
only when the peak is not far below the best coarse score of the pass so far. The ``top_k`` best
refined frames are kept with their crops (seed 000 keeps the single best frame per part).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from workbench.core.image import crop_padded
from workbench.core.matching import FramePyramid, Match, ViewMatcher


@dataclass
class Candidate:
    """A refined frame of one view: NCC score, frame index, match top-left, crop top-left, the crop pixels
    and, for the pass tracker that ranks by it, the distance to home along the motion."""

    score: float
    frame: int
    match_x: int
    match_y: int
    x: int
    y: int
    crop: np.ndarray  # (h, w[, C]) same dtype and channel order as the frames pushed
    clipped: bool  # part of the window lay outside the frame (padded with 0)
    u: float = 0.0  # px along the motion from home (negative: before home); 0 where ranked by score


@dataclass
class _Entry:
    index: int
    gray: np.ndarray
    image: np.ndarray
    coarse: Match


def _score(e: _Entry | None) -> float:
    return -math.inf if e is None else e.coarse.score


class BestFrameTracker:
    """Feed the frames of one pass with ``push``; ``finish`` returns the ranked top-k candidates.

    ``window`` (x, y, w, h) is the crop window relative to the match's top-left. ``skip_margin``:
    a coarse peak more than this below the pass's best coarse score so far is not refined;
    ``slack``: nor is one more than this below the match threshold.
    """

    def __init__(
        self,
        matcher: ViewMatcher,
        window: tuple[int, int, int, int],
        top_k: int = 1,
        skip_margin: float = 0.2,
        slack: float = 0.35,
    ) -> None:
        self.matcher, self.window, self.top_k = matcher, window, top_k
        self.skip_margin, self.slack = skip_margin, slack
        self.half = max(1, (top_k + 1) // 2)  # neighbours refined on each side of a peak
        self.fine_matches = 0
        self._reset()

    def _reset(self) -> None:
        self._buf: list[_Entry | None] = [
            None
        ] * self.half  # leading sentinels: a peak may be the first frame
        self._refined: set[int] = set()
        self._heap: list = []
        self.best_coarse = -math.inf
        self.best_fine = -math.inf

    def push(self, index: int, pyramid: FramePyramid, image: np.ndarray) -> None:
        """Match one frame of the pass (``image`` is what gets cropped, e.g. the BGR frame)."""
        m = self.matcher
        coarse = m.coarse(pyramid.small(m.scale))
        entry = _Entry(index, pyramid.gray, image, coarse)
        if not math.isfinite(coarse.score):  # no coarse level (tiny template): refine every frame
            self._refine(entry)
            return
        self._add(entry)

    def _add(self, entry: _Entry | None) -> None:
        self._buf.append(entry)
        if len(self._buf) > 2 * self.half + 1:
            self._buf.pop(0)
        if entry is not None:
            self.best_coarse = max(self.best_coarse, entry.coarse.score)
        if len(self._buf) < 2 * self.half + 1:
            return
        mid = self._buf[self.half]
        if mid is None:
            return
        c = mid.coarse.score
        is_peak = c >= _score(self._buf[self.half - 1]) and c > _score(self._buf[self.half + 1])
        if is_peak and c >= self.best_coarse - self.skip_margin and c >= self.matcher.threshold - self.slack:
            for e in self._buf:
                if e is not None and e.index not in self._refined:
                    self._refine(e)

    def _refine(self, e: _Entry) -> None:
        self._refined.add(e.index)
        hit = self.matcher.refine(e.gray, e.coarse)
        self.fine_matches += 1
        self.best_fine = max(self.best_fine, hit.score)
        if hit.score < self.matcher.threshold:
            return
        key = (hit.score, -e.index)  # ties go to the earlier frame
        if len(self._heap) >= self.top_k and key <= self._heap[0][:2]:
            return
        wx, wy, ww, wh = self.window
        x, y = hit.x + wx, hit.y + wy
        H, W = e.image.shape[:2]
        clipped = x < 0 or y < 0 or x + ww > W or y + wh > H
        cand = Candidate(hit.score, e.index, hit.x, hit.y, x, y, crop_padded(e.image, x, y, ww, wh), clipped)
        item = (*key, cand)
        if len(self._heap) < self.top_k:
            heapq.heappush(self._heap, item)
        else:
            heapq.heapreplace(self._heap, item)

    def finish(self) -> tuple[list[Candidate], float]:
        """(candidates best first, best refined score or -inf) of the pass; the tracker is reset."""
        for _ in range(self.half):  # trailing sentinels: a peak may be the last frame
            self._add(None)
        ranked = [item[2] for item in sorted(self._heap, key=lambda it: it[:2], reverse=True)]
        best = self.best_fine
        self._reset()
        return ranked, best

    def discard(self) -> None:
        """Forget the pass (it was too short to count)."""
        self._reset()
