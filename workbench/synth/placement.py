"""Where a synthetic defect goes and how big it is: random, seeded parameters for a type, size and zone.

Bead defects take a stretch of one centreline wholly inside the image, away from line ends and
junctions with other lines (an edit there would tear the other bead), with its middle in the requested
zone; :func:`design` sizes the stretch and the amplitude together from the target area in squares of
the bead width, so that the mask covers about that area. Surface defects take a centre in the zone (or
ROI). The target is a guess: :func:`workbench.synth.defects.synthesize_one` measures the mask and draws
again when it misses the size class.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import minimum_filter1d
from scipy.spatial import cKDTree

from workbench.synth.bead import Bead
from workbench.synth.bead_edit import band_halfwidth
from workbench.synth.geometry import arclength, normals

# Changed pixels of a bead defect, in squares of the line's bead width w, when its stretch is L bead
# widths long: about ``overhead + per_length * L``, with both terms growing with the defect's amplitude
# (measured on rendered beads 15-20 px wide, where the mask takes the bead, its shadow and the round caps).
# The amplitude grows with the target area, so a small defect is a gentle one rather than an impossibly
# short strong one, and a large one a strong one rather than an endless gentle one.
MIN_LENGTH = {"missing": 0.15, "narrowing": 0.4, "bifurcation": 0.4, "misalignment": 0.4, "hole": 0.3}
VOID_GAP = 0.6  # bead widths of sealant between the voids of a row of holes
VOID_MAX = 2.2  # bead widths: a longer void splits into a row of voids (pores left by interrupted flow)
# darkest bare seam where sealant that should cover a panel joint is missing or has moved off it (its
# strength is drawn in 0..SEAM_MAX: not every bead runs over a visible joint)
SEAM_MAX = 0.6


class PlacementError(ValueError):
    """No place in the sample fits the requested defect (zone too small, bead too short...)."""


def place(
    kind: str,
    bead: Bead | None,
    shape: tuple[int, int],
    rng: np.random.Generator,
    area_range: tuple[float, float],
    zones: np.ndarray | None = None,
    zone: int | None = None,
    roi: np.ndarray | None = None,
) -> dict:
    """JSON-able parameters for one ``kind`` defect covering a share of ``shape`` in ``area_range``."""
    h, w = shape
    target = float(np.exp(rng.uniform(*np.log(area_range)))) * h * w
    if kind in MIN_LENGTH:
        return _place_on_bead(kind, bead, shape, rng, target, zones, zone)
    return _place_on_surface(kind, shape, rng, target, zones, zone, roi)


def design(kind: str, units: float, jitter: np.ndarray, rejoin: bool = True) -> tuple[float, dict]:
    """(stretch length, amplitudes) of a bead defect changing about ``units`` squares of the bead width.

    Lengths and the lateral amplitudes (``shift``, ``spread``) are in bead widths; ``jitter`` (3,) in
    [0, 1) varies the amplitudes around their size-given values.
    """
    j0, j1, j2 = (float(x) for x in jitter[:3])
    u = max(float(units), 0.05)
    if kind == "missing":
        over, per, amp = 0.45, 1.78, {"seam": round(SEAM_MAX * j0, 3)}
    elif kind == "narrowing":
        amount = 0.4 + 0.25 * j0
        over, per, amp = 0.0, 0.55 + 1.3 * amount, {"amount": round(amount, 3)}
    elif kind == "misalignment":
        # the stretch stays >= 3.5 shifts long (a shorter one shears the bead like a tear, not a bend):
        # the largest such shift solves (2.4 s - 0.1) + (1.2 + 0.45 s) * 3.5 s = u
        bend = (-6.6 + np.sqrt(6.6**2 + 4 * 1.575 * (u + 0.1))) / (2 * 1.575)
        shift = float(np.clip(min(0.16 * u, bend), 0.1, 1.3)) * (0.85 + 0.3 * j0)
        # a shift of a tenth of the bead changes little more than its two edges
        over, per = max(2.4 * shift - 0.1, shift), min(1.2 + 0.45 * shift, 6.0 * shift)
        amp = {"shift": shift, "seam": round(SEAM_MAX * j1, 3)}
    elif kind == "bifurcation":
        spread = float(np.clip(0.17 * u, 0.3, 1.5)) * (0.85 + 0.3 * j0)
        # branches closer than half a bead width merge into a torn-looking bead: a small split is a spur
        rejoin = rejoin and spread >= 0.5
        if rejoin:
            over, per = max(1.35 * spread - 0.1, 0.2), min(0.1 + 1.35 * spread, 1.8)
        else:  # one side stream that runs out: the main stream stays, so less of the bead changes
            over, per = 0.1, 0.65 + 0.7 * spread
        amp = {"spread": spread, "thin": round(0.5 + 0.12 * j1, 3), "rejoin": bool(rejoin)}
        amp["seam"] = round(SEAM_MAX * j2, 3)
    elif kind == "hole":
        breadth = float(np.clip(0.4 + 0.05 * u, 0.4, 0.8)) * (0.9 + 0.2 * j0)
        over, per = 0.09, 0.26 + 0.64 * breadth
        voids = max(1, int(np.ceil((u - over) / per / VOID_MAX)))
        each = max((u - over * voids) / (per * voids), MIN_LENGTH["hole"])
        length = voids * each + (voids - 1) * VOID_GAP
        amp = {
            "breadth": round(breadth, 3),
            "offset": round(0.4 * (j1 - 0.5) * (1.0 - breadth), 3),
            "depth": round(0.75 + 0.15 * j2, 3),
            "count": voids,
            "fill": round(each / (each + VOID_GAP), 3) if voids > 1 else 1.0,
        }
        return length, amp
    else:
        raise ValueError(f"no placement rule for bead defect type '{kind}'")
    return max((u - over) / per, MIN_LENGTH[kind]), amp


def _fit_row(amp: dict, units: float, length: float) -> dict:
    """A hole's row of voids on a stretch cut down to ``length`` bead widths: fewer voids, each as designed."""
    count = int(amp["count"])
    if length >= units - 1e-6 or count == 1:
        return amp
    each = (units - (count - 1) * VOID_GAP) / count
    fits = max(1, min(count, int(np.floor((length + VOID_GAP) / (each + VOID_GAP)))))
    fill = 1.0 if fits == 1 else round(min(each * fits / length, 1.0), 3)
    return {**amp, "count": fits, "fill": fill}


