"""Calibrate the pass rule from the video itself (no constants tuned on one scene).

One read (of the first ``max_frames`` sampled frames) keeps every frame downscaled to each view's coarse
scale and the best few local maxima of each view's match over the whole frame. From those:

* the motion (axis and speed) is the displacement of matches between consecutive frames;
* each view's home is where its template was cut (origin), else where the template is found pixel-exact
  (it was cut from this video), else where its scores peak along the path, else centred in the frame;
* around home a window (a few frames of travel along the motion, at most half the distance from one part
  to the next) is matched on the kept frames exactly as the online tracker will; the score threshold lies
  between the window's scores at home with a part's view there and without (the video's own two
  populations); the passages that cross home give the part pitch, the views' order along a part and their
  offsets, and the usual length of a pass.

:func:`calibrate` returns a :class:`~workbench.io.track_rule.TrackRule` with the reasons in words.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, replace

import cv2
import numpy as np

from workbench.core.matching import ViewMatcher, local_peaks
from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.io.crossings import Crossing, PassageTracker, Sample, min_samples
from workbench.io.grouping import PassGrouper, pass_spans
from workbench.io.track_rule import TrackRule, ViewTrack, encode_weights
from workbench.io.video import FrameRange, VideoReader, prefetched
from workbench.io.window import ViewWindow, coarse_step, downscale

K = 4  # local maxima kept per frame and view
NOT_FOUND = 2.0  # the threshold of a view this video never shows (no correlation reaches it)
MAX_FRAMES = 3000  # calibrate on at most this many sampled frames (2 minutes at 25 fps)


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
    for n, (index, bgr) in enumerate(prefetched(reader.frames(sampling, color="bgr", cancel=cancel))):
        if n >= max_frames:
            break
        if n % 16 == 0:
            progress(n / max(total, 1), f"calibrating: frame {index}")
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
        for s in small:
            small[s].append(downscale(gray, s))
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
    )


def _mad(x) -> float:
    x = np.asarray(x, np.float64)
    return float(1.4826 * np.median(np.abs(x - np.median(x)))) if x.size else 0.0


def _otsu(values: np.ndarray) -> float:
    """The split of 1-D values that maximizes the between-class variance."""
    v = np.sort(np.asarray(values, np.float64))
    if v.size < 2 or v[0] == v[-1]:
        return float(v[0]) if v.size else 0.0
    cum = np.cumsum(v)
    n = np.arange(1, v.size)
    m0 = cum[:-1] / n
    m1 = (cum[-1] - cum[:-1]) / (v.size - n)
    between = n * (v.size - n) * (m0 - m1) ** 2
    i = int(np.argmax(between))
    return float((v[i] + v[i + 1]) / 2)


def _motion(scan: Scan) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(axis (2,), speed samples px/frame along it, views followed) from matches linked between
    consecutive frames.

    Each view's links vote; a view whose links do not agree on one motion (a template that matches
    nothing in this video) is left out."""
    pooled, followed = [], []
    for j in range(len(scan.names)):
        top = scan.peaks[:, j, 0, 0]
        ok = np.isfinite(top)
        if ok.sum() < 4:
            continue
        # links between the view's own matches, not its best guesses on an empty conveyor: the top scores
        # split into those two groups
        strong = max(_otsu(top[ok]), float(np.quantile(top[ok], 0.5)))
        disp = []
        for i in range(len(scan.frames) - 1):
            a, b = scan.peaks[i, j], scan.peaks[i + 1, j]
            if not a[0, 0] >= strong:
                continue
            cand = b[np.isfinite(b[:, 0]) & (b[:, 0] >= strong)]
            if not len(cand):
                continue
            d = cand[:, 1:] - a[0, 1:]
            k = int(np.argmin(np.hypot(d[:, 0], d[:, 1])))  # the same instance, one frame on
            disp.append(d[k] / (scan.frames[i + 1] - scan.frames[i]))
        if len(disp) < 3:
            continue
        d = np.asarray(disp, np.float64)
        med = np.median(d, axis=0)
        for _ in range(3):  # the main motion: drop links to another instance
            dev = np.hypot(*(d - med).T)
            keep = dev <= max(3.0, 0.5 * float(np.hypot(*med)), 3.0 * _mad(dev))
            if keep.sum() < 3:
                break
            med = np.median(d[keep], axis=0)
        dev = np.hypot(*(d - med).T)
        spread = float(np.median(dev))
        # a view that follows the parts moves alike from frame to frame (up to shake and match noise); a
        # template that matches nothing here jumps about the frame
        if spread <= max(0.5 * float(np.hypot(*med)), 2.0 * scan.steps[j] + 2.0):
            pooled.append(d[dev <= max(3.0, 0.5 * float(np.hypot(*med)), 3.0 * spread)])
            followed.append(scan.names[j])
    if not pooled:
        raise CalibrationError(
            "no view was followed from frame to frame: check the templates (cut them from this line's video)"
        )
    d = np.concatenate(pooled)
    med = np.median(d, axis=0)
    norm = float(np.hypot(*med))
    if norm < 0.5:
        raise CalibrationError(
            f"the views hardly move (median {norm:.2f} px per frame): expected parts passing the camera"
        )
    axis = med / norm
    return axis, d @ axis, followed


