"""The parts of a view's template that are the same on every part: when something on the part differs from
part to part (a cookie on its tray, a serial label), the best frame is matched on the stable rest."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from workbench.io.crossings import Crossing
from workbench.io.scan import Scan
from workbench.io.silhouette import allowed_offsets, motion_labels, reference
from workbench.io.video import VideoReader
from workbench.io.window import ViewWindow


def weights_of(patches: list[np.ndarray]) -> np.ndarray:
    """(h, w) weights in [0, 1]: 1 where the aligned instances agree, 0 where they differ far more than the
    stable parts do (those may be few: the reference is the best-agreeing quarter)."""
    z = np.stack([(p - p.mean()) / max(float(p.std()), 1e-6) for p in patches])
    spread = z.std(axis=0)
    ref = max(float(np.quantile(spread, 0.25)), 1e-3)
    return np.clip((4.0 * ref - spread) / (2.0 * ref), 0.0, 1.0).astype(np.float32)


def tile_vote(
    gray: np.ndarray, tpl: np.ndarray, tiles: int = 4, allowed: np.ndarray | None = None
) -> tuple[int, int]:
    """(x, y) offset of ``tpl`` (th, tw) uint8 in ``gray`` (H >= th, W >= tw) uint8 that most of its tiles agree on.

    Each of tiles x tiles pieces of the template is matched on its own and votes, with its peak score, for
    the offset it puts the whole template at (only offsets ``allowed`` count, when given). Content that differs from part to part (a bead that wobbles,
    a cookie) pulls a whole-template match towards itself when it has the most contrast; it pulls only its
    own tiles here, each its own way, while the rigid rest agrees on one offset."""
    th, tw = tpl.shape
    ry, rx = gray.shape[0] - th, gray.shape[1] - tw
    votes = np.zeros((ry + 1, rx + 1), np.float32)
    ys = np.linspace(0, th, tiles + 1).astype(int)
    xs = np.linspace(0, tw, tiles + 1).astype(int)
    for y0, y1 in zip(ys[:-1], ys[1:]):
        for x0, x1 in zip(xs[:-1], xs[1:]):
            piece = tpl[y0:y1, x0:x1]
            if piece.shape[0] < 4 or piece.shape[1] < 4 or float(piece.std()) < 1.0:
                continue  # flat: says nothing about where the template is
            res = cv2.matchTemplate(gray[y0 : y1 + ry, x0 : x1 + rx], piece, cv2.TM_CCOEFF_NORMED)
            _, best, _, (bx, by) = cv2.minMaxLoc(np.nan_to_num(res, nan=-1.0))
            if best > 0:
                votes[by, bx] += best
    votes = cv2.boxFilter(votes, -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
    if allowed is not None:
        votes[~allowed] = -1.0
    _, _, _, (bx, by) = cv2.minMaxLoc(votes)
    return int(bx), int(by)


NOTHING = (None, 0.0, "", None)
PICKS = 24  # instances at home that are read again


@dataclass
class Instance:
    """One part's view near home, read again: the grey region around its coarse match, where that region
    starts and the coarse match (x0, y0, x, y), and its pixels' motion labels (part, background)."""

    gray: np.ndarray
    start: tuple[int, int, float, float]
    labels: np.ndarray


