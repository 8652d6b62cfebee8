"""Helpers shared by the project-store tests (a unique module name: tests are not packages)."""

from __future__ import annotations

import numpy as np


def textured(rng: np.random.Generator, h: int, w: int, channels: int = 3) -> np.ndarray:
    """A uint8 image with smooth structure and noise, so compression behaves as on real crops."""
    yy, xx = np.mgrid[0:h, 0:w]
    base = 128 + 60 * np.sin(xx / rng.uniform(3, 9)) * np.cos(yy / rng.uniform(3, 9))
    img = base[..., None] + rng.normal(0, 12, (h, w, channels))
    img = np.clip(img, 0, 255).astype(np.uint8)
    return img if channels > 1 else img[..., 0]
