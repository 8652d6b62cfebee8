"""The five sealant defects of seed 000 drawn on a real sample: missing, narrowing, bifurcation, misalignment, hole.

Each ``draw_<type>(image, bead, params, noise, rng)`` returns the edited float image and the region it
touched; ``params`` is a JSON-able dict (line index, arclength stretch, type-specific amplitudes) made by
:func:`workbench.synth.placement.place` or by hand in the Synthesis pane.
"""

from __future__ import annotations

import numpy as np

from workbench.synth.appearance import matched_noise, remap
from workbench.synth.bead import Bead
from workbench.synth.bead_edit import Branch, StretchEdit, apply_edit, band_halfwidth
from workbench.synth.geometry import arclength, normals, plateau, window_around

BEAD_TYPES = ("missing", "narrowing", "bifurcation", "misalignment", "hole")


def _stretch(bead: Bead, p: dict) -> tuple[int, np.ndarray, float, float]:
    line = int(p["line"])
    if not 0 <= line < len(bead.lines):
        raise ValueError(f"defect on bead line {line}, but the bead has lines 0..{len(bead.lines) - 1}")
    s = arclength(bead.lines[line].points)
    s0, s1 = float(p["s0"]), float(p["s1"])
    if not (0 <= s0 < s1 <= s[-1] + 1e-6):
        raise ValueError(
            f"stretch [{s0:.1f}, {s1:.1f}] px is not inside bead line {line} (0..{s[-1]:.1f} px)"
        )
    return line, s, s0, s1


def _context(s: np.ndarray, s0: float, s1: float, reach: float, free: bool = False) -> list[Branch]:
    """The untouched bead just before and after the stretch, as identity branches (they give round caps).

    ``free``: the bead stops at the stretch (missing sealant), so the shadow fades towards the caps.
    """
    out = []
    for part, ends in (
        (np.flatnonzero((s >= s0 - 2 * reach) & (s <= s0)), (False, free)),
        (np.flatnonzero((s >= s1) & (s <= s1 + 2 * reach)), (free, False)),
    ):
        if len(part) >= 2:
            out.append(Branch(part, np.zeros(len(part)), np.ones(len(part)), ends))
    return out


def _span(s: np.ndarray, s0: float, s1: float, bead: Bead, line: int) -> np.ndarray:
    """Indices of the stretch and one band-width of bead on either side (where the edit fades to nothing).

    A copy that ends exactly where the untouched bead begins leaves a notch in the shadow where the two
    meet at an angle; running it on, unchanged, over the untouched bead hides the join.
    """
    reach = float(band_halfwidth(bead.lines[line].widths).max())
    return np.flatnonzero((s >= s0 - reach) & (s <= s1 + reach))


def draw_missing(image, bead: Bead, p: dict, noise: float, rng: np.random.Generator):
    """Sealant absent along the stretch: panel fill, round bead ends, optionally the bare seam line."""
    line, s, s0, s1 = _stretch(bead, p)
    reach = float(band_halfwidth(bead.lines[line].widths).max())
    ctx = _context(s, s0, s1, reach, free=True)
    edit = StretchEdit(s0, s1, ctx, seam=float(p.get("seam", 0.0)), fill_margin=reach)
    return apply_edit(image, bead, line, edit, noise, rng)[:2]


def draw_narrowing(image, bead: Bead, p: dict, noise: float, rng: np.random.Generator):
    """Reduced flow: the bead's edges pulled in smoothly to ``1 - amount`` of its width in the middle."""
    line, s, s0, s1 = _stretch(bead, p)
    i = _span(s, s0, s1, bead, line)
    bump = plateau(s[i], s0, s1, float(p.get("ramp", 0.3 * (s1 - s0))))
    br = Branch(i, np.zeros(len(i)), 1.0 - float(p["amount"]) * bump)
    reach = float(band_halfwidth(bead.lines[line].widths).max())
    return apply_edit(image, bead, line, StretchEdit(s0, s1, [br, *_context(s, s0, s1, reach)]), noise, rng)[
        :2
    ]


def draw_misalignment(image, bead: Bead, p: dict, noise: float, rng: np.random.Generator):
    """The nozzle off its path: the stretch moved ``shift`` px sideways, bending in and out smoothly.

    ``seam`` darkens the joint the bead no longer covers.
    """
    line, s, s0, s1 = _stretch(bead, p)
    i = _span(s, s0, s1, bead, line)
    bump = plateau(s[i], s0, s1, float(p.get("ramp", 0.3 * (s1 - s0))))
    br = Branch(i, float(p["shift"]) * bump, np.ones(len(i)))
    reach = float(band_halfwidth(bead.lines[line].widths).max())
    edit = StretchEdit(s0, s1, [br, *_context(s, s0, s1, reach)], seam=float(p.get("seam", 0.0)))
    return apply_edit(image, bead, line, edit, noise, rng)[:2]


