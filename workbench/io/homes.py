"""Where and how each view moves in a scanned video: the line's motion, each view's home (its inspection
position) and why, the stretch of its path in sight, and the noise of its scores."""

from __future__ import annotations

import math
import warnings

import numpy as np

from workbench.io.robust import mad, otsu
from workbench.io.scan import CalibrationError, Scan


def motion(scan: Scan) -> tuple[np.ndarray, np.ndarray, list[str]]:
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
        strong = max(otsu(top[ok]), float(np.quantile(top[ok], 0.5)))
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
            keep = dev <= max(3.0, 0.5 * float(np.hypot(*med)), 3.0 * mad(dev))
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


def home(scan: Scan, j: int, axis, perp, v_med: float, origin, tol: float) -> tuple[np.ndarray, str, str]:
    """(home (x, y), how it was found, a sentence saying why) of view j."""
    tw, th = scan.matchers[j].size
    if origin is not None:
        x, y = float(origin[0]), float(origin[1])
        smooth = smoothed(scan, j, int(origin[2]), x, y, axis, v_med, tol) if len(origin) > 2 else None
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
        smooth = smoothed(scan, j, f, x, y, axis, v_med, tol)
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
    noise = score_noise(scan, j)
    vertices, drops = [], []
    level = float(np.quantile(pk[:, 0], 0.9)) if len(pk) else 1.0
    runs = [t for t in tracks(scan, j, axis, v_med) if t[:, 0].max() >= level]  # the view's passages
    for t in runs:  # where does each passage's score peak along the path?
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
    if len(vertices) >= max(2, len(runs) // 2):
        v = np.asarray(vertices)
        if mad(v) <= max(
            2.0 * scan.steps[j], 0.1 * float(np.ptp(strong[:, 1:] @ axis) if len(strong) else 0.0)
        ):
            home = float(np.median(v)) * axis + w_home * perp
            return (
                home,
                "peak",
                f"its match score peaks there in {len(v)} of {len(runs)} passages "
                f"(by {float(np.median(drops)):.3f} over the peak's surroundings, spread {mad(v):.1f} px)",
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


def smoothed(
    scan: Scan, j: int, frame: int, x: float, y: float, axis, v_med: float, tol: float
) -> float | None:
    """The view's position along the motion at ``frame`` from the line through its matches in the frames
    around it: where the template was cut, less that frame's camera shake (None when not seen there).

    The view is followed from ``frame`` both ways at its own speed (a part may pass faster or slower than the
    line's median), up to five frames each way or as many as the part takes to travel half the template's
    length along the motion (at a high frame rate five frames are a short stretch, where the camera's shake
    outweighs the path's bend), and its path there fitted with a parabola (its speed may change right there)."""
    where = np.flatnonzero(scan.frames == frame)
    if not len(where):
        return None
    i0 = int(where[0])
    u0 = x * axis[0] + y * axis[1]

    def near(i: int, expected: float) -> float | None:
        pk = scan.peaks[i, j]
        ok = np.isfinite(pk[:, 0])
        if not ok.any():
            return None
        u = pk[ok, 1] * axis[0] + pk[ok, 2] * axis[1]
        k = int(np.argmin(np.abs(u - expected)))
        return float(u[k]) if abs(u[k] - expected) <= tol else None

    here = near(i0, u0)
    if here is None:
        return None
    tw, th = scan.matchers[j].size if j < len(scan.matchers) else (0, 0)
    length = tw * abs(float(axis[0])) + th * abs(float(axis[1]))
    gap = float(np.median(np.diff(scan.frames))) if len(scan.frames) > 1 else 1.0  # frames sampled
    n = min(max(5, math.ceil(0.5 * length / max(abs(v_med) * gap, 0.5))), 60)
    sides = []
    for way in (1, -1):
        pts: list[tuple[float, float]] = []
        v = v_med
        for i in range(i0 + way, min(max(i0 + (n + 1) * way, -1), len(scan.frames)), way):
            df = float(scan.frames[i] - frame)
            u = near(i, here + v * df)
            if u is None:
                break
            pts.append((df, u))
            v = (u - here) / df  # the speed of this part, over the longest base so far
        sides.append(pts)
    if not sides[0] or not sides[1] or len(sides[0]) + len(sides[1]) < 4:
        return None
    d = np.asarray([(0.0, here), *sides[0], *sides[1]])
    # a parabola: the part may speed up or slow down right there (a line would be pulled off its vertex)
    intercept = float(np.polyfit(d[:, 0], d[:, 1], 2)[2])
    return intercept if abs(intercept - u0) <= tol else None


def tracks(scan: Scan, j: int, axis, v_med: float) -> list[np.ndarray]:
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


def path(scan: Scan, j: int, home, axis, v_med: float) -> tuple[float, float]:
    """(before, after) px along the motion, from home, where view j is followed: the stretch of its path in
    sight (a pass's frames follow from it)."""
    top = scan.peaks[:, j, 0, 0]
    ok = np.isfinite(top)
    if ok.sum() < 4:
        return 0.0, 0.0
    level = max(otsu(top[ok]), float(np.quantile(top[ok], 0.5)))
    runs = [t for t in tracks(scan, j, axis, v_med) if len(t) >= 3 and t[:, 0].max() >= level]
    if not runs:
        return 0.0, 0.0
    u = np.concatenate([t[:, 1] for t in runs]) - float(np.asarray(home) @ np.asarray(axis))
    return round(min(float(u.min()), 0.0), 1), round(max(float(u.max()), 0.0), 1)


def score_noise(scan: Scan, j: int) -> float:
    """Frame-to-frame noise of a view's best coarse score on the same instance (robust), at least 1e-3."""
    top = scan.peaks[:, j, 0, 0]
    ok = np.isfinite(top)
    if ok.sum() < 4:
        return 0.01
    strong = float(np.quantile(top[ok], 0.5))
    a, b = top[:-1], top[1:]
    sel = (a >= strong) & (b >= strong)
    return max(mad(b[sel] - a[sel]) / math.sqrt(2), 1e-3) if sel.any() else 0.01
