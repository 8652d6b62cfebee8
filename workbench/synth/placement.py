"""Where a synthetic defect goes and how big it is: random, seeded parameters for a type, size and zone.

Bead defects take a stretch of one centreline long enough to cover the target area, wholly inside the
image, away from line ends and junctions with other lines (an edit there would tear the other bead),
with its middle in the requested zone. Surface defects take a centre in the zone (or ROI).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import minimum_filter1d
from scipy.spatial import cKDTree

from workbench.synth.bead import Bead
from workbench.synth.bead_edit import band_halfwidth
from workbench.synth.geometry import arclength, normals

# changed pixels per px of stretch length per px of bead width (measured on the demo station's masks)
AREA_PER_LENGTH = {"missing": 1.6, "narrowing": 0.8, "bifurcation": 1.7, "misalignment": 2.4, "hole": 0.75}


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
    if kind in AREA_PER_LENGTH:
        return _place_on_bead(kind, bead, shape, rng, target, zones, zone)
    return _place_on_surface(kind, shape, rng, target, zones, zone, roi)


def _place_on_bead(kind, bead: Bead, shape, rng, target, zones, zone) -> dict:
    h, w = shape
    # a misaligned stretch leaves its path to one side only: that side needs the room
    sides = (1.0, -1.0) if kind == "misalignment" else (0.0,)
    clearance = {}
    for k, ln in enumerate(bead.lines):
        extra = {"misalignment": 1.4, "bifurcation": 0.8}.get(kind, 0.0) * float(np.median(ln.widths))
        band = float(band_halfwidth(ln.widths).max())
        for side in sides:
            clearance[k, side] = _clear_of_others(bead, k, band, extra, side)
    for _attempt in range(6):
        options = []
        for k, ln in enumerate(bead.lines):
            wid = float(np.median(ln.widths))
            s = arclength(ln.points)
            length = target / (wid * AREA_PER_LENGTH[kind])
            # a bend or a split needs room to leave the path and come back, else it reads as a blob
            lo = {"hole": 0.8, "missing": 2.6, "narrowing": 3.0, "bifurcation": 4.0, "misalignment": 4.5}[
                kind
            ] * wid
            hi = 3.0 * wid if kind == "hole" else 0.6 * s[-1]
            length = float(np.clip(length, lo, max(hi, lo)))
            band = float(band_halfwidth(ln.widths).max())
            x, y = ln.points[:, 0], ln.points[:, 1]
            base = (x >= band) & (x <= w - 1 - band) & (y >= band) & (y <= h - 1 - band)
            base &= (s - length / 2 >= band) & (s + length / 2 <= s[-1] - band)
            if zones is not None and zone is not None:
                zx = np.clip(np.round(x).astype(int), 0, w - 1)
                zy = np.clip(np.round(y).astype(int), 0, h - 1)
                base &= zones[zy, zx] == zone
            half = max(int(np.ceil(length / 2)), 1)
            for side in sides:
                clear = clearance[k, side].astype(np.uint8)
                clear = minimum_filter1d(clear, 2 * half + 1, mode="constant", cval=0) > 0
                for i in np.flatnonzero(base & clear):
                    options.append((k, float(s[i]), length, wid, side))
        if options:
            k, mid, length, wid, side = options[int(rng.integers(len(options)))]
            p = {"line": k, "s0": round(mid - length / 2, 2), "s1": round(mid + length / 2, 2)}
            return {**p, **_amplitudes(kind, wid, length, rng, side)}
        target *= 0.7  # a shorter stretch may fit a short zone
    where = f" in zone {zone}" if zone is not None else ""
    raise PlacementError(f"no bead stretch{where} is long and clear enough for a '{kind}' defect")


def _amplitudes(kind: str, wid: float, length: float, rng: np.random.Generator, side: float = 0.0) -> dict:
    if kind == "missing":
        return {"seam": round(float(rng.uniform(0.0, 0.2)), 3)}
    if kind == "narrowing":
        return {"amount": round(float(rng.uniform(0.45, 0.65)), 3), "ramp": round(0.3 * length, 2)}
    if kind == "misalignment":
        shift = float((side or rng.choice([-1.0, 1.0])) * rng.uniform(0.8, 1.3) * wid)
        return {
            "shift": round(shift, 2),
            "ramp": round(max(0.3 * length, min(1.5 * abs(shift), 0.45 * length)), 2),
        }
    if kind == "bifurcation":
        return {
            "spread": round(float(rng.uniform(1.1, 1.6) * wid), 2),
            "thin": round(float(rng.uniform(0.5, 0.62)), 3),
            "rejoin": bool(rng.random() < 0.75),
            "ramp": round(0.3 * length, 2),
        }
    return {
        "breadth": round(float(rng.uniform(0.45, 0.7)), 3),
        "offset": round(float(rng.uniform(-0.2, 0.2)), 3),
        "depth": round(float(rng.uniform(0.75, 0.9)), 3),
    }


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
        p |= {
            "angle": round(float(rng.uniform(0, np.pi)), 3),
            "bend": round(float(rng.uniform(-0.3, 0.3)), 3),
            "contrast": round(float(rng.uniform(0.25, 0.45)), 3),
            "width": round(float(rng.uniform(1.0, 2.0)), 2),
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