def picks(crossings: list[Crossing]) -> list[Crossing]:
    """Up to ``PICKS`` crossings spread over the video."""
    return crossings[:: max(1, len(crossings) // PICKS)][:PICKS]


def near_frame(c: Crossing) -> int:
    """The frame of a crossing nearest home."""
    return min(c.samples, key=lambda s: abs(s.u)).frame


def read_around(video, frames: list[int], scan: Scan) -> Iterator[tuple[int, list[tuple[int, np.ndarray]]]]:
    """(frame, [(index, (H, W) uint8 grey)] of it and the frames before and after) for each of ``frames``
    (ascending): from the frames the scan kept, else reading the video once forward for every view."""
    with VideoReader(video) as reader:
        kept: dict[int, np.ndarray] = {}
        for f in frames:
            around = []
            for i in (f - 1, f, f + 1):
                if 0 <= i < reader.frame_count:
                    if i not in kept:
                        g = scan.gray(i)
                        kept[i] = (
                            cv2.cvtColor(reader.read(i, color="bgr"), cv2.COLOR_BGR2GRAY) if g is None else g
                        )
                    around.append((i, kept[i]))
            yield f, around
            kept = {i: g for i, g in kept.items() if i >= f}


def instance(around, c: Crossing, scan: Scan, j: int, win: ViewWindow) -> Instance:
    """What :func:`stable_parts` needs of one crossing, from its frame nearest home and the neighbours."""
    tw, th = win.matcher.size
    step = scan.steps[j]
    f = near_frame(c)
    _, x, y = win.match_small(scan.small[step][int(np.flatnonzero(scan.frames == f)[0])])
    r = int(math.ceil(win.window_across + 2 * step))
    x0, y0 = max(0, int(round(x)) - r), max(0, int(round(y)) - r)
    g = dict(around)[f][y0 : y0 + th + 2 * r, x0 : x0 + tw + 2 * r]
    shift = (c.speed * win.axis[0], c.speed * win.axis[1])
    probe = (int(round(x)), int(round(y)), tw, th)
    return Instance(
        g, (x0, y0, x, y), motion_labels(around, f, (x0, y0, g.shape[1], g.shape[0]), shift, probe)
    )


def stable_parts(instances: list[Instance], win: ViewWindow, step: int):
    """(weights or None, refine radius px, why, outline or None): when part of a view differs from part to part
    (a cookie on a tray, a serial label), the template's stable rest decides where the view is.

    The instances at home (:func:`instance`: the frame nearest home of up to 24 crossings read again at full
    resolution, with the frames before and after: :mod:`workbench.io.silhouette`, what moves with the part,
    what stays) are aligned, first on the whole template, then (three times) on the parts where they agree;
    never where the part's outline disagrees with the one most instances show. ``outline`` (th, tw) bool, the
    template's background, is given when that outline placed the instances (the tracker keeps to it)."""
    tpl = win.matcher.template
    th, tw = tpl.shape
    if len(instances) < 4:
        return NOTHING
    grays = [i.gray for i in instances]
    starts = [i.start for i in instances]
    labels = [i.labels for i in instances]

    def align(weights, vote=False, allowed=None):
        pos, patches = [], []
        for i, (g, (x0, y0, _, _)) in enumerate(zip(grays, starts)):
            if g.shape[0] < th or g.shape[1] < tw:
                return None, None
            ok = None if allowed is None else allowed[i]
            if vote:  # where most of the template's tiles agree
                bx, by = tile_vote(g, tpl, allowed=ok)
            else:
                kw = {} if weights is None else {"mask": weights}
                res = np.nan_to_num(cv2.matchTemplate(g, tpl, cv2.TM_CCOEFF_NORMED, **kw), nan=-1.0)
                if ok is not None:
                    res[~ok] = -2.0
                _, _, _, (bx, by) = cv2.minMaxLoc(res)
            pos.append((x0 + bx, y0 + by))
            patches.append(g[by : by + th, bx : bx + tw].astype(np.float32))
        return np.asarray(pos, np.float64), patches

    plain, _ = align(None)
    if plain is None:
        return NOTHING
    # The part's outline, where the template reaches it, is rigid with the part: most instances are placed
    # right by the plain match, so the outline they agree on keeps the others from following what varies
    background = reference(
        [lab[by - y0 : by - y0 + th, bx - x0 : bx - x0 + tw] for lab, (bx, by), (x0, y0, _, _) in
         zip(labels, plain.astype(int), starts)]
    )  # fmt: skip
    allowed = [allowed_offsets(lab, background) for lab in labels]
    # the outline places the instances (it allows few offsets) where the template reaches the part's edge
    # and the background is still and textured; else it allows nearly all and says nothing
    outline = background if float(np.median([a.mean() for a in allowed])) <= 0.1 else None
    pos, patches = align(None, vote=True, allowed=allowed)
    if pos is None:
        return NOTHING
    varying = float((weights_of(patches) < 0.5).mean())
    # nothing varies, or nothing stable is left to match on; how much varies is no measure of harm (a thin
    # bead that wobbles covers a few % of a template and still pulls its match by a bead's width)
    if varying < 0.01 or varying > 0.7:
        return NOTHING
    # The instances differ somewhere: the parts where the aligned instances agree decide the alignment, three
    # times over (a part's content that varies, like a cookie on a tray, can still pull the first alignment)
    weights = weights_of(patches)
    for _ in range(3):
        last = pos
        pos, patches = align(weights, allowed=allowed)
        if np.array_equal(pos, last):  # the same patches give the same weights: settled
            break
        weights = weights_of(patches)
    if float(np.hypot(*(pos - plain).T).max()) <= 1.5:  # the varying content does not move the match
        return NOTHING
    coarse = np.asarray([(x, y) for _, _, x, y in starts])
    pull = np.hypot(*(pos - coarse).T)
    # the whole window across the motion too: a part whose varying content pulls the coarse match harder
    # than any seen here is still found
    radius = max(float(np.quantile(pull, 0.95)), win.window_across) + 2.0 * step
    why = (
        f"{100 * float((weights < 0.5).mean()):.0f} % of its template differs from part to part: its best frames "
        f"are matched on the stable rest (which moves the match by up to {float(pull.max()):.0f} px)"
    )
    if outline is not None:
        why += "; the part's outline, told by its motion against the still background, holds each match"
    return weights, radius, why, outline
