"""The fixed camera under the conveyor: barrel lens, vignetting, lighting per pass and sensor noise.

The lens and the vignetting are fixed in the frame while the part moves, so a view looks slightly different
at every position and template matching peaks where the template was cut (the reference position).
Per frame the work is one ``cv2.remap`` of the pre-rendered underbody strip over the pre-warped conveyor,
one multiply by the lighting map and one add of a slice of a precomputed noise bank.
"""

from __future__ import annotations

import cv2
import numpy as np

LENS_K1 = (
    0.07  # barrel distortion: scene radius = frame radius * (1 + k1 r^2), r relative to the half-diagonal
)
VIGNETTE = 0.55  # illumination fall-off: gain = 1 / (1 + a r^2)^2, about 0.4 in the corners
NOISE_SIGMA = 3.0  # grey levels
_NOISE_PAD = 64


class Camera:
    """Renders frames of ``width`` x ``height`` from a strip at a given scene position."""

    def __init__(self, width: int, height: int, rng: np.random.Generator) -> None:
        self.width, self.height = width, height
        cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
        u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
        rr = ((u - cx) ** 2 + (v - cy) ** 2) / (cx**2 + cy**2)
        factor = 1.0 + LENS_K1 * rr
        self.map_x = (cx + (u - cx) * factor).astype(np.float32)
        self.map_y = (cy + (v - cy) * factor).astype(np.float32)
        self.vignette = (1.0 / (1.0 + VIGNETTE * rr) ** 2).astype(np.float32)
        self.scene_x_range = (float(self.map_x.min()), float(self.map_x.max()))
        noise = rng.normal(128.0, NOISE_SIGMA, (height + _NOISE_PAD, width + _NOISE_PAD, 3))
        self._noise = np.clip(np.round(noise), 0, 255).astype(np.uint8)
        self._background: np.ndarray | None = None

    def visible_x_range(self, top: float, bottom: float) -> tuple[float, float]:
        """Scene x extent seen by pixels whose scene row lies in [top, bottom] (where the part can be)."""
        rows = (self.map_y >= top) & (self.map_y <= bottom)
        xs = self.map_x[rows]
        return float(xs.min()), float(xs.max())

    def set_background(self, scene: np.ndarray) -> None:
        """The static conveyor, (H, W, 3) float32 BGR in scene coordinates; warped once through the lens."""
        img = np.clip(scene + 0.5, 0, 255).astype(np.uint8)
        self._background = cv2.remap(
            img, self.map_x, self.map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )

    def lighting(self, gain: float, gradient: float) -> np.ndarray:
        """The frame's gain map for one pass, (H, W, 3) uint8 where 128 means 1.0.

        The gradient runs across the conveyor (vertically) only: a gradient along the direction of travel
        would move the template match peak away from the reference position.
        """
        rows = np.linspace(-0.5, 0.5, self.height, dtype=np.float32)[:, None]
        g = self.vignette * gain * (1.0 + gradient * rows)
        g8 = np.clip(np.round(g * 128.0), 0, 255).astype(np.uint8)
        return np.repeat(g8[:, :, None], 3, axis=2)

    def part_visible(self, front_x: float, strip_w: int) -> bool:
        lo, hi = self.scene_x_range
        return front_x < hi and front_x + strip_w > lo

    def frame(
        self,
        strip: np.ndarray | None,
        front_x: float,
        top_y: float,
        light: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """One frame (H, W, 3) uint8 with the strip's top-left at scene (front_x, top_y); None = empty conveyor."""
        assert self._background is not None, "set_background first"
        out = self._background.copy()
        if strip is not None and self.part_visible(front_x, strip.shape[1]):
            mx = self.map_x - np.float32(front_x)
            my = self.map_y - np.float32(top_y)
            cv2.remap(strip, mx, my, cv2.INTER_LINEAR, dst=out, borderMode=cv2.BORDER_TRANSPARENT)
        cv2.multiply(out, light, dst=out, scale=1.0 / 128.0)
        oy, ox = rng.integers(0, _NOISE_PAD, 2)
        noise = self._noise[oy : oy + self.height, ox : ox + self.width]
        cv2.addWeighted(out, 1.0, noise, 1.0, -128.0, dst=out)
        return out

    def warp(self, image: np.ndarray, front_x: float, top_y: float, nearest: bool = False) -> np.ndarray:
        """A strip-aligned image (mask, labels) seen by the camera at this position; zero outside the strip."""
        mx = self.map_x - np.float32(front_x)
        my = self.map_y - np.float32(top_y)
        interp = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
        return cv2.remap(image, mx, my, interp, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
