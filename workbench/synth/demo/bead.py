"""Glossy sealant beads drawn onto the panel: a rounded ridge with a highlight line and a soft cast shadow.

A bead is a centreline with a width per point (:class:`Stroke`). The ridge profile comes from the exact
distance to the nearest centreline pixel, so junctions, branches and round bead ends fall out naturally.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import ndimage

from workbench.synth.demo.panel import HALF, LIGHT

BEAD_BGR = np.array([168.0, 196.0, 212.0], np.float32)  # light beige sealant
DARK_VOID = 28.0
RIDGE = 0.8  # bead height / half-width: a flattened round profile


@dataclass
class Stroke:
    """One bead centreline: points (N, 2) strip px about 1 px apart, full widths (N,) px, the bead it came from."""

    points: np.ndarray
    widths: np.ndarray
    bead_id: int
    arclength: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        if len(self.arclength) != len(self.points):
            seg = np.hypot(*np.diff(self.points, axis=0).T) if len(self.points) > 1 else np.zeros(0)
            self.arclength = np.concatenate([[0.0], np.cumsum(seg)])

    def normals(self) -> np.ndarray:
        """Unit normals (N, 2) to the left of the direction of travel."""
        t = np.gradient(self.points, axis=0)
        t /= np.maximum(np.hypot(t[:, 0], t[:, 1]), 1e-9)[:, None]
        return np.stack([t[:, 1], -t[:, 0]], axis=1)


@dataclass(frozen=True)
class Void:
    """A hole in a bead: an ellipse (centre x, y, semi-axes a along, b across, angle in degrees)."""

    center: tuple[float, float]
    axes: tuple[float, float]
    angle: float


def _centreline_raster(
    shape: tuple[int, int], strokes: list[Stroke]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centreline pixels (False), their widths and their exact sub-pixel points (H, W, 2)."""
    h, w = shape
    free = np.ones((h, w), bool)
    widths = np.zeros((h, w), np.float32)
    exact = np.zeros((h, w, 2), np.float32)
    for st in strokes:
        ix = np.round(st.points[:, 0]).astype(np.int64)
        iy = np.round(st.points[:, 1]).astype(np.int64)
        ok = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        free[iy[ok], ix[ok]] = False
        widths[iy[ok], ix[ok]] = st.widths[ok]
        exact[iy[ok], ix[ok]] = st.points[ok]
    return free, widths, exact


def render_strip(
    panel: np.ndarray, strokes: list[Stroke], voids: tuple[Void, ...] = (), texture: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The underbody with its beads: (strip BGR uint8 (H, W, 3), bead coverage (H, W) float32 in 0..1)."""
    h, w = panel.shape[:2]
    free, width_img, exact = _centreline_raster((h, w), strokes)
    if free.all():
        return np.clip(panel + 0.5, 0, 255).astype(np.uint8), np.zeros((h, w), np.float32)
    _, (ny, nx) = ndimage.distance_transform_edt(free, return_indices=True)
    # distance to the exact curve point held by the nearest centreline pixel: no staircase ripples
    near = exact[ny, nx]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = np.hypot(xx - near[:, :, 0], yy - near[:, :, 1])
    half = width_img[ny, nx] * 0.5
    alpha = np.clip(half - dist + 0.5, 0.0, 1.0)

    # ridge height: a flattened half-ellipse across the bead; smoothed a little so the staircase of the
    # rasterised centreline does not show up as ripples in the highlight
    t = np.clip(dist / np.maximum(half, 1e-3), 0.0, 1.0)
    ridge = RIDGE * half * np.sqrt(1.0 - t * t)
    ridge = cv2.GaussianBlur(ridge, (0, 0), 1.1)
    gx = cv2.Sobel(ridge, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(ridge, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    norm = np.sqrt(gx * gx + gy * gy + 1.0)
    ndl = np.clip((-gx * LIGHT[0] - gy * LIGHT[1] + LIGHT[2]) / norm, 0.0, None)
    ndh = np.clip((-gx * HALF[0] - gy * HALF[1] + HALF[2]) / norm, 0.0, 1.0)
    diffuse = 0.42 + 0.58 * ndl / LIGHT[2]
    if texture is not None:
        diffuse = diffuse * texture
    gloss = 235.0 * ndh**90 + 45.0 * ndh**10
    bead = diffuse[:, :, None] * BEAD_BGR + gloss[:, :, None]

    # soft shadow cast away from the light, offset by the bead's height
    height = RIDGE * float(np.median(width_img[~free])) * 0.5
    shift = np.float32([[1, 0, -LIGHT[0] / LIGHT[2] * height], [0, 1, -LIGHT[1] / LIGHT[2] * height]])
    shadow = cv2.warpAffine(alpha, shift, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    shadow = cv2.GaussianBlur(shadow, (0, 0), max(height * 0.45, 0.8))
    ground = panel * (1.0 - 0.55 * shadow)[:, :, None]
    out = ground * (1.0 - alpha)[:, :, None] + bead * alpha[:, :, None]
    if voids:
        out = _punch_voids(out, voids)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), alpha


def _punch_voids(img: np.ndarray, voids: tuple[Void, ...]) -> np.ndarray:
    """Dark openings with a lit rim where the sealant stream broke off."""
    h, w = img.shape[:2]
    hole = np.zeros((h, w), np.float32)
    for v in voids:
        c = (int(round(v.center[0] * 16)), int(round(v.center[1] * 16)))
        ax = (int(round(v.axes[0] * 16)), int(round(v.axes[1] * 16)))
        cv2.ellipse(hole, c, ax, v.angle, 0, 360, 1.0, -1, cv2.LINE_AA, shift=4)
    spread = cv2.GaussianBlur(hole, (0, 0), 1.4)
    rim = np.clip(spread * 1.8 - hole, 0.0, 1.0)
    # the crater's wall facing the light is lit, the other side lies in its own shadow
    lit = cv2.warpAffine(hole, np.float32([[1, 0, 2.0], [0, 1, 2.0]]), (w, h))
    wall = np.clip(hole - lit, 0.0, 1.0)
    depth = cv2.GaussianBlur(hole, (0, 0), 2.0)
    out = img + (rim * 45.0)[:, :, None]
    floor = DARK_VOID + 40.0 * (1.0 - depth) + 70.0 * wall
    return out * (1.0 - hole)[:, :, None] + (floor * hole)[:, :, None]


def zone_labels(shape: tuple[int, int], strokes: list[Stroke], labels: list[np.ndarray]) -> np.ndarray:
    """Each pixel labelled with the zone of the nearest centreline point: (H, W) uint8 (a full partition)."""
    h, w = shape
    free = np.ones((h, w), bool)
    lab = np.zeros((h, w), np.uint8)
    # earlier beads win shared pixels: a branch that starts on a main run must not claim the junction
    for st, zl in reversed(list(zip(strokes, labels, strict=True))):
        ix = np.round(st.points[:, 0]).astype(np.int64)
        iy = np.round(st.points[:, 1]).astype(np.int64)
        ok = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        free[iy[ok], ix[ok]] = False
        lab[iy[ok], ix[ok]] = zl[ok]
    _, (ny, nx) = ndimage.distance_transform_edt(free, return_indices=True)
    return lab[ny, nx]
