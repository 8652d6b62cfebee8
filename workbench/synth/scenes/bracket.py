"""A second part family, unlike the demo's underbodies: stamped steel brackets seen from above, smaller in the
frame (a camera further away), with a glue bead, rows of identical holes, a ribbed middle and a serial
label that differs on every part.

Geometry is in design units (a 480-pixel-high frame) and scaled by ``height / 480``. A part is rendered
once per pass as a sprite: (h, w, 3) float32 BGR 0..255 and an (h, w) float32 alpha.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PART_W, PART_H = 560, 300  # design px
# Views on the part (x, y, w, h, design px): two flanges that look alike (two big holes and a bead each, but
# laid out differently) and the ribbed middle with its row of five identical holes.
VIEWS = {
    "left": (14, 34, 168, 232),
    "middle": (196, 40, 176, 220),
    "right": (384, 34, 164, 232),
}
# The glue bead, a polyline over the whole part (design px).
BEAD = ((30, 250), (60, 200), (150, 190), (230, 200), (330, 205), (420, 185), (470, 120), (520, 90))


@dataclass(frozen=True)
class PartLook:
    """What varies from part to part: bead wobble, label digits, a glue gap (defect) or not."""

    bead_offsets: tuple[tuple[float, float], ...]
    label_bits: tuple[int, ...]
    gap_at: float | None = None  # fraction of the bead's length where the glue is missing


def random_look(rng: np.random.Generator, defect: bool = False) -> PartLook:
    """A part's variation: the bead moves by up to 2 design px, a new 24-bit serial label."""
    offsets = tuple((float(a), float(b)) for a, b in rng.uniform(-2.0, 2.0, (len(BEAD), 2)))
    bits = tuple(int(b) for b in rng.integers(0, 2, 24))
    return PartLook(offsets, bits, float(rng.uniform(0.15, 0.85)) if defect else None)


def _pt(x: float, y: float, s: float) -> tuple[int, int]:
    return int(round(x * s * 8)), int(round(y * s * 8))  # 3 fractional bits for cv2's shift=3


def _hole(img: np.ndarray, cx: float, cy: float, r: float, s: float) -> None:
    """A punched hole: dark inside, a bright chamfer ring towards the light (upper left)."""
    cv2.circle(
        img, _pt(cx - 1.2, cy - 1.2, s), int(round((r + 3) * s * 8)), (205, 205, 200), -1, cv2.LINE_AA, 3
    )
    cv2.circle(img, _pt(cx, cy, s), int(round((r + 1.5) * s * 8)), (95, 95, 92), -1, cv2.LINE_AA, 3)
    cv2.circle(img, _pt(cx + 0.8, cy + 0.8, s), int(round(r * s * 8)), (22, 24, 26), -1, cv2.LINE_AA, 3)


def render_part(look: PartLook, scale: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(h, w, 3) float32 BGR and (h, w) float32 alpha of one bracket at ``scale`` frame px per design px."""
    s = scale
    w, h = int(round(PART_W * s)), int(round(PART_H * s))
    alpha = np.zeros((h, w), np.uint8)
    cv2.rectangle(alpha, (0, 0), (w - 1, h - 1), 255, -1)
    r = int(round(26 * s))
    for cx, cy in ((r, r), (w - 1 - r, r), (r, h - 1 - r), (w - 1 - r, h - 1 - r)):  # rounded corners
        cv2.rectangle(alpha, (cx - r if cx < w / 2 else cx, cy - r if cy < h / 2 else cy),
                      (cx if cx < w / 2 else cx + r, cy if cy < h / 2 else cy + r), 0, -1)  # fmt: skip
        cv2.circle(alpha, (cx, cy), r, 255, -1, cv2.LINE_AA)
    # brushed steel: horizontal streaks and a slow tone change across the part
    streaks = cv2.resize(rng.normal(0, 1, (h, max(2, w // 24))).astype(np.float32), (w, h))
    tone = np.linspace(0.94, 1.04, w, dtype=np.float32)[None, :]
    base = (150.0 + 9.0 * streaks) * tone
    img = np.repeat(base[:, :, None], 3, axis=2) * np.array([1.0, 1.0, 0.96], np.float32)
    img = np.ascontiguousarray(img)
    # edge fold: darker rim, lighter inner line
    cv2.rectangle(
        img, _pt(6, 6, s), _pt(PART_W - 6, PART_H - 6, s), (110, 110, 106), max(1, int(3 * s)), cv2.LINE_AA, 3
    )
    cv2.rectangle(
        img,
        _pt(12, 12, s),
        _pt(PART_W - 12, PART_H - 12, s),
        (178, 178, 172),
        max(1, int(2 * s)),
        cv2.LINE_AA,
        3,
    )
    # flanges: two big holes each, placed differently so the flanges look alike but not the same
    for cx, cy in ((60, 90), (120, 150)):
        _hole(img, cx, cy, 20, s)
    for cx, cy in ((440, 150), (500, 80)):
        _hole(img, cx, cy, 20, s)
    # the middle: stamped ribs and a row of five identical small holes (repeated features)
    for y in (70, 104):
        cv2.rectangle(img, _pt(214, y, s), _pt(356, y + 14, s), (186, 186, 180), -1, cv2.LINE_AA, 3)
        cv2.line(
            img, _pt(214, y + 15, s), _pt(356, y + 15, s), (96, 96, 92), max(1, int(2 * s)), cv2.LINE_AA, 3
        )
    for k in range(5):
        _hole(img, 222 + 31 * k, 150, 9, s)
    # serial label with a barcode that differs on every part
    cv2.rectangle(img, _pt(230, 228, s), _pt(350, 252, s), (232, 236, 236), -1, cv2.LINE_AA, 3)
    for k, bit in enumerate(look.label_bits):
        x = 236 + 4.6 * k
        cv2.rectangle(
            img, _pt(x, 232, s), _pt(x + (2.8 if bit else 1.2), 248, s), (30, 30, 30), -1, cv2.LINE_AA, 3
        )
    # the glue bead: dark, glossy, with a highlight line; a defect leaves a gap
    pts = np.array([(x + dx, y + dy) for (x, y), (dx, dy) in zip(BEAD, look.bead_offsets)], np.float64)
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    fine = np.linspace(0, cum[-1], int(cum[-1] / 2) + 2)
    path = np.stack([np.interp(fine, cum, pts[:, 0]), np.interp(fine, cum, pts[:, 1])], axis=1)
    keep = np.ones(len(path), bool)
    if look.gap_at is not None:
        centre = look.gap_at * cum[-1]
        keep &= np.abs(fine - centre) > 14
    for part in np.split(np.arange(len(path)), np.flatnonzero(np.diff(keep.astype(int)) != 0) + 1):
        if not keep[part[0]] or len(part) < 2:
            continue
        poly = np.round(path[part] * s * 8).astype(np.int32)
        cv2.polylines(img, [poly], False, (48, 56, 60), max(2, int(round(11 * s))), cv2.LINE_AA, 3)
        hi = np.round((path[part] - 2.0) * s * 8).astype(np.int32)
        cv2.polylines(img, [hi], False, (150, 160, 165), max(1, int(round(2 * s))), cv2.LINE_AA, 3)
    a = alpha.astype(np.float32) / 255.0
    return img * a[:, :, None], a


def view_rect(name: str, scale: float) -> tuple[int, int, int, int]:
    """(x, y, w, h) of a view on the part sprite at ``scale``."""
    x, y, w, h = VIEWS[name]
    return int(round(x * scale)), int(round(y * scale)), int(round(w * scale)), int(round(h * scale))
