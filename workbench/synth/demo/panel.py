"""The static scene: a galvanized underbody panel with seams, ribs, holes and bolts, and the empty conveyor.

Images here are float32 BGR in 0..255 at strip (panel) or frame (conveyor) resolution; the same light
direction shades the panel and the beads so highlights and shadows agree.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

from workbench.synth.demo.layout import Layout

LIGHT = np.array([-0.45, -0.55, 0.70]) / np.linalg.norm([-0.45, -0.55, 0.70])  # from the upper left
HALF = (LIGHT + np.array([0.0, 0.0, 1.0])) / np.linalg.norm(LIGHT + np.array([0.0, 0.0, 1.0]))
METAL_BGR = np.array([146.0, 146.0, 140.0], np.float32)

# Stamped ribs (x0, y0, x1, y1), holes (cx, cy, ax, ay) and bolt heads (cx, cy, r) in design strip pixels,
# placed clear of the beads.
RIBS = (
    (20, 150, 150, 172),
    (20, 200, 150, 222),
    (240, 52, 380, 76),
    (300, 180, 440, 200),
    (300, 232, 440, 252),
    (260, 58, 420, 82),
    (580, 180, 720, 200),
    (580, 232, 720, 252),
    (600, 160, 650, 260),
    (885, 215, 940, 330),
    (30, 340, 200, 362),
    (540, 345, 900, 365),
)
HOLES = (
    (90, 250, 18, 12),
    (240, 255, 14, 18),
    (520, 235, 12, 12),
    (620, 82, 22, 14),
    (780, 258, 26, 20),
    (905, 100, 12, 12),
    (230, 370, 16, 10),
)
BOLTS = (
    (40, 60, 7),
    (300, 140, 6),
    (290, 100, 7),
    (660, 100, 7),
    (625, 285, 8),
    (645, 320, 7),
    (870, 110, 7),
    (170, 250, 6),
    (420, 370, 7),
    (740, 370, 7),
)


def shade(height: np.ndarray, albedo: np.ndarray, ambient: float = 0.45, spec: float = 0.12) -> np.ndarray:
    """Lambert + a weak metallic specular of a height field (H, W) float32 -> intensity factor (H, W), flat = albedo."""
    gx = cv2.Sobel(height, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(height, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    norm = np.sqrt(gx * gx + gy * gy + 1.0)
    ndl = (-gx * LIGHT[0] - gy * LIGHT[1] + LIGHT[2]) / norm
    ndh = (-gx * HALF[0] - gy * HALF[1] + HALF[2]) / norm
    # normalised so a flat surface keeps its albedo
    diffuse = ambient + (1.0 - ambient) * np.clip(ndl, 0.0, None) / LIGHT[2]
    return albedo * diffuse + spec * np.clip(ndh, 0.0, 1.0) ** 24


def smooth_noise(
    rng: np.random.Generator, shape: tuple[int, int], sigma: float | tuple[float, float]
) -> np.ndarray:
    """Gaussian-filtered white noise (H, W) float32 normalised to unit standard deviation."""
    n = rng.standard_normal(shape).astype(np.float32)
    sx, sy = (sigma, sigma) if np.isscalar(sigma) else sigma
    n = cv2.GaussianBlur(n, (0, 0), sigmaX=sx, sigmaY=sy)
    return n / (n.std() + 1e-6)


def build_panel(layout: Layout, rng: np.random.Generator) -> np.ndarray:
    """The bare underbody (no sealant) at strip resolution: (strip_h, strip_w, 3) float32 BGR."""
    s, h, w = layout.scale, layout.strip_h, layout.strip_w
    # galvanized spangle: Voronoi cells of slightly different brightness
    seeds = np.ones((h, w), bool)
    count = max(int(h * w / (22 * s) ** 2), 8)
    seeds[rng.integers(0, h, count), rng.integers(0, w, count)] = False
    _, (iy, ix) = ndimage.distance_transform_edt(seeds, return_indices=True)
    cell = rng.normal(0.0, 0.045, (h, w)).astype(np.float32)[iy, ix]
    brushed = smooth_noise(rng, (h, w), (12 * s, 0.6)) * 0.03
    blotch = smooth_noise(rng, (h, w), 40 * s) * 0.05
    grain = smooth_noise(rng, (h, w), 0.7) * 0.025
    albedo = 1.0 + cell + brushed + blotch + grain

    height = np.zeros((h, w), np.float32)
    ribs = np.zeros((h, w), np.float32)
    for x0, y0, x1, y1 in RIBS:
        r = int(round(6 * s))
        cv2.rectangle(ribs, _pt(x0 + 6, y0, s), _pt(x1 - 6, y1, s), 1.0, -1)
        cv2.rectangle(ribs, _pt(x0, y0 + 6, s), _pt(x1, y1 - 6, s), 1.0, -1)
        for cx, cy in ((x0 + 6, y0 + 6), (x1 - 6, y0 + 6), (x0 + 6, y1 - 6), (x1 - 6, y1 - 6)):
            cv2.circle(ribs, _pt(cx, cy, s), r, 1.0, -1)
    height += cv2.GaussianBlur(ribs, (0, 0), 3.0 * s) * 9.0 * s

    holes = np.zeros((h, w), np.float32)
    for cx, cy, ax, ay in HOLES:
        cv2.ellipse(holes, _pt(cx, cy, s), _pt(ax, ay, s), 0, 0, 360, 1.0, -1, cv2.LINE_AA)
    rim = cv2.dilate(holes, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, _odd(7 * s)))
    height += cv2.GaussianBlur(rim, (0, 0), 1.5 * s) * 4.0 * s

    bolts = np.zeros((h, w), np.float32)
    for cx, cy, r in BOLTS:
        c = np.array(_pt(cx, cy, s), np.float64)
        ang = np.linspace(0, 2 * np.pi, 7)[:-1] + rng.uniform(0, np.pi / 3)
        hexagon = (c + r * s * np.stack([np.cos(ang), np.sin(ang)], 1)).astype(np.int32)
        cv2.fillConvexPoly(bolts, hexagon, 1.0, cv2.LINE_AA)
        cv2.circle(height, tuple(int(v) for v in c), int(round((r + 3) * s)), 1.5 * s, -1, cv2.LINE_AA)
    height += cv2.GaussianBlur(bolts, (0, 0), 1.0 * s) * 5.0 * s

    # seams under the beads: the sheet joint shows as a dark gap with a lit edge beside it
    seam_dark = np.zeros((h, w), np.float32)
    seam_edge = np.zeros((h, w), np.float32)
    for bead in layout.beads:
        pts = np.round(bead.points).astype(np.int32)
        cv2.polylines(seam_dark, [pts], False, 1.0, max(int(round(2 * s)), 1), cv2.LINE_AA)
        cv2.polylines(
            seam_edge, [pts + np.int32(round(-3 * s))], False, 1.0, max(int(round(2 * s)), 1), cv2.LINE_AA
        )
    height += cv2.GaussianBlur(seam_edge, (0, 0), 1.0) * 1.5 * s

    albedo = albedo * (1.0 - 0.55 * seam_dark) * (1.0 - 0.15 * bolts)
    intensity = shade(height, albedo, spec=0.10)
    intensity = intensity * (1.0 - 0.94 * holes)  # openings look into the dark car body
    intensity *= _edge_falloff(h, w, s)
    return intensity[:, :, None] * METAL_BGR[None, None, :]


def _edge_falloff(h: int, w: int, s: float) -> np.ndarray:
    """Darker rocker panels along the sides and darker bumpers at the ends: (H, W) float32."""
    yy = np.arange(h, dtype=np.float32)[:, None]
    xx = np.arange(w, dtype=np.float32)[None, :]
    side = np.minimum(yy, h - 1 - yy) / (14 * s)
    end = np.minimum(xx, w - 1 - xx) / (10 * s)
    return (0.45 + 0.55 * np.clip(np.minimum(side, end), 0.0, 1.0)).astype(np.float32)


def build_conveyor(width: int, height: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """The empty conveyor seen from below: dark floor, cross sleepers and two rails, (H, W, 3) float32 BGR."""
    s = scale
    floor = (
        34.0 + 6.0 * smooth_noise(rng, (height, width), 8 * s) + 2.0 * smooth_noise(rng, (height, width), 0.8)
    )
    xx = np.arange(width, dtype=np.float32)[None, :]
    sleepers = (np.mod(xx, 70 * s) < 14 * s).astype(np.float32)
    floor = floor * (1.0 - 0.35 * sleepers)
    img = np.repeat(floor[:, :, None], 3, axis=2) * np.array([1.0, 0.98, 0.95], np.float32)
    for y0, y1 in ((6, 28), (452, 474)):
        a, b = int(round(y0 * s)), int(round(y1 * s))
        profile = np.linspace(0.0, 1.0, max(b - a, 2), dtype=np.float32)
        rail = 90.0 + 70.0 * np.exp(-(((profile - 0.3) / 0.12) ** 2)) - 40.0 * profile
        img[a:b] = rail[: b - a, None, None] * np.array([1.0, 1.0, 0.96], np.float32)
    return img.astype(np.float32)


def _pt(x: float, y: float, s: float) -> tuple[int, int]:
    return int(round(x * s)), int(round(y * s))


def _odd(v: float) -> tuple[int, int]:
    k = max(int(round(v)) | 1, 3)
    return k, k
