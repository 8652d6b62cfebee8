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
    varying = float((weights_of(patches) < 0.5).mean())
    if varying < 0.05 or varying > 0.7:  # nothing worth ignoring, or nothing stable left to match on
        return None, 0.0, ""
    # The instances differ somewhere: the parts where the aligned instances agree decide the alignment, three
    # times over (a part's content that varies, like a cookie on a tray, can still pull the first alignment)
    weights = weights_of(patches)
    for _ in range(3):
        pos, patches = align(weights)
        weights = weights_of(patches)
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
