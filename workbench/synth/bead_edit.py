"""Re-draw a stretch of a bead from its own pixels: panel fill where sealant goes, warped bead copies where it stays.

Every bead defect but the hole is one edit of this kind. Along a stretch [s0, s1] of one centreline:

* the original bead band (bead plus its shadow) is replaced by **panel fill**: the panel just beside the
  bead, mirrored across the band edge from each side; the two sides meet in the middle with a cross-fade
  that keeps the low frequencies smooth and restores the variance of the high frequencies, so there is
  neither a seam nor a blur;
* **branches** are then drawn over it: copies of the bead's own cross-section, moved sideways
  (``offset``) and squeezed (``scale``) point by point, each ending in a round cap. An unchanged bead is
  the branch with offset 0 and scale 1, so a stretch blends into the untouched bead without a seam.

Missing sealant is the fill alone; narrowing one squeezed branch; misalignment one moved branch;
bifurcation two thin branches. Matched noise replaces what the bilinear resampling smoothed away.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import cKDTree

from workbench.synth.appearance import bilinear_retained, matched_noise, remap, smooth
from workbench.synth.bead import Bead, BeadLine
from workbench.synth.geometry import arclength, local_frame, normals, smooth_along, tangents, window_around

SHADOW_MARGIN = (1.0, 5.0)  # band half-width = h * (1 + a) + b: soft bead edges, cast shadow, anti-aliasing
COPY_SHADOW = 0.45  # a bead copy reaches this share of the bead width (+2 px) past its edge: its shadow


@dataclass
class Branch:
    """A bead copy along the stretch: indices into the line, lateral offset (px) and width factor per index."""

    index: np.ndarray
    offset: np.ndarray
    scale: np.ndarray
    free: tuple[bool, bool] = (False, False)  # an end where the bead stops (its shadow fades into a cap)


@dataclass
class StretchEdit:
    """What changes: the fill range [s0, s1] (px of arclength; empty for none) and the branches over it."""

    s0: float
    s1: float
    branches: list[Branch]
    seam: float = 0.0  # darkening of the bare seam line revealed where the fill has no branch over it
    fill_margin: float = 0.0  # px the fill reaches past the stretch: room for a free end's shadow to fade


def band_halfwidth(widths: np.ndarray) -> np.ndarray:
    """Half-width (px) of the band a bead occupies with its shadow, from full widths."""
    a, b = SHADOW_MARGIN
    return widths / 2 * (1 + a) + b


def apply_edit(
    image: np.ndarray,
    bead: Bead,
    line: int,
    edit: StretchEdit,
    noise: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """The edited image (H, W, C) float32, the edited region (H, W) bool and its window (x0, y0, x1, y1)."""
    ln: BeadLine = bead.lines[line]
    pts, s = ln.points, arclength(ln.points)
    nrm = normals(pts)
    tng = np.stack([nrm[:, 1], -nrm[:, 0]], axis=1)
    band = band_halfwidth(ln.widths)
    reach = float(band.max())
    pad = reach * 2.2 + max((np.abs(b.offset).max() for b in edit.branches), default=0.0) + 4
    near = (s >= edit.s0 - 2 * reach) & (s <= edit.s1 + 2 * reach)
    sub = np.flatnonzero(near)
    h, w = image.shape[:2]
    win = window_around(pts[sub], pad, (h, w))
    x0, y0, x1, y1 = win
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise ValueError("the bead stretch lies outside the image")
    lf = local_frame(pts[sub], win, nrm[sub])
    idx = sub[lf.index]
    si = s[idx]
    orig = image[y0:y1, x0:x1]
    out = orig.copy()
    missing = np.zeros(lf.d.shape, np.float32)

    # 1. panel fill over the old bead band of the stretch
    m = edit.fill_margin
    in_stretch = (si >= edit.s0 - m) & (si <= edit.s1 + m)
    fill_alpha = np.clip(band[idx] - np.abs(lf.d) + 0.5, 0.0, 1.0) * in_stretch
    valid, odd = _panel_validity(image, bead, line, sub, win)
    # a panel feature (hole, bolt) inside the band but clear of the bead and its shadow stays as it is
    shadow = ln.widths[idx] / 2 + COPY_SHADOW * ln.widths[idx] + 2.0
    spare = np.clip(np.abs(lf.d) - shadow, 0.0, 1.0) * odd[y0:y1, x0:x1]
    fill_alpha = fill_alpha * (1 - spare)
    if fill_alpha.any():
        fill, fill_missing = _panel_fill(image, pts, tng, nrm, band, idx, lf, win, valid)
        if edit.seam > 0:
            fill *= (1.0 - edit.seam * np.exp(-((lf.d / 1.3) ** 2)))[:, :, None]
        a = fill_alpha[:, :, None]
        out = a * fill + (1 - a) * out
        missing = np.maximum(missing, fill_alpha * fill_missing)

    # 2. bead copies on top
    yy, xx = np.mgrid[y0:y1, x0:x1]
    pix = np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.float64)
    best_alpha = np.zeros(len(pix))
    best_plus = np.zeros((len(pix), 2))
    best_minus = np.zeros((len(pix), 2))
    best_wp = np.ones(len(pix))
    best_r = np.full(len(pix), np.inf)
    best_out = np.zeros(len(pix))
    for br in edit.branches:
        if len(br.index) < 2:
            continue
        alpha, r, plus, minus, wp, out_part = _branch_sources(pix, br, pts, nrm, tng, ln.widths, band)
        better = (alpha > best_alpha + 1e-6) | (
            (np.abs(alpha - best_alpha) <= 1e-6) & (r < best_r) & (alpha > 0)
        )
        best_alpha = np.where(better, alpha, best_alpha)
        best_r = np.where(better, r, best_r)
        best_plus[better], best_minus[better] = plus[better], minus[better]
        best_wp = np.where(better, wp, best_wp)
        best_out = np.where(better, out_part, best_out)
    shape = lf.d.shape
    # a copy's shadow does not paint over a panel feature either (its bead does: it lies on top)
    ba = best_alpha.reshape(shape) * (1 - best_out.reshape(shape) * odd[y0:y1, x0:x1])
    if ba.any():
        px, py = best_plus[:, 0].reshape(shape), best_plus[:, 1].reshape(shape)
        mx, my = best_minus[:, 0].reshape(shape), best_minus[:, 1].reshape(shape)
        wp = best_wp.reshape(shape)[:, :, None]
        copy = remap(image, px, py)
        cap = wp[:, :, 0] < 1.0
        if cap.any():  # round ends: a blend of the two flanks at the same distance from the end point
            copy = wp * copy + (1 - wp) * remap(image, mx, my)
        # an unchanged bead copied onto itself is the original: only count (and re-noise) real moves
        moved = (np.hypot(px - xx, py - yy) > 0.05) | cap
        out = ba[:, :, None] * copy + (1 - ba[:, :, None]) * out
        kept = wp[:, :, 0] ** 2 * bilinear_retained(px, py) + (1 - wp[:, :, 0]) ** 2 * bilinear_retained(
            mx, my
        )
        missing = np.where(moved & (ba > 0), np.maximum(missing * (1 - ba), ba * (1 - kept)), missing)
    # limit the edit to the stretch plus round caps: beyond that every branch is the original
    keep = (si >= edit.s0 - reach) & (si <= edit.s1 + reach)
    # past either end of the line lies panel or, at a junction, the bead that carries on: not this edit's
    keep &= ~(((idx == 0) & (lf.t < -0.5)) | ((idx == len(pts) - 1) & (lf.t > 0.5)))
    out = np.where(keep[:, :, None], out, orig)
    missing = missing * keep
    out = out + matched_noise(rng, shape, noise, out.shape[2], missing)
    result = image.copy()
    result[y0:y1, x0:x1] = out
    region = np.zeros((h, w), bool)
    region[y0:y1, x0:x1] = keep & ((ba > 0) | (fill_alpha > 0))
    return result, region, win


def _branch_sources(pix, br: Branch, pts, nrm, tng, widths, band):
    """Per pixel: alpha of one bead copy, distance to its centre, two source points and the weight of the first.

    Across the copy, the bead core (half-width ``w/2``) is squeezed by ``scale`` while its shadow keeps its
    width (a thinner stream casts the same soft shadow). Past either end, a pixel at distance r (< the
    core) from the end point takes the flank cross-section at +r and -r, blended by which side it lies
    on: a round cap that matches the untouched bead where it starts.
    """
    i = br.index
    centres = pts[i] + nrm[i] * br.offset[:, None]
    r, j = cKDTree(centres).query(pix, k=1)
    rel = pix - centres[j]
    ii = i[j]
    # across is measured square to the copy's own path, so a bend stays as wide as the straight bead
    ctng = tangents(smooth_along(centres, 1.5))
    cnrm = np.stack([-ctng[:, 1], ctng[:, 0]], axis=1)
    t = np.einsum("ij,ij->i", rel, ctng[j])
    d = np.einsum("ij,ij->i", rel, cnrm[j])
    scale = np.maximum(br.scale[j], 0.05)
    core = widths[ii] / 2
    lost = core * (1 - scale)  # px the squeezed core gives up on each side
    # the copy carries the bead and its cast shadow, not the whole fill band: panel features beside a
    # moved copy (a hole, a bolt) stay where they are instead of being cut by a strip of shifted panel
    # (an unmoved copy keeps the whole band: nothing beside it moves, and the fill under it never shows)
    full = band[ii] - lost
    short = np.minimum(full, core * scale + COPY_SHADOW * 2 * core + 2.0)
    moved = np.clip(np.abs(br.offset[j]) / 3.0, 0.0, 1.0)
    extent = full + (short - full) * moved
    alpha = np.clip(extent - r + 0.5, 0.0, 1.0)

    def lateral(e):
        a = np.abs(e)
        return np.sign(e) * np.where(a <= core * scale, a / scale, a + lost)

    end = ((j == 0) & (t < -0.5)) | ((j == len(i) - 1) & (t > 0.5))
    # a cap is the bead alone: its shadow and the panel beyond come from the fill, not a radial smear
    alpha = np.where(end, np.clip(core * scale + 1.0 - r + 0.5, 0.0, 1.0), alpha)
    # towards a free end the cast shadow beside the bead fades out (it wraps round the cap in reality)
    to_end = np.full(len(j), np.inf)
    if br.free[0]:
        to_end = np.minimum(to_end, j)
    if br.free[1]:
        to_end = np.minimum(to_end, len(i) - 1 - j)
    fade = np.clip(to_end / np.maximum(band[ii] - core, 1.0), 0.0, 1.0)
    fade = fade * fade * (3 - 2 * fade)
    outside = np.clip(np.abs(d) - core * scale, 0.0, 1.0)
    alpha = alpha * (1 - outside * (1 - fade))
    base = pts[ii] + tng[ii] * np.where(end, 0.0, t)[:, None]
    along = np.where(end, r, d)
    plus = base + nrm[ii] * lateral(along)[:, None]
    minus = base - nrm[ii] * lateral(along)[:, None]
    wp = np.where(end, 0.5 * (1 + d / np.maximum(r, 1e-6)), 1.0)
    # a flank in shade and one in light blend smoothly: smoothstep on the side weight
    wp = np.where(end, wp * wp * (3 - 2 * wp), 1.0)
    return alpha, r, plus, minus, wp, np.where(end, 0.0, outside)


def _panel_fill(image, pts, tng, nrm, band, idx, lf, win, valid):
    """(h, w, C) panel texture for the window and the share of noise variance it lacks (h, w)."""
    x0, y0, x1, y1 = win
    h, w = image.shape[:2]
    p = pts[idx]
    b = band[idx][:, :, None]
    d = lf.d[:, :, None]
    base = p + tng[idx] * lf.t[:, :, None]
    n = nrm[idx]
    src_plus = base + n * (2 * b - d)  # mirrored about the band edge on the + side
    src_minus = base + n * (-2 * b - d)
    vp = remap(image, src_plus[..., 0], src_plus[..., 1])
    vm = remap(image, src_minus[..., 0], src_minus[..., 1])
    okp = remap(valid, src_plus[..., 0], src_plus[..., 1])[:, :, 0]
    okm = remap(valid, src_minus[..., 0], src_minus[..., 1])[:, :, 0]
    inside = lambda q: (q[..., 0] >= 0) & (q[..., 0] <= w - 1) & (q[..., 1] >= 0) & (q[..., 1] <= h - 1)  # noqa: E731
    # just outside the band the mirror is the neighbouring pixel itself: always right there, even on a rib
    near = np.clip((np.abs(lf.d) - band[idx] + 6.0) / 6.0, 0.0, 1.0)
    okp = np.maximum(okp, near * (lf.d > 0)) * inside(src_plus)
    okm = np.maximum(okm, near * (lf.d < 0)) * inside(src_minus)
    c = 0.5 * band[idx]
    wp = np.clip((lf.d + c) / (2 * c), 0.0, 1.0)
    wp = wp * wp * (3 - 2 * wp)  # smoothstep: no kink where the cross-fade starts
    wp = wp * okp / np.maximum(wp * okp + (1 - wp) * okm, 1e-6)
    none = (okp + okm) < 0.05
    wp = np.where(none, 0.5, wp)[:, :, None]
    sigma_low = 3.0
    lp, lm = smooth(vp, sigma_low), smooth(vm, sigma_low)
    hp, hm = vp - lp, vm - lm
    gain = 1.0 / np.sqrt(np.maximum(wp**2 + (1 - wp) ** 2, 1e-6))
    fill = wp * lp + (1 - wp) * lm + (wp * hp + (1 - wp) * hm) * gain
    # where neither side is plain panel (beads close together, a hole beside the bead) the panel's usual
    # colour stands in, and matched noise gives it grain
    x0, y0, x1, y1 = win
    plain = valid[y0:y1, x0:x1, 0] > 0.5
    level = np.median(image[y0:y1, x0:x1][plain], axis=0) if plain.sum() > 20 else np.median(lp, axis=(0, 1))
    soft = np.clip(1.0 - (okp + okm) / 0.3, 0.0, 1.0)[:, :, None]
    fill = soft * level[None, None, :] + (1 - soft) * fill
    retained = (
        wp[:, :, 0] * np.sqrt(bilinear_retained(src_plus[..., 0], src_plus[..., 1]))
        + (1 - wp[:, :, 0]) * np.sqrt(bilinear_retained(src_minus[..., 0], src_minus[..., 1]))
    ) ** 2
    lacking = np.maximum(soft[:, :, 0], np.clip(1.0 - retained, 0.0, 1.0))
    return fill, lacking.astype(np.float32)


def _panel_validity(
    image: np.ndarray, bead: Bead, line: int, sub: np.ndarray, win: tuple[int, int, int, int]
) -> np.ndarray:
    """(H, W, 1) float32 near 1 on plain panel, 0 on bead bands and panel features; (H, W) float32 features.

    The fill mirrors the panel beside the bead; a hole or bolt head there would be mirrored into the gap
    as a twin, so pixels far from the panel's usual grey do not count as panel.
    """
    h, w = image.shape[:2]
    others = []
    for k, ln in enumerate(bead.lines):
        if k == line:
            rest = np.ones(len(ln.points), bool)
            rest[sub] = False
            if rest.sum() >= 2:
                others.append(BeadLine(ln.points[rest], ln.widths[rest]))
        else:
            others.append(ln)
    own = bead.lines[line]
    grow = float(band_halfwidth(own.widths).max() - own.widths.max() / 2)
    cover = Bead(others).coverage((h, w), grow=grow) if others else np.zeros((h, w), bool)
    # the stretch's own band: the mirror samples just outside it, so it is excluded a little narrower
    cover |= Bead([BeadLine(own.points[sub], own.widths[sub])]).coverage((h, w), grow=max(grow - 3.0, 0.0))
    g = smooth(image, 1.5).mean(axis=2)
    panel = ~cover
    x0, y0, x1, y1 = win
    vals = g[y0:y1, x0:x1][panel[y0:y1, x0:x1]]
    if vals.size > 50:
        med = float(np.median(vals))
        spread = 1.4826 * float(np.median(np.abs(vals - med)))
        odd = np.abs(g - med) > max(3.0 * spread, 25.0)
        # small busy features (bolt heads, rims) keep the usual grey on average but not its smoothness
        var = np.maximum(cv2.blur(g * g, (7, 7)) - cv2.blur(g, (7, 7)) ** 2, 0.0)
        busy = np.sqrt(var)
        typical = float(np.median(busy[y0:y1, x0:x1][panel[y0:y1, x0:x1]]))
        odd |= busy > max(3.0 * typical, 10.0)
        odd = cv2.dilate(odd.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        panel &= ~odd
    else:
        odd = np.zeros((h, w), bool)
    soft = cv2.GaussianBlur(panel.astype(np.float32), (0, 0), 1.5)[:, :, None]
    return soft, cv2.GaussianBlur((odd & ~cover).astype(np.float32), (0, 0), 1.0)
