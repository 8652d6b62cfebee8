"""The parts of a view's template that are the same on every part: when something on the part differs from
part to part (a cookie on its tray, a serial label), the best frame is matched on the stable rest."""

from __future__ import annotations

import math

import cv2
import numpy as np

from workbench.io.crossings import Crossing
from workbench.io.scan import Scan
from workbench.io.video import VideoReader
from workbench.io.window import ViewWindow


def weights_of(patches: list[np.ndarray]) -> np.ndarray:
    """(h, w) weights in [0, 1]: 1 where the aligned instances agree, 0 where they differ far more than the
    stable parts do (those may be few: the reference is the best-agreeing quarter)."""
    z = np.stack([(p - p.mean()) / max(float(p.std()), 1e-6) for p in patches])
    spread = z.std(axis=0)
    ref = max(float(np.quantile(spread, 0.25)), 1e-3)
    return np.clip((4.0 * ref - spread) / (2.0 * ref), 0.0, 1.0).astype(np.float32)


def tile_vote(gray: np.ndarray, tpl: np.ndarray, tiles: int = 4) -> tuple[int, int]:
    """(x, y) offset of ``tpl`` (th, tw) uint8 in ``gray`` (H >= th, W >= tw) uint8 that most of its tiles agree on.

    Each of tiles x tiles pieces of the template is matched on its own and votes, with its peak score, for
    the offset it puts the whole template at. Content that differs from part to part (a bead that wobbles,
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
    _, _, _, (bx, by) = cv2.minMaxLoc(votes)
    return int(bx), int(by)


def stable_parts(video, scan: Scan, j: int, win: ViewWindow, crossings: list[Crossing]):
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

    def align(weights, vote=False):
        pos, patches = [], []
        for g, (x0, y0, _, _) in zip(grays, starts):
            if g.shape[0] < th or g.shape[1] < tw:
                return None, None
            if vote:  # where most of the template's tiles agree
                bx, by = tile_vote(g, tpl)
            else:
                kw = {} if weights is None else {"mask": weights}
                res = np.nan_to_num(cv2.matchTemplate(g, tpl, cv2.TM_CCOEFF_NORMED, **kw), nan=-1.0)
                _, _, _, (bx, by) = cv2.minMaxLoc(res)
            pos.append((x0 + bx, y0 + by))
            patches.append(g[by : by + th, bx : bx + tw].astype(np.float32))
        return np.asarray(pos, np.float64), patches

    plain, _ = align(None)
    pos, patches = align(None, vote=True)
    if pos is None or plain is None:
        return None, 0.0, ""
    varying = float((weights_of(patches) < 0.5).mean())
    # nothing varies, or nothing stable is left to match on; how much varies is no measure of harm (a thin
    # bead that wobbles covers a few % of a template and still pulls its match by a bead's width)
    if varying < 0.01 or varying > 0.7:
        return None, 0.0, ""
    # The instances differ somewhere: the parts where the aligned instances agree decide the alignment, three
    # times over (a part's content that varies, like a cookie on a tray, can still pull the first alignment)
    weights = weights_of(patches)
    for _ in range(3):
        pos, patches = align(weights)
        weights = weights_of(patches)
    if float(np.hypot(*(pos - plain).T).max()) <= 1.5:  # the varying content does not move the match
        return None, 0.0, ""
    coarse = np.asarray([(x, y) for _, _, x, y in starts])
    pull = np.hypot(*(pos - coarse).T)
    # the whole window across the motion too: a part whose varying content pulls the coarse match harder
    # than any seen here is still found
    radius = max(float(np.quantile(pull, 0.95)), win.window_across) + 2.0 * step
    why = (
        f"{100 * float((weights < 0.5).mean()):.0f} % of its template differs from part to part: its best frames "
        f"are matched on the stable rest (which moves the match by up to {float(pull.max()):.0f} px)"
    )
    return weights, radius, why