def draw_bifurcation(image, bead: Bead, p: dict, noise: float, rng: np.random.Generator):
    """A split stream: two thinner branches ``spread`` px apart that rejoin (or one that runs out and ends).

    ``seam`` darkens the joint where it shows between the branches.
    """
    line, s, s0, s1 = _stretch(bead, p)
    i = _span(s, s0, s1, bead, line)
    spread, thin = float(p["spread"]), float(p.get("thin", 0.55))
    ramp = float(p.get("ramp", 0.3 * (s1 - s0)))
    reach = float(band_halfwidth(bead.lines[line].widths).max())
    if p.get("rejoin", True):
        bump = plateau(s[i], s0, s1, ramp)
        scale = 1.0 - (1.0 - thin) * bump
        branches = [Branch(i, 0.5 * spread * bump, scale), Branch(i, -0.5 * spread * bump, scale)]
    else:
        # the main stream stays on its path a little thinner; a side stream peels off and stops in a drop
        rise = np.clip((s[i] - s0) / max(s1 - s0, 1e-3), 0.0, 1.0)
        rise = rise * rise * (3 - 2 * rise)
        main = 1.0 - (1.0 - thin) * 0.6 * plateau(s[i], s0, s1, ramp)
        own = (s[i] >= s0) & (s[i] <= s1)  # the side stream starts at the split and ends in its drop
        k = i[own]
        side = np.full(len(k), thin)
        side[: max(len(k) // 6, 2)] = np.linspace(1.0, thin, max(len(k) // 6, 2))
        branches = [Branch(i, np.zeros(len(i)), main), Branch(k, spread * rise[own], side, (False, True))]
    edit = StretchEdit(s0, s1, [*branches, *_context(s, s0, s1, reach)], seam=float(p.get("seam", 0.0)))
    return apply_edit(image, bead, line, edit, noise, rng)[:2]


def draw_hole(image, bead: Bead, p: dict, noise: float, rng: np.random.Generator):
    """Voids in the sealant: dark elliptic openings with a lit far wall and a rim catching the light.

    ``count`` voids (default 1) share the stretch evenly, each taking ``fill`` of its share (a row of
    pores where the flow was interrupted); one void spans the whole stretch.
    """
    line, s, s0, s1 = _stretch(bead, p)
    count = int(p.get("count", 1))
    if count < 1:
        raise ValueError(f"a hole defect needs a count of at least 1 void, found {count}")
    pitch = (s1 - s0) / count
    fill = float(p.get("fill", 1.0)) if count > 1 else 1.0
    result = image.copy()
    region = np.zeros(image.shape[:2], bool)
    for k in range(count):
        mid = s0 + (k + 0.5) * pitch
        region |= _void(result, bead.lines[line], s, mid, max(pitch * fill / 2, 1.5), p, noise, rng)
    return result, region


def _void(image, ln, s: np.ndarray, mid: float, a: float, p: dict, noise: float, rng: np.random.Generator):
    """Draw one void of half-length ``a`` px centred at arclength ``mid`` into ``image``; the region it touched."""
    k = int(np.argmin(np.abs(s - mid)))
    half = float(ln.widths[k]) / 2
    n = normals(ln.points)[k]
    t = np.array([n[1], -n[0]])
    centre = ln.points[k] + n * float(p.get("offset", 0.0)) * half
    b = max(float(p.get("breadth", 0.5)) * half, 1.5)
    h, w = image.shape[:2]
    x0, y0, x1, y1 = window_around(centre[None, :], max(a, b) + 6, (h, w))
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    u = (xx - centre[0]) * t[0] + (yy - centre[1]) * t[1]
    v = (xx - centre[0]) * n[0] + (yy - centre[1]) * n[1]
    r = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    edge = r * min(a, b)  # ~ px from the centre along the smaller axis
    inside = np.clip(min(a, b) - edge + 0.5, 0.0, 1.0)
    orig = image[y0:y1, x0:x1].copy()
    # which flank of the bead faces the light: the brighter one
    flank = [
        remap(image, np.array([[q[0]]]), np.array([[q[1]]]))[0, 0].mean()
        for q in (ln.points[k] + n * 0.6 * half, ln.points[k] - n * 0.6 * half)
    ]
    lit = 1.0 if flank[0] >= flank[1] else -1.0
    level = remap(image, np.array([[ln.points[k][0]]]), np.array([[ln.points[k][1]]]))[0, 0]
    depth = float(p.get("depth", 0.85))
    void = level * (1.0 - depth)
    side = np.clip(-lit * v / np.maximum(r * b, 1e-6), 0.0, 1.0)  # the wall away from the light is lit
    wall = np.clip((r - 0.45) / 0.55, 0.0, 1.0) ** 2 * side
    interior = void[None, None, :] * (1.0 + 1.8 * wall[:, :, None])
    ring = np.exp(-(((r - 1.0) * min(a, b) / 1.3) ** 2)) * (r > 1.0)
    facing = np.clip(lit * v / np.maximum(r * b, 1e-6), -1.0, 1.0)
    rim = ring * facing  # + on the lip facing the light, - behind it
    lip = np.where(
        rim[:, :, None] > 0, (255.0 - orig) * 0.35 * rim[:, :, None], orig * 0.35 * rim[:, :, None]
    )
    out = orig + lip
    out = inside[:, :, None] * interior + (1 - inside[:, :, None]) * out
    out = out + matched_noise(rng, inside.shape, noise, out.shape[2], inside)
    image[y0:y1, x0:x1] = out
    region = np.zeros((h, w), bool)
    region[y0:y1, x0:x1] = (inside > 0) | (np.abs(rim) > 0.02)
    return region


DRAW = {
    "missing": draw_missing,
    "narrowing": draw_narrowing,
    "bifurcation": draw_bifurcation,
    "misalignment": draw_misalignment,
    "hole": draw_hole,
}
