"""Local appearance of a sample: sensor noise level, matched noise for synthesized pixels, light side of a bead.

Synthesized pixels come from resampling (bilinear interpolation averages neighbours) or are drawn from
scratch; both would look smoother than the camera's pixels. Adding zero-mean noise with the variance the
interpolation removed keeps the edited region's grain equal to its surroundings.
"""

from __future__ import annotations

import cv2
import numpy as np

# Immerkaer's noise operator: zero on planes and ramps, standard deviation 6 sigma on white noise
_LAPLACE2 = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def as_float(image: np.ndarray) -> np.ndarray:
    """(H, W, C) float32 copy of a grey (H, W) or colour (H, W, C) uint8 image."""
    f = image.astype(np.float32)
    return f[:, :, None] if f.ndim == 2 else f


def to_uint8(image: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Round a float (H, W, C) image back to uint8 with the layout of ``like``."""
    out = np.clip(image + 0.5, 0, 255).astype(np.uint8)
    return out[:, :, 0] if like.ndim == 2 else out


def noise_sigma(image: np.ndarray, mask: np.ndarray | None = None) -> float:
    """The sensor noise standard deviation (grey levels) of a float (H, W[, C]) image, robust to texture."""
    g = image.mean(axis=2) if image.ndim == 3 else image
    r = np.abs(cv2.filter2D(g.astype(np.float32), -1, _LAPLACE2, borderType=cv2.BORDER_REFLECT))[1:-1, 1:-1]
    if mask is not None:
        r = r[mask[1:-1, 1:-1]]
    if r.size < 20:
        return 2.0
    # the median ignores edges and texture better than the mean; 1.4826 turns a MAD into a sigma
    return float(max(1.4826 * np.median(r) / 6.0, 0.5))


def bilinear_retained(map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """(H, W) share of white-noise variance that bilinear sampling at these positions keeps (0.25..1)."""
    fx = map_x - np.floor(map_x)
    fy = map_y - np.floor(map_y)
    return ((1 - fx) ** 2 + fx**2) * ((1 - fy) ** 2 + fy**2)


def matched_noise(
    rng: np.random.Generator, shape: tuple[int, int], sigma: float, channels: int, missing: np.ndarray
) -> np.ndarray:
    """(H, W, C) noise whose per-pixel variance is ``sigma**2 * missing`` (missing in 0..1), grey-correlated.

    Camera noise is mostly common to the colour channels (demosaicing, compression), so one grey field is
    shared by all channels plus a small independent part.
    """
    common = rng.standard_normal(shape).astype(np.float32)
    own = rng.standard_normal((*shape, channels)).astype(np.float32)
    field = 0.9 * common[:, :, None] + 0.436 * own  # unit variance
    return field * (sigma * np.sqrt(np.clip(missing, 0.0, 1.0)))[:, :, None]


def remap(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """Bilinear samples (h, w, C) float32 of a float image (H, W, C) at positions (h, w); borders reflect."""
    out = cv2.remap(
        image,
        map_x.astype(np.float32),
        map_y.astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )
    return out[:, :, None] if out.ndim == 2 else out


def smooth(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of an (H, W, C) float image keeping its shape."""
    out = cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return out[:, :, None] if out.ndim == 2 else out


def grey_of(image: np.ndarray) -> np.ndarray:
    """(H, W) mean over channels of an (H, W, C) float image."""
    return image.mean(axis=2)