def _in_px(kind: str, amp: dict, wid: float, length: float, side: float) -> dict:
    """The designed amplitudes with widths turned into pixels for one line, ready for the drawing."""
    out = dict(amp)
    if kind == "misalignment":
        shift = (side or 1.0) * amp["shift"] * wid
        out["shift"] = round(shift, 2)
        out["ramp"] = round(max(0.3 * length, min(1.5 * abs(shift), 0.45 * length)), 2)
    elif kind == "bifurcation":
        out["spread"] = round(amp["spread"] * wid, 2)
        out["ramp"] = round(0.3 * length, 2)
    elif kind == "narrowing":
        out["ramp"] = round(0.3 * length, 2)
    return out


def _reach(kind: str, amp: dict) -> float:
    """Bead widths an edit leaves the path by, beyond the bead's own band (room it needs from other beads)."""
    if kind == "misalignment":
        return 1.1 * amp["shift"]
    if kind == "bifurcation":
        return amp["spread"] * (0.5 if amp["rejoin"] else 1.0) + 0.1
    return 0.0


def _place_on_bead(kind, bead: Bead, shape, rng, target, zones, zone) -> dict:
    h, w = shape
    if bead is None:
        raise PlacementError(f"a '{kind}' defect needs a bead model of the view")
    jitter = rng.random(3)
    rejoin = bool(rng.random() < 0.75)
    # a misaligned stretch leaves its path to one side only: that side needs the room
    sides = (1.0, -1.0) if kind == "misalignment" else (0.0,)
    for _attempt in range(6):
        options = []
        for k, ln in enumerate(bead.lines):
            wid = float(np.median(ln.widths))
            s = arclength(ln.points)
            units, amp = design(kind, target / wid**2, jitter, rejoin)
            shortest = MIN_LENGTH[kind] * wid
            length = float(np.clip(units * wid, shortest, max(0.6 * s[-1], shortest)))
            if kind == "hole":
                amp = _fit_row(amp, units, length / wid)
            # a hole stays inside the sealant; every other edit redraws the bead's band with its shadow
            band = float(ln.widths.max() / 2 + 2 if kind == "hole" else band_halfwidth(ln.widths).max())
            x, y = ln.points[:, 0], ln.points[:, 1]
            base = (x >= band) & (x <= w - 1 - band) & (y >= band) & (y <= h - 1 - band)
            base &= (s - length / 2 >= band) & (s + length / 2 <= s[-1] - band)
            if zones is not None and zone is not None:
                zx = np.clip(np.round(x).astype(int), 0, w - 1)
                zy = np.clip(np.round(y).astype(int), 0, h - 1)
                base &= zones[zy, zx] == zone
            if not base.any():
                continue
            half = max(int(np.ceil(length / 2)), 1)
            for side in sides:
                clear = _clear_of_others(bead, k, band, _reach(kind, amp) * wid, side).astype(np.uint8)
                clear = minimum_filter1d(clear, 2 * half + 1, mode="constant", cval=0) > 0
                for i in np.flatnonzero(base & clear):
                    options.append((k, float(s[i]), length, wid, side, amp))
        if options:
            k, mid, length, wid, side, amp = options[int(rng.integers(len(options)))]
            p = {"line": k, "s0": round(mid - length / 2, 2), "s1": round(mid + length / 2, 2)}
            return {**p, **_in_px(kind, amp, wid, length, side)}
        target *= 0.7  # a shorter stretch may fit a short zone
    where = f" in zone {zone}" if zone is not None else ""
    raise PlacementError(f"no bead stretch{where} is long and clear enough for a '{kind}' defect")


