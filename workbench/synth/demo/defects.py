"""Per-pass bead variation and the five sealant defects of seed 000, as edits of bead centrelines.

Kinds: ``missing`` (a stretch without sealant), ``narrowing`` (reduced flow), ``bifurcation`` (the stream
splits into two thinner branches), ``misalignment`` (a stretch shifted sideways), ``hole`` (a void with a rim).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.synth.demo.bead import Stroke, Void
from workbench.synth.demo.layout import Layout

KINDS = ("missing", "narrowing", "bifurcation", "misalignment", "hole")
# relative frequencies after seed 000's Table 1 (missing sealant dominates)
KIND_WEIGHTS = np.array([0.36, 0.14, 0.16, 0.2, 0.14])
# changed pixels per pixel of stretch length per pixel of bead width, to size a stretch for a target area
_AREA_PER_LENGTH = {"missing": 1.45, "narrowing": 0.75, "bifurcation": 1.6, "misalignment": 2.3, "hole": 0.5}
AREA_RANGE = (0.002, 0.03)  # fraction of the frame


@dataclass(frozen=True)
class DefectPlan:
    """Where and how a defect edits a bead: arclength stretch [s0, s1] px, a kind-specific amplitude."""

    kind: str
    view: str
    bead_id: int
    s0: float
    s1: float
    zone: int
    amplitude: float


def nominal_strokes(layout: Layout) -> list[Stroke]:
    """The beads exactly as programmed: one stroke per bead."""
    return [Stroke(b.points.copy(), np.full(len(b.points), b.width), i) for i, b in enumerate(layout.beads)]


def _wave(rng: np.random.Generator, s: np.ndarray, scale: float) -> np.ndarray:
    """A smooth random wave along arclength with unit amplitude at most."""
    out = np.zeros_like(s)
    for _ in range(3):
        wl = rng.uniform(50.0, 220.0) * scale
        out += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * s / wl + rng.uniform(0, 2 * np.pi))
    return out / 2.3


def vary(strokes: list[Stroke], rng: np.random.Generator, scale: float) -> list[Stroke]:
    """The pass-to-pass variation of a robot bead: a small lateral offset and wobble, and width wobble."""
    out = []
    for st in strokes:
        lateral = rng.uniform(-1.0, 1.0) * scale + 0.8 * scale * _wave(rng, st.arclength, scale)
        widths = st.widths * (1.0 + 0.07 * _wave(rng, st.arclength, scale))
        pts = st.points + st.normals() * lateral[:, None]
        out.append(Stroke(pts, widths, st.bead_id, st.arclength))
    return out


def _plateau(s: np.ndarray, s0: float, s1: float, edge: float) -> np.ndarray:
    """0 outside [s0, s1], 1 inside, with raised-cosine flanks ``edge`` px long."""
    edge = max(min(edge, (s1 - s0) / 2), 1e-3)
    up = np.clip((s - s0) / edge, 0, 1)
    down = np.clip((s1 - s) / edge, 0, 1)
    return 0.5 - 0.5 * np.cos(np.pi * np.minimum(up, down))


def apply_defect(strokes: list[Stroke], plan: DefectPlan, scale: float) -> tuple[list[Stroke], list[Void]]:
    """The strokes with ``plan`` applied (other beads untouched) and any voids it punches."""
    out: list[Stroke] = []
    voids: list[Void] = []
    for st in strokes:
        if st.bead_id != plan.bead_id:
            out.append(st)
            continue
        s, w = st.arclength, st.widths
        if plan.kind == "missing":
            for keep in (s < plan.s0, s > plan.s1):
                if keep.sum() > 1:
                    out.append(Stroke(st.points[keep], w[keep], st.bead_id, s[keep]))
        elif plan.kind == "narrowing":
            # a gentle taper: a width that changes abruptly along the bead creases the ridge
            bump = _plateau(s, plan.s0, plan.s1, max(0.3 * (plan.s1 - plan.s0), 1.5 * float(w.mean())))
            out.append(Stroke(st.points, w * (1.0 - plan.amplitude * bump), st.bead_id, s))
        elif plan.kind == "misalignment":
            bump = _plateau(s, plan.s0, plan.s1, 10 * scale)
            pts = st.points + st.normals() * (plan.amplitude * bump)[:, None]
            out.append(Stroke(pts, w, st.bead_id, s))
        elif plan.kind == "bifurcation":
            bump = _plateau(s, plan.s0, plan.s1, 0.35 * (plan.s1 - plan.s0))
            thin = w * (1.0 - 0.48 * bump)
            n = st.normals()
            out.append(Stroke(st.points + n * (plan.amplitude * bump)[:, None], thin, st.bead_id, s))
            part = (s >= plan.s0) & (s <= plan.s1)
            out.append(
                Stroke(
                    st.points[part] - n[part] * (plan.amplitude * bump[part])[:, None], thin[part], st.bead_id
                )
            )
        elif plan.kind == "hole":
            out.append(st)
            # interrupted flow leaves a row of craters, each about a bead width long
            length = plan.s1 - plan.s0
            count = max(1, int(round(length / (1.7 * float(w.mean())))))
            pitch = length / count
            for k in range(count):
                i = int(np.argmin(np.abs(s - (plan.s0 + (k + 0.5) * pitch))))
                t = np.gradient(st.points, axis=0)[i]
                angle = float(np.degrees(np.arctan2(t[1], t[0])))
                voids.append(Void(tuple(st.points[i]), (0.36 * pitch, plan.amplitude * w[i]), angle))
        else:
            raise ValueError(f"unknown defect kind {plan.kind!r}; expected one of {KINDS}")
    return out, voids


def sample_defect(layout: Layout, view: str, kind: str, rng: np.random.Generator) -> DefectPlan:
    """A random defect of ``kind`` on one of ``view``'s beads, sized for 0.2-3 % of the frame, inside the crop."""
    vg = layout.view(view)
    s = layout.scale
    cx, cy, cw, ch = layout.crop_in_strip(vg)
    frame_area = layout.width * layout.height
    target = np.exp(rng.uniform(*np.log(AREA_RANGE))) * frame_area
    for _ in range(40):
        bead_id = int(rng.choice(vg.bead_ids))
        bead = layout.beads[bead_id]
        amplitude = {
            "missing": 0.0,
            "narrowing": rng.uniform(0.5, 0.62),
            "bifurcation": rng.uniform(0.6, 0.8) * bead.width,
            "misalignment": rng.choice([-1.0, 1.0]) * rng.uniform(0.9, 1.4) * bead.width,
            "hole": rng.uniform(0.2, 0.26),
        }[kind]
        # how far the changed pixels reach beside the centreline: half a bead, the shift, the cast shadow
        reach = bead.width / 2 + (abs(amplitude) if kind in ("bifurcation", "misalignment") else 0.0) + 12 * s
        pts = bead.points
        arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])
        inside = (
            (pts[:, 0] > cx + reach)
            & (pts[:, 0] < cx + cw - reach)
            & (pts[:, 1] > cy + reach)
            & (pts[:, 1] < cy + ch - reach)
        )
        # and outside the other views' crops, so no other view's sample shows part of this defect
        for other in layout.views:
            if other.name != view:
                ox, oy, ow, oh = layout.crop_in_strip(other)
                inside &= ~(
                    (pts[:, 0] > ox - reach)
                    & (pts[:, 0] < ox + ow + reach)
                    & (pts[:, 1] > oy - reach)
                    & (pts[:, 1] < oy + oh + reach)
                )
        if inside.sum() < 10:
            continue
        span = arc[inside].max() - arc[inside].min()
        length = target / (bead.width * _AREA_PER_LENGTH[kind])
        lo = {"hole": 1.0, "missing": 1.6, "misalignment": 2.0}.get(kind, 4.0) * bead.width
        hi = rng.uniform(1.5, 6.0) * bead.width if kind == "hole" else 0.7 * span
        length = float(np.clip(length, lo, max(hi, lo)))
        # the whole stretch must lie inside the crop window so the sample shows all of it
        outside = np.concatenate([[0], np.cumsum(~inside)])
        i0 = np.searchsorted(arc, arc - length / 2)
        i1 = np.searchsorted(arc, arc + length / 2, side="right")
        ok = (outside[i1] - outside[i0] == 0) & (arc - length / 2 >= 0) & (arc + length / 2 <= arc[-1])
        if not ok.any():
            target *= 0.7
            continue
        mid = float(arc[rng.choice(np.flatnonzero(ok))])
        edges = bead.zone_edges
        zone = bead.zone_first + int(
            np.clip(np.searchsorted(edges, mid, side="right") - 1, 0, len(edges) - 2)
        )
        return DefectPlan(kind, view, bead_id, mid - length / 2, mid + length / 2, zone, float(amplitude))
    raise RuntimeError(
        f"could not place a {kind} defect in view {view!r}: no bead stretch fits the crop window"
    )
