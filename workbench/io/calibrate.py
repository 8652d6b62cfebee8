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
from dataclasses import replace

import numpy as np

from workbench.core.matching import ViewMatcher
from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.io.crossings import Crossing, PassageTracker, Sample, min_samples
from workbench.io.grouping import PassGrouper, pass_spans
from workbench.io.homes import home, motion, path, score_noise
from workbench.io.robust import mad, otsu
from workbench.io.scan import MAX_FRAMES, CalibrationError, Scan, scan_video
from workbench.io.stable_parts import NOTHING as NO_PARTS
from workbench.io.stable_parts import Instance, instance, near_frame, picks, read_around, stable_parts
from workbench.io.track_rule import TrackRule, ViewTrack, encode_weights
from workbench.io.video import FrameRange, VideoReader, prefetched
from workbench.io.window import ViewWindow

NOT_FOUND = 2.0  # the threshold of a view this video never shows (no correlation reaches it)

__all__ = ["CalibrationError", "Scan", "calibrate", "calibrate_scan", "scan_video"]


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
    thr = otsu(s[finite])
    why = "a two-class split of its window's scores"
    pos = {int(f): i for i, f in enumerate(frames)}
    for _ in range(4):
        every = _replay(name, frames, s, u, w, thr, passage)
        crossings = [c for c in every if c.reached]
        peaks = np.array([c.peak for c in crossings])
        if len(peaks) >= 4:  # crossings of another feature (repeated shapes) score far lower than the view's
            split = otsu(peaks)
            hi, lo = peaks[peaks >= split], peaks[peaks < split]
            if len(lo) and (hi.min() - lo.max()) > max(6 * max(mad(hi), mad(lo)), 10 * noise):
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
                if math.isfinite(hi_off)
                else f"half-way down from its scores at home with a part's view (98 % above {lo_on:.2f}); "
                "nothing else came to its home"
            )
        else:
            new = thr
            why = f"scores at home with and without a part's view overlap ({lo_on:.2f} < {hi_off:.2f}): a two-class split"
        if abs(new - thr) < 1e-4:
            break
        thr = new
    crossings = [c for c in _replay(name, frames, s, u, w, thr, passage) if c.reached]
    return thr, why, crossings


def _encoded(mask: np.ndarray | None) -> str:
    return "" if mask is None else encode_weights(mask.astype(np.float32))


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
        noise = max(noise, mad(deltas))
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
    axis, along, followed = motion(scan)
    perp = np.array([-axis[1], axis[0]])
    v_lo, v_med, v_hi = (float(np.quantile(along, q)) for q in (0.05, 0.5, 0.95))
    v_lo = max(v_lo, 0.0)
    coarse_px = float(max(scan.steps))
    shake = 2.0 * mad(along - v_med) if len(along) > 3 else 0.0
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
        homes[name], how[name], why = home(
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
    noises = {n: score_noise(scan, j) for j, n in enumerate(names)}

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
            scan.windows[name] = (win.box, res)
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
    stable, wins, wanted = {}, {}, {}
    for j, name in enumerate(names):
        if thr[name] == NOT_FOUND:
            continue
        wins[name] = ViewWindow(
            scan.matchers[j], tuple(homes[name]), tuple(axis), (R, Rp), (scan.width, scan.height)
        )
        if video is not None and len(picks(crossings[name])) >= 4:
            for c in picks(crossings[name]):
                wanted.setdefault(near_frame(c), []).append((j, name, c))
    instances: dict[str, list[Instance]] = {n: [] for n in wins}
    for f, around in prefetched(read_around(video, sorted(wanted), scan), depth=2) if wanted else ():
        for j, name, c in wanted[f]:
            instances[name].append(instance(around, c, scan, j, wins[name]))
    for j, name in enumerate(names):
        if name in wins:
            stable[name] = stable_parts(instances[name], wins[name], scan.steps[j])
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
            path=path(scan, j, homes[name], axis, v_med),
            weights=_encoded(stable.get(name, NO_PARTS)[0]),
            refine_radius=round(float(stable.get(name, NO_PARTS)[1]), 1),
            outline=_encoded(stable.get(name, NO_PARTS)[3]),
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
    med, spread = pass_spans(passes)
    reasons.append(
        f"{len(passes)} parts seen while calibrating; a pass is tracked for {med:.0f} frames (spread {spread:.1f})"
    )
    rule = replace(rule, pass_frames=med, pass_spread=round(spread, 2), reasons=tuple(reasons))
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
    matches: dict | None = None,
) -> TrackRule:
    """Read ``video`` (up to ``max_frames`` sampled frames) and calibrate the pass rule for ``views``
    [(name, template)]; ``origins`` {view: (x, y)} where templates were cut, ``thresholds`` set by flags.

    ``matches``, when given, receives the frames read and each view's window matches on them
    (``{"frames": (N,), "windows": {view: (box, (N, 3))}}``): the tracker reading the video next reuses them."""
    if not views:
        raise ValueError("at least one view (template) is needed to find passes")
    with VideoReader(video) as reader:
        matchers = [ViewMatcher(n, t) for n, t in views]
        for m in matchers:
            m.check_frame(reader.width, reader.height, f"the frames of '{reader.name}'")
        scan = scan_video(reader, matchers, sampling, max_frames, progress, cancel)
    rule = calibrate_scan(scan, origins, thresholds, video)
    if matches is not None:
        matches.update(frames=scan.frames, windows=scan.windows)
    return rule