def _home(scan: Scan, j: int, axis, perp, v_med: float, origin, tol: float) -> tuple[np.ndarray, str, str]:
    """(home (x, y), how it was found, a sentence saying why) of view j."""
    tw, th = scan.matchers[j].size
    if origin is not None:
        x, y = float(origin[0]), float(origin[1])
        smooth = _smoothed(scan, j, int(origin[2]), x, y, axis, v_med, tol) if len(origin) > 2 else None
        home = np.array([x, y]) if smooth is None else smooth * axis + (np.array([x, y]) @ perp) * perp
        return (
            home,
            "origin",
            f"its template was cut at x={x:.0f} y={y:.0f}"
            + (
                f" (frame {int(origin[2])}; the part's own position there, without that frame's shake)"
                if smooth is not None
                else ""
            ),
        )
    if scan.exact[j] is not None:
        f, x, y = scan.exact[j]
        smooth = _smoothed(scan, j, f, x, y, axis, v_med, tol)
        home = (
            np.array([x, y], np.float64)
            if smooth is None
            else smooth * axis + (np.array([x, y]) @ perp) * perp
        )
        return home, "exact", f"its template is found pixel-exact in frame {f} (cut from this video)"
    pk = scan.peaks[:, j].reshape(-1, 3)
    pk = pk[np.isfinite(pk[:, 0])]
    strong = pk[pk[:, 0] >= np.quantile(pk[:, 0], 0.9)] if len(pk) else pk
    w_home = float(np.median(strong[:, 1:] @ perp)) if len(strong) else 0.0
    centre = np.array([(scan.width - tw) / 2, (scan.height - th) / 2]) @ axis
    noise = _score_noise(scan, j)
    vertices, drops = [], []
    level = float(np.quantile(pk[:, 0], 0.9)) if len(pk) else 1.0
    tracks = [t for t in _tracks(scan, j, axis, v_med) if t[:, 0].max() >= level]  # the view's passages
    for t in tracks:  # where does each passage's score peak along the path?
        top = t[t[:, 0] >= np.median(t[:, 0])]
        if len(top) < 5 or np.ptp(top[:, 1]) < 4 * scan.steps[j]:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a, b, c = np.polyfit(top[:, 1], top[:, 0], 2)
        if a >= 0:
            continue
        vertex = -b / (2 * a)
        lo, hi = float(top[:, 1].min()), float(top[:, 1].max())
        drop = -a * min(vertex - lo, hi - vertex) ** 2
        if lo < vertex < hi and drop > 4 * noise:
            vertices.append(vertex)
            drops.append(drop)
    if len(vertices) >= max(2, len(tracks) // 2):
        v = np.asarray(vertices)
        if _mad(v) <= max(
            2.0 * scan.steps[j], 0.1 * float(np.ptp(strong[:, 1:] @ axis) if len(strong) else 0.0)
        ):
            home = float(np.median(v)) * axis + w_home * perp
            return (
                home,
                "peak",
                f"its match score peaks there in {len(v)} of {len(tracks)} passages "
                f"(by {float(np.median(drops)):.3f} over the peak's surroundings, spread {_mad(v):.1f} px)",
            )
    if len(strong) >= 8:
        lo, hi = (float(np.quantile(strong[:, 1:] @ axis, q)) for q in (0.02, 0.98))
        if not lo <= centre <= hi:  # the view never comes to the centre: the middle of its path
            return (
                (lo + hi) / 2 * axis + w_home * perp,
                "centre",
                "its score is flat along the path and it never reaches the frame's centre: the middle of its path",
            )
    return (
        centre * axis + w_home * perp,
        "centre",
        "its score is flat along the path (no distinct peak), so the view is inspected centred in the frame",
    )


def _smoothed(
    scan: Scan, j: int, frame: int, x: float, y: float, axis, v_med: float, tol: float
) -> float | None:
    """The view's position along the motion at ``frame`` from the line through its matches in the frames
    around it: where the template was cut, less that frame's camera shake (None when not seen there)."""
    where = np.flatnonzero(scan.frames == frame)
    if not len(where):
        return None
    i0 = int(where[0])
    u0 = x * axis[0] + y * axis[1]
    pts = []
    for i in range(max(0, i0 - 10), min(len(scan.frames), i0 + 11)):
        df = float(scan.frames[i] - frame)
        pk = scan.peaks[i, j]
        ok = np.isfinite(pk[:, 0])
        if not ok.any():
            continue
        u = pk[ok, 1] * axis[0] + pk[ok, 2] * axis[1]
        k = int(np.argmin(np.abs(u - (u0 + v_med * df))))
        if abs(u[k] - (u0 + v_med * df)) <= tol:
            pts.append((df, float(u[k])))
    if len(pts) < 5:
        return None
    d = np.asarray(pts)
    slope, intercept = np.polyfit(d[:, 0], d[:, 1], 1)
    return float(intercept) if abs(intercept - u0) <= tol else None


def _tracks(scan: Scan, j: int, axis, v_med: float) -> list[np.ndarray]:
    """Runs of view j's best match that move with the line: arrays (n, 2) of (score, u along the axis)."""
    top = scan.peaks[:, j, 0]
    ok = np.isfinite(top[:, 0])
    if ok.sum() < 4:
        return []
    floor = float(np.quantile(top[ok, 0], 0.25))
    tol = max(3.0 * scan.steps[j], 0.5 * v_med)
    out, cur, last = [], [], None
    for i in range(len(scan.frames)):
        s, x, y = (float(v) for v in top[i])
        if not (np.isfinite(s) and s >= floor):
            last = None
            continue
        u = x * axis[0] + y * axis[1]
        if last is not None and abs(u - last[1] - v_med * (scan.frames[i] - last[0])) <= tol:
            cur.append((s, u))
        else:
            if len(cur) >= 3:
                out.append(np.asarray(cur))
            cur = [(s, u)]
        last = (scan.frames[i], u)
    if len(cur) >= 3:
        out.append(np.asarray(cur))
    return out


def _path(scan: Scan, j: int, home, axis, v_med: float) -> tuple[float, float]:
    """(before, after) px along the motion, from home, where view j is followed: the stretch of its path in
    sight (a pass's frames follow from it)."""
    top = scan.peaks[:, j, 0, 0]
    ok = np.isfinite(top)
    if ok.sum() < 4:
        return 0.0, 0.0
    level = max(_otsu(top[ok]), float(np.quantile(top[ok], 0.5)))
    runs = [t for t in _tracks(scan, j, axis, v_med) if len(t) >= 3 and t[:, 0].max() >= level]
    if not runs:
        return 0.0, 0.0
    u = np.concatenate([t[:, 1] for t in runs]) - float(np.asarray(home) @ np.asarray(axis))
    return round(min(float(u.min()), 0.0), 1), round(max(float(u.max()), 0.0), 1)


def _weights_of(patches: list[np.ndarray]) -> np.ndarray:
    """(h, w) weights in [0, 1]: 1 where the aligned instances agree, 0 where they differ far more than the
    stable parts do (those may be few: the reference is the best-agreeing quarter)."""
    z = np.stack([(p - p.mean()) / max(float(p.std()), 1e-6) for p in patches])
    spread = z.std(axis=0)
    ref = max(float(np.quantile(spread, 0.25)), 1e-3)
    return np.clip((4.0 * ref - spread) / (2.0 * ref), 0.0, 1.0).astype(np.float32)


def _stable_parts(video, scan: Scan, j: int, win: ViewWindow, crossings: list[Crossing]):
    """(weights or None, refine radius px, why): when part of a view differs from part to part (a cookie on a
    tray, a serial label), the template's stable rest decides where the view is.

    The instances at home (the frame nearest home of up to 24 crossings) are read again at full resolution
    and aligned, first on the whole template, then (three times) on the parts where they agree."""
    m = win.matcher
    tpl = m.template
    th, tw = tpl.shape
    picks = crossings[:: max(1, len(crossings) // 24)][:24]
    if len(picks) < 4:
        return None, 0.0, ""
    frames = {int(f): i for i, f in enumerate(scan.frames)}
    step = scan.steps[j]
    r = int(math.ceil(win.window_across + 2 * step))
    grays, starts = [], []
    with VideoReader(video) as reader:
        for c in picks:
            near = min(c.samples, key=lambda s: abs(s.u))
            _, x, y = win.match_small(scan.small[step][frames[near.frame]])
            gray = cv2.cvtColor(reader.read(near.frame, color="bgr"), cv2.COLOR_BGR2GRAY)
            x0, y0 = max(0, int(round(x)) - r), max(0, int(round(y)) - r)
            grays.append(gray[y0 : y0 + th + 2 * r, x0 : x0 + tw + 2 * r])
            starts.append((x0, y0, x, y))

    def align(weights):
        pos, patches = [], []
        for g, (x0, y0, _, _) in zip(grays, starts):
            if g.shape[0] < th or g.shape[1] < tw:
                return None, None
            kw = {} if weights is None else {"mask": weights}
            res = np.nan_to_num(cv2.matchTemplate(g, tpl, cv2.TM_CCOEFF_NORMED, **kw), nan=-1.0)
            _, _, _, (bx, by) = cv2.minMaxLoc(res)
            pos.append((x0 + bx, y0 + by))
            patches.append(g[by : by + th, bx : bx + tw].astype(np.float32))
        return np.asarray(pos, np.float64), patches

    pos, patches = align(None)
    if pos is None:
        return None, 0.0, ""
    varying = float((_weights_of(patches) < 0.5).mean())
    if varying < 0.05 or varying > 0.7:  # nothing worth ignoring, or nothing stable left to match on
        return None, 0.0, ""
    # The instances differ somewhere: the parts where the aligned instances agree decide the alignment, three
    # times over (a part's content that varies, like a cookie on a tray, can still pull the first alignment)
    weights = _weights_of(patches)
    for _ in range(3):
        pos, patches = align(weights)
        weights = _weights_of(patches)
    coarse = np.asarray([(x, y) for _, _, x, y in starts])
    pull = np.hypot(*(pos - coarse).T)
    if float(pull.max()) <= 1.5:  # the varying content does not move the match: plain matching will do
        return None, 0.0, ""
    # the whole window across the motion too: a part whose varying content pulls the coarse match harder
    # than any seen here is still found
    radius = max(float(np.quantile(pull, 0.95)), win.window_across) + 2.0 * step
    why = (
        f"{100 * float((weights < 0.5).mean()):.0f} % of its template differs from part to part: its best frames "
        f"are matched on the stable rest (which moves the match by up to {float(pull.max()):.0f} px)"
    )
    return weights, radius, why


def _score_noise(scan: Scan, j: int) -> float:
    """Frame-to-frame noise of a view's best coarse score on the same instance (robust), at least 1e-3."""
    top = scan.peaks[:, j, 0, 0]
    ok = np.isfinite(top)
    if ok.sum() < 4:
        return 0.01
    strong = float(np.quantile(top[ok], 0.5))
    a, b = top[:-1], top[1:]
    sel = (a >= strong) & (b >= strong)
    return max(_mad(b[sel] - a[sel]) / math.sqrt(2), 1e-3) if sel.any() else 0.01


def _replay(name: str, frames, s, u, w, thr: float, passage: dict) -> list[Crossing]:
    tracker = PassageTracker(name, thr, **passage)
    out: list[Crossing] = []
    for f, a, b, c in zip(frames, s, u, w, strict=True):
        out += tracker.push(Sample(int(f), a, b, c))
    return out + tracker.finish()


def _threshold(name: str, frames, s, u, w, passage: dict, noise: float) -> tuple[float, str, list[Crossing]]:
    """(threshold, why, crossings) of one view: between its window scores at home with a part's view
    there and without."""
    finite = np.isfinite(s)
    if finite.sum() < 4:
        raise CalibrationError(f"view '{name}' is hardly ever matched near its home")
    thr = _otsu(s[finite])
    why = "a two-class split of its window's scores"
    pos = {int(f): i for i, f in enumerate(frames)}
    for _ in range(4):
        every = _replay(name, frames, s, u, w, thr, passage)
        crossings = [c for c in every if c.reached]
        peaks = np.array([c.peak for c in crossings])
        if len(peaks) >= 4:  # crossings of another feature (repeated shapes) score far lower than the view's
            split = _otsu(peaks)
            hi, lo = peaks[peaks >= split], peaks[peaks < split]
            if len(lo) and (hi.min() - lo.max()) > max(6 * max(_mad(hi), _mad(lo)), 10 * noise):
                crossings = [c for c in crossings if c.peak >= split]
        on = np.zeros(len(s), bool)
        cut = np.zeros(len(s), bool)  # passages cut by the video's start or end are neither
        kept = {id(c) for c in crossings}
        for c in every:
            for smp in c.samples:
                (on if id(c) in kept else cut)[pos[smp.frame]] = True
        if not on.any():
            raise CalibrationError(f"view '{name}' never crosses its home: is the template from this line?")
        # only what comes to home competes: elsewhere in the window a shifted match of repeated shapes may
        # score high, but never while the view itself is in the window
        off = finite & ~on & ~cut & (np.abs(u) <= passage["reach"])
        lo_on = float(np.quantile(s[on], 0.02))
        hi_off = float(np.quantile(s[off], 0.99)) if off.sum() >= 3 else -math.inf
        if hi_off < lo_on:
            new = (
                (lo_on + hi_off) / 2
                if math.isfinite(hi_off)
                else lo_on - 0.5 * (lo_on - float(np.min(s[finite])))
            )
            why = (
                f"between its scores at home without a part's view (99 % below {hi_off:.2f}) and with one "
                f"(98 % above {lo_on:.2f})"
            )
        else:
            new = thr
            why = f"scores at home with and without a part's view overlap ({lo_on:.2f} < {hi_off:.2f}): a two-class split"
        if abs(new - thr) < 1e-4:
            break
        thr = new
    crossings = [c for c in _replay(name, frames, s, u, w, thr, passage) if c.reached]
    return thr, why, crossings


def _pitch(crossings: dict[str, list[Crossing]]) -> tuple[float, float]:
    """(shortest usual, median) travel px from one part to the next, from consecutive crossings of each view."""
    travel = []
    for cs in crossings.values():
        for a, b in zip(cs, cs[1:]):
            travel.append((b.time - a.time) * (a.speed + b.speed) / 2)
    t = np.asarray([x for x in travel if x > 0], np.float64)
    if not len(t):
        return math.inf, math.inf
    usual = t[t <= 1.5 * float(np.median(t))]  # a missed part doubles an interval
    return float(np.quantile(usual, 0.1)), float(np.median(usual))


def _offsets(
    crossings: dict[str, list[Crossing]], names: list[str], pitch: float
) -> tuple[dict[str, float], str]:
    """Travel of each view's crossing after the part's first view, and how the part's first view was chosen."""
    if len(names) == 1:
        return {names[0]: 0.0}, "one view"
    ref = max(names, key=lambda n: len(crossings[n]))
    pos = {ref: 0.0}
    noise = 0.0
    for n in names:
        if n == ref:
            continue
        deltas = []
        for c in crossings[n]:
            near = min(crossings[ref], key=lambda r: abs(r.time - c.time), default=None)
            if near is not None:
                d = (c.time - near.time) * (c.speed + near.speed) / 2
                deltas.append((d + pitch / 2) % pitch - pitch / 2)
        if not deltas:  # crossings never near the reference view's: no place along the part
            pos[n] = 0.0
            continue
        pos[n] = float(np.median(deltas)) % pitch
        noise = max(noise, _mad(deltas))
    cycle = sorted(names, key=lambda n: pos[n])
    gaps = [((pos[cycle[(i + 1) % len(cycle)]] - pos[cycle[i]]) % pitch or pitch) for i in range(len(cycle))]
    order = np.argsort(gaps)[::-1]
    start = cycle[(int(order[0]) + 1) % len(cycle)]  # the largest gap ends one part
    how = f"the largest travel between crossings ({gaps[order[0]]:.0f} px) separates parts"
    if gaps[order[0]] - gaps[order[1]] <= max(3 * noise, 0.1 * pitch):
        k = len(names)
        for listed, first in ((names, names[0]), (names[::-1], names[-1])):
            i = cycle.index(listed[0])
            if [cycle[(i + m) % k] for m in range(k)] == list(listed):
                start = first
                how = "parts follow closely, so the views' listed order says which view comes first on a part"
                break
        else:
            how = (
                "parts follow closely and the views' listed order does not match their crossings: the largest "
                "travel between crossings separates parts (list the views in their order along the part)"
            )
    return {n: (pos[n] - pos[start]) % pitch for n in names}, how


def calibrate_scan(
    scan: Scan,
    origins: dict[str, tuple[float, float]] | None = None,
    thresholds: dict[str, float] | None = None,
    video: str | os.PathLike | None = None,
) -> TrackRule:
    """The pass rule of a scanned video (see the module docstring); ``thresholds`` {view: T} are set by flags."""
    origins, thresholds = origins or {}, thresholds or {}
    names = scan.names
    axis, along, followed = _motion(scan)
    perp = np.array([-axis[1], axis[0]])
    v_lo, v_med, v_hi = (float(np.quantile(along, q)) for q in (0.05, 0.5, 0.95))
    v_lo = max(v_lo, 0.0)
    coarse_px = float(max(scan.steps))
    shake = 2.0 * _mad(along - v_med) if len(along) > 3 else 0.0
    jitter = max(shake, 0.5 * coarse_px, 1.0) + 0.1 * v_hi
    speed = (max(v_lo - jitter / 2, 0.0), v_hi + jitter / 2)
    step = float(np.median(np.diff(scan.frames))) if len(scan.frames) > 1 else 1.0  # sampled frames
    reach = 0.5 * v_hi * step + jitter
    reasons = [
        f"motion from {len(along)} linked matches: {v_med:.1f} px/frame (5-95 %: {v_lo:.1f}-{v_hi:.1f}), "
        f"match jitter {shake:.1f} px"
    ]
    homes, how = {}, {}
    for j, name in enumerate(names):
        homes[name], how[name], why = _home(
            scan, j, axis, perp, v_med, origins.get(name), max(3.0 * scan.steps[j], 2.0 * shake + 2.0)
        )
        reasons.append(f"view '{name}' home: {why}")
    spread = []
    for j, name in enumerate(names):  # how far matches stray across the motion near home
        pk = scan.peaks[:, j, 0]
        ok = np.isfinite(pk[:, 0]) & (np.abs((pk[:, 1:] - homes[name]) @ axis) <= 2 * v_hi + coarse_px)
        if ok.sum() >= 3:
            strong = pk[ok][pk[ok, 0] >= np.quantile(pk[ok, 0], 0.5)]
            spread.append(float(np.quantile(np.abs((strong[:, 1:] - homes[name]) @ perp), 0.95)))
    Rp = max(2.0 * max(spread, default=0.0), 2 * coarse_px, shake + coarse_px, 4.0)
    R = max(3.0 * v_hi * step + jitter, 3 * coarse_px)
    noises = {n: _score_noise(scan, j) for j, n in enumerate(names)}

    def views_in(R: float):
        passage = dict(
            speed=speed,
            jitter=jitter,
            reach=reach,
            catch_up=0.5 * R,
            min_samples=min_samples(R, v_med, step),
            window=R,
        )
        thr, whys, crossings = {}, {}, {}
        for j, name in enumerate(names):
            if name not in followed:
                best = float(np.max(scan.peaks[:, j, 0, 0]))
                thr[name], crossings[name] = NOT_FOUND, []
                whys[name] = (
                    f"not found in this video (its best matches do not move with the parts; best score {best:.2f})"
                )
                continue
            win = ViewWindow(
                scan.matchers[j], tuple(homes[name]), tuple(axis), (R, Rp), (scan.width, scan.height)
            )
            res = np.array([win.match_small(sm) for sm in scan.small[scan.steps[j]]], np.float64)
            uw = np.array([win.uw(x, y) for _, x, y in res]) if len(res) else np.zeros((0, 2))
            s, u, w = res[:, 0], uw[:, 0], uw[:, 1]
            try:
                thr[name], whys[name], crossings[name] = _threshold(
                    name, scan.frames, s, u, w, passage, noises[name]
                )
                if not crossings[name]:
                    raise CalibrationError(f"view '{name}' never crosses its home")
            except CalibrationError as exc:
                best = float(np.max(scan.peaks[:, j, 0, 0]))
                thr[name], crossings[name] = NOT_FOUND, []
                whys[name] = f"not found in this video ({exc}; best score anywhere {best:.2f})"
        if all(thr[n] == NOT_FOUND for n in names):
            raise CalibrationError("no view crosses a home in this video: " + "; ".join(whys.values()))
        return thr, whys, crossings

    thr, whys, crossings = views_in(R)
    pitch_min, pitch_med = _pitch(crossings)
    if R > 0.45 * pitch_min:  # one part's view in the window at a time
        R = max(0.45 * pitch_min, 1.5 * v_hi * step)
        thr, whys, crossings = views_in(R)
        pitch_min, pitch_med = _pitch(crossings)
    for name in names:
        reasons.append(f"view '{name}' threshold {thr[name]:.2f}: {whys[name]}")
    if not math.isfinite(pitch_min):
        pitch_min = pitch_med = max(2.5 * R, max(max(m.size) for m in scan.matchers))
        reasons.append(
            "fewer than two parts crossed: the part pitch is assumed from the window and templates"
        )
    stable = {}
    for j, name in enumerate(names):
        if thr[name] == NOT_FOUND:
            continue
        win = ViewWindow(
            scan.matchers[j], tuple(homes[name]), tuple(axis), (R, Rp), (scan.width, scan.height)
        )
        stable[name] = (
            _stable_parts(video, scan, j, win, crossings[name]) if video is not None else (None, 0.0, "")
        )
        if stable[name][2]:
            reasons.append(f"view '{name}': {stable[name][2]}")
    found = [n for n in names if thr[n] != NOT_FOUND]
    offsets, order_why = _offsets(crossings, found, pitch_med)
    offsets.update({n: 0.0 for n in names if n not in offsets})
    reasons.append(f"order along a part: {order_why}")
    views = tuple(
        ViewTrack(
            name=name,
            home=(round(float(homes[name][0]), 2), round(float(homes[name][1]), 2)),
            home_from=how[name] if thr[name] != NOT_FOUND else "not found",
            scale=1.0 / scan.steps[j],
            threshold=round(float(thr[name]), 4),
            offset=round(float(offsets[name]), 2),
            score_noise=round(float(noises[name]), 5),
            path=_path(scan, j, homes[name], axis, v_med),
            weights=encode_weights(stable[name][0]) if stable.get(name, (None,))[0] is not None else "",
            refine_radius=round(float(stable.get(name, (None, 0.0))[1]), 1),
        )
        for j, name in enumerate(names)
    )
    rule = TrackRule(
        views=views,
        axis=(round(float(axis[0]), 5), round(float(axis[1]), 5)),
        speed=(round(v_lo, 3), round(v_med, 3), round(v_hi, 3)),
        window=(round(R, 2), round(Rp, 2)),
        pitch=round(float(pitch_min), 2),
        jitter=round(float(jitter), 3),
        frame_size=(scan.width, scan.height),
        calibrated_on={
            "frames": int(len(scan.frames)),
            "crossings": {n: len(c) for n, c in crossings.items()},
        },
    )
    grouper = PassGrouper(rule, int(scan.frames[0]))
    for c in sorted((c for cs in crossings.values() for c in cs), key=lambda c: c.time):
        grouper.add(c)
    passes = grouper.finish(int(scan.frames[-1]))
    med, mad = pass_spans(passes)
    reasons.append(
        f"{len(passes)} parts seen while calibrating; a pass is tracked for {med:.0f} frames (spread {mad:.1f})"
    )
    rule = replace(rule, pass_frames=med, pass_spread=round(mad, 2), reasons=tuple(reasons))
    return rule.with_thresholds(thresholds) if thresholds else rule


def calibrate(
    video: str | os.PathLike,
    views: list[tuple[str, np.ndarray]],
    sampling: FrameRange = FrameRange(),
    origins: dict[str, tuple[float, float]] | None = None,
    thresholds: dict[str, float] | None = None,
    max_frames: int = MAX_FRAMES,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> TrackRule:
    """Read ``video`` (up to ``max_frames`` sampled frames) and calibrate the pass rule for ``views``
    [(name, template)]; ``origins`` {view: (x, y)} where templates were cut, ``thresholds`` set by flags."""
    if not views:
        raise ValueError("at least one view (template) is needed to find passes")
    with VideoReader(video) as reader:
        matchers = [ViewMatcher(n, t) for n, t in views]
        for m in matchers:
            m.check_frame(reader.width, reader.height, f"the frames of '{reader.name}'")
        scan = scan_video(reader, matchers, sampling, max_frames, progress, cancel)
    return calibrate_scan(scan, origins, thresholds, video)