def _clear_of_others(bead: Bead, k: int, band: float, extra: float, side: float) -> np.ndarray:
    """(N,) bool: points of line ``k`` whose edit (band, plus ``extra`` px on ``side`` or both) misses other beads.

    The edit's band may run over another bead's shadow, never over that bead itself.
    """
    ln = bead.lines[k]
    nrm = normals(ln.points)
    ok = np.ones(len(ln.points), bool)
    for j, other in enumerate(bead.lines):
        if j == k:
            continue
        reach = band + extra + float(other.widths.max()) / 2 + 2
        m = len(other.points)
        # the nearest few points of a line ~1 px apart decide: a far one on the wrong side lies past a near one
        dist, idx = cKDTree(other.points).query(ln.points, k=min(16, m), distance_upper_bound=reach)
        dist, idx = dist.reshape(len(ln.points), -1), idx.reshape(len(ln.points), -1)
        found = idx < m
        safe = np.where(found, idx, 0)
        rel = other.points[safe] - ln.points[:, None, :]
        across = np.einsum("nkj,nj->nk", rel, nrm)
        if side == 0.0:
            grown = band + extra
        else:
            grown = band + extra * (np.sign(across) == np.sign(side))
        bad = found & (dist <= grown + other.widths[safe] / 2 + 2)
        ok &= ~bad.any(axis=1)
    return ok


_RADIUS = {  # target area -> radius, from each drawing's footprint
    "scratch": lambda a: a / 5.0,  # a ~2.5 px wide trace (line, dark edge, blur) 2 radii long
    "stain": lambda a: np.sqrt(a / 2.6),
    "dent": lambda a: np.sqrt(a / 2.0),
    "contamination": lambda a: np.sqrt(a / 1.3),
}


def _place_on_surface(kind, shape, rng, target, zones, zone, roi) -> dict:
    if kind not in _RADIUS:
        raise ValueError(f"no placement rule for defect type '{kind}'")
    h, w = shape
    radius = float(np.clip(_RADIUS[kind](target), 4.0, 0.3 * min(h, w)))
    allowed = np.ones(shape, bool)
    if zones is not None and zone is not None:
        allowed &= zones == zone
    elif roi is not None:
        allowed &= roi > 0
    m = int(np.ceil(radius)) + 2
    allowed[:m], allowed[-m:], allowed[:, :m], allowed[:, -m:] = False, False, False, False
    ys, xs = np.nonzero(allowed)
    if ys.size == 0:
        raise PlacementError(f"no room for a '{kind}' defect of radius {radius:.0f} px in zone {zone}")
    i = int(rng.integers(ys.size))
    p = {"center": [int(xs[i]), int(ys[i])], "radius": round(radius, 2)}
    if kind == "scratch":
        # a scratch too long for the sample is a wider gouge instead
        width = float(np.clip(max(rng.uniform(1.0, 2.0), target / (2 * radius) - 1.0), 1.0, 6.0))
        p |= {
            "angle": round(float(rng.uniform(0, np.pi)), 3),
            "bend": round(float(rng.uniform(-0.3, 0.3)), 3),
            "contrast": round(float(rng.uniform(0.25, 0.45)), 3),
            "width": round(width, 2),
        }
    elif kind == "stain":
        p |= {"strength": round(float(rng.uniform(0.25, 0.45)), 3)}
    elif kind == "dent":
        p |= {
            "depth": round(float(rng.uniform(0.4, 0.8)), 3),
            "light_angle": round(float(np.deg2rad(225)), 3),
        }
    else:
        p |= {"pieces": int(rng.integers(3, 8)), "level": round(float(rng.uniform(0.3, 0.55)), 3)}
    return p
