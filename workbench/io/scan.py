"""The calibration's one read of a video: each frame downscaled to every view's coarse step, each view's best
local maxima over the whole frame, and where a template is found pixel-exact (it was cut from this video)."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from workbench.core.matching import ViewMatcher, local_peaks
from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.io.video import FrameRange, VideoReader, prefetched
from workbench.io.window import coarse_step, downscale

K = 4  # local maxima kept per frame and view
MAX_FRAMES = 3000  # calibrate on at most this many sampled frames (2 minutes at 25 fps)
KEEP_BYTES = 256 * 2**20  # full-resolution grey frames kept while they fit (a short video is not read again)


class CalibrationError(ValueError):
    """The video does not show what the pass rule needs (moving parts matching the views)."""


@dataclass
class Scan:
    """What one read of the video keeps for calibration."""

    frames: np.ndarray  # (N,) int64 frame indices
    peaks: (
        np.ndarray
    )  # (N, V, K, 3) float32 (score, x, y) of each view's best local maxima, full-res top-left
    small: dict[int, list[np.ndarray]]  # coarse frames per downscale step
    width: int
    height: int
    matchers: list[ViewMatcher]
    steps: list[int]
    exact: list[tuple[int, int, int] | None]  # (frame, x, y) where a template was found pixel-exact
    # view -> (window box, (N, 3) float64 (score, x, y) of its window match per frame), as the calibration left it
    windows: dict[str, tuple[tuple[int, int, int, int], np.ndarray]] = field(default_factory=dict)
    grays: list[np.ndarray] | None = None  # (H, W) uint8 per frame, when they fit in KEEP_BYTES

    def gray(self, frame: int) -> np.ndarray | None:
        """The kept full-resolution grey frame ``frame``, or None (not read, or not kept)."""
        if self.grays is None:
            return None
        at = np.flatnonzero(self.frames == frame)
        return self.grays[int(at[0])] if len(at) else None

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.matchers]


def _probe(template: np.ndarray, size: int = 16) -> tuple[np.ndarray, int, int]:
    """The most textured size x size block of a template (its offset too), to find it pixel-exact cheaply."""
    th, tw = template.shape
    size = min(size, th, tw)
    best, at = -1.0, (0, 0)
    for y in range(0, th - size + 1, max(1, size // 2)):
        for x in range(0, tw - size + 1, max(1, size // 2)):
            v = float(template[y : y + size, x : x + size].std())
            if v > best:
                best, at = v, (x, y)
    x, y = at
    return template[y : y + size, x : x + size], x, y


def _exact_at(gray: np.ndarray, m: ViewMatcher, probe, x: float, y: float, r: int) -> tuple[int, int] | None:
    """(x, y) if the template sits pixel-exact (to +-1 grey level) within ``r`` px of (x, y)."""
    patch, px, py = probe
    th, tw = m.template.shape
    H, W = gray.shape
    x0, y0 = max(0, int(x) - r + px), max(0, int(y) - r + py)
    x1, y1 = min(W, int(x) + r + px + patch.shape[1] + 1), min(H, int(y) + r + py + patch.shape[0] + 1)
    if x1 - x0 < patch.shape[1] or y1 - y0 < patch.shape[0]:
        return None
    res = cv2.matchTemplate(gray[y0:y1, x0:x1], patch, cv2.TM_SQDIFF)
    low, _, (bx, by), _ = cv2.minMaxLoc(res)
    if low > patch.size:  # more than one grey level per pixel on average
        return None
    tx, ty = x0 + bx - px, y0 + by - py
    if tx < 0 or ty < 0 or tx + tw > W or ty + th > H:
        return None
    diff = cv2.absdiff(gray[ty : ty + th, tx : tx + tw], m.template)
    return (tx, ty) if float(diff.mean()) <= 0.5 else None


def scan_video(
    reader: VideoReader,
    matchers: list[ViewMatcher],
    sampling: FrameRange = FrameRange(),
    max_frames: int = MAX_FRAMES,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> Scan:
    """Read up to ``max_frames`` sampled frames: coarse frames, each view's best local maxima, exact finds."""
    steps = [coarse_step(*m.size) for m in matchers]
    tpls = [downscale(m.template, s) for m, s in zip(matchers, steps)]
    probes = [_probe(m.template) for m in matchers]
    small: dict[int, list[np.ndarray]] = {s: [] for s in set(steps)}
    frames: list[int] = []
    rows: list[np.ndarray] = []
    exact: list[tuple[int, int, int] | None] = [None] * len(matchers)
    total = min(len(sampling.indices(reader.frame_count)), max_frames)

    def prepare(bgr: np.ndarray) -> tuple[np.ndarray, dict[int, np.ndarray]]:  # on the decoding thread
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
        return gray, {s: downscale(gray, s) for s in small}

    grays: list[np.ndarray] | None = []
    read = prefetched(reader.frames(sampling, color="bgr", cancel=cancel), prepare=prepare)
    for n, (index, _, (gray, smalls)) in enumerate(read):
        if n >= max_frames:
            break
        if n % 16 == 0:
            progress(n / max(total, 1), f"calibrating: frame {index}")
        for s in small:
            small[s].append(smalls[s])
        if grays is not None:
            grays.append(gray)
            if len(grays) * gray.nbytes > KEEP_BYTES:
                grays = None
        row = np.empty((len(matchers), K, 3), np.float32)
        for j, m in enumerate(matchers):
            sm = small[steps[j]][-1]
            tpl = tpls[j]
            if tpl.shape[0] > sm.shape[0] or tpl.shape[1] > sm.shape[1]:
                row[j] = (-np.inf, 0, 0)
                continue
            res = cv2.matchTemplate(sm, tpl, cv2.TM_CCOEFF_NORMED)
            pk = local_peaks(res, K, max(2, min(tpl.shape) // 4))
            pk[:, 1:] *= steps[j]
            row[j] = pk
            if exact[j] is None and np.isfinite(pk[0, 0]):
                hit = _exact_at(gray, m, probes[j], pk[0, 1], pk[0, 2], 2 * steps[j] + 1)
                if hit is not None:
                    exact[j] = (index, *hit)
        frames.append(index)
        rows.append(row)
    if not frames:
        raise CalibrationError(f"video '{reader.name}' has no frames in the chosen range")
    progress(1.0, "calibrating: frames read")
    return Scan(
        np.asarray(frames, np.int64),
        np.stack(rows),
        small,
        reader.width,
        reader.height,
        matchers,
        steps,
        exact,
        grays=grays,
    )
