"""Generic surface defects for stations without a bead: scratch, stain, dent and contamination.

Each ``draw_<type>(image, params, noise, rng)`` edits a float (H, W, C) image around ``params["center"]``
(x, y) with a ``radius`` (px) and returns it with the touched region. Changes are relative to the local
brightness, so they look the same under bright and dim lighting.
"""

from __future__ import annotations

import cv2
import numpy as np

from workbench.synth.appearance import matched_noise, smooth

SURFACE_TYPES = ("scratch", "stain", "dent", "contamination")


def _blob(
    rng: np.random.Generator, shape: tuple[int, int], center, radius: float, rough: float
) -> np.ndarray:
    """(H, W) float32 0..1: an irregular soft blob of about ``radius`` px around ``center``."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot(xx - center[0], yy - center[1]) / max(radius, 1.0)
    n = rng.standard_normal((h, w)).astype(np.float32)
    n = cv2.GaussianBlur(n, (0, 0), max(radius / 3, 1.0))
    n /= n.std() + 1e-6
    return np.clip((1.0 - r + rough * 0.35 * n) * 3.0, 0.0, 1.0)


def draw_scratch(image, p: dict, noise: float, rng: np.random.Generator):
    """A thin curved scratch: a bright groove edge with a dark line beside it."""
    h, w = image.shape[:2]
    c, length = np.array(p["center"], float), float(p["radius"]) * 2
    ang = float(p.get("angle", rng.uniform(0, np.pi)))
    bend = float(p.get("bend", rng.uniform(-0.3, 0.3)))
    t = np.linspace(-0.5, 0.5, 60)
    d = np.array([np.cos(ang), np.sin(ang)])
    nrm = np.array([-d[1], d[0]])
    pts = c + np.outer(t * length, d) + np.outer(bend * length * (0.25 - t**2), nrm)
    line = np.zeros((h, w), np.float32)
    cv2.polylines(
        line,
        [np.round(pts * 4).astype(np.int32)],
        False,
        1.0,
        max(int(round(float(p.get("width", 1.0)))), 1),  # OpenCV's thickness is whole px, not shifted
        cv2.LINE_AA,
        shift=2,
    )
    line = cv2.GaussianBlur(line, (0, 0), 0.6)
    dark = np.roll(line, (1, 1), axis=(0, 1))
    local = smooth(image, 6.0)
    contrast = float(p.get("contrast", 0.45))
    out = (
        image
        + (255.0 - local) * contrast * line[:, :, None]
        - local * contrast * 0.6 * (dark * (1 - line))[:, :, None]
    )
    return out, (line > 0.05) | (dark > 0.05)


def draw_stain(image, p: dict, noise: float, rng: np.random.Generator):
    """A dried liquid stain: a darker, slightly tinted irregular patch with a darker rim."""
    shape = image.shape[:2]
    blob = _blob(rng, shape, p["center"], float(p["radius"]), 1.0)
    rim = np.clip(blob * (1 - blob) * 4, 0, 1) * 0.5
    strength = float(p.get("strength", 0.35))
    tint = np.array(
        p.get("tint", [0.9, 0.97, 1.05])[: image.shape[2]] if image.shape[2] > 1 else [1.0], np.float32
    )
    factor = 1.0 - strength * (0.7 * blob + rim)
    out = image * factor[:, :, None] * (1 + (tint - 1) * blob[:, :, None])
    return out, blob > 0.02


def draw_dent(image, p: dict, noise: float, rng: np.random.Generator):
    """A dent: a shallow pit whose slopes catch and lose the light (shading of a smooth height field)."""
    h, w = image.shape[:2]
    c, radius = p["center"], float(p["radius"])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    height = -np.exp(-((xx - c[0]) ** 2 + (yy - c[1]) ** 2) / (2 * (radius / 2) ** 2))
    gx = cv2.Sobel(height, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(height, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    # light_angle points towards the light (225 deg: up and left in image coordinates, as on the demo
    # station): a slope facing it is brighter, so the pit's near wall is in shade and its far wall lit
    light = float(p.get("light_angle", np.deg2rad(225)))
    depth = float(p.get("depth", 0.5)) * radius
    shade = 1.0 - depth * (gx * np.cos(light) + gy * np.sin(light))
    out = image * np.clip(shade, 0.3, 1.8)[:, :, None]
    return out, np.abs(shade - 1) > 0.01


def draw_contamination(image, p: dict, noise: float, rng: np.random.Generator):
    """Debris on the surface: a few dark specks and fibres with their own grain and a soft shadow."""
    h, w = image.shape[:2]
    c, radius = np.array(p["center"], float), float(p["radius"])
    dirt = np.zeros((h, w), np.float32)
    for _ in range(int(p.get("pieces", 5))):
        q = c + rng.normal(0, radius / 2.5, 2)
        if rng.random() < 0.3:
            e = q + rng.normal(0, radius / 2, 2)
            cv2.line(
                dirt, tuple(np.round(q).astype(int)), tuple(np.round(e).astype(int)), 1.0, 1, cv2.LINE_AA
            )
        else:
            r = max(rng.uniform(0.15, 0.35) * radius, 1.0)
            blob = _blob(rng, (h, w), q, r, 1.2)
            dirt = np.maximum(dirt, blob)
    shadow = cv2.GaussianBlur(np.roll(dirt, (2, 2), axis=(0, 1)), (0, 0), 1.5)
    level = float(p.get("level", 0.25))
    local = smooth(image, 8.0)
    speck = local * level
    out = image * (1 - 0.35 * shadow)[:, :, None]
    out = dirt[:, :, None] * speck + (1 - dirt[:, :, None]) * out
    out = out + matched_noise(rng, (h, w), noise, image.shape[2], dirt)
    return out, (dirt > 0.02) | (shadow > 0.05)


DRAW = {"scratch": draw_scratch, "stain": draw_stain, "dent": draw_dent, "contamination": draw_contamination}
