"""Synthetic anomalies for training on normal images only: a Perlin-noise mask filled with a texture or a scrambled copy.

MemSeg (Yang et al. 2023) and DRAEM (Zavrtanik et al. 2021) both learn to segment defects they paste
themselves: a thresholded, rotated Perlin-noise field (restricted to the foreground, here the ROI)
chooses the pixels, and an anomaly source fills them with a transparency ``delta``:
``I_s = (1 - M) * I + M * (delta * A + (1 - delta) * I)``. The source ``A`` is a texture (the papers
use the DTD data set; here generated images from :mod:`procedural`, nothing is downloaded) or the
image itself, photometrically altered and cut into a grid of shuffled cells (MemSeg's structure
anomaly). Everything draws from the ``numpy.random.Generator`` passed in, so a seed fixes it all.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from workbench.core.augment import rotate


def _fade(t: np.ndarray) -> np.ndarray:
    return t * t * t * (t * (t * 6.0 - 15.0) + 10.0)


def perlin_noise(rng: np.random.Generator, size: tuple[int, int], res: tuple[int, int]) -> np.ndarray:
    """(H, W) float32 gradient (Perlin) noise in about [-1, 1] with ``res`` = (rows, cols) lattice cells.

    Works for any size (cells need not divide it): random unit gradients at the lattice corners,
    quintic fade between them.
    """
    h, w = int(size[0]), int(size[1])
    ry, rx = max(1, int(res[0])), max(1, int(res[1]))
    angles = rng.uniform(0.0, 2.0 * np.pi, (ry + 1, rx + 1))
    gy, gx = np.sin(angles), np.cos(angles)
    ys = (np.arange(h) + 0.5) * ry / h
    xs = (np.arange(w) + 0.5) * rx / w
    y0 = np.minimum(ys.astype(np.int64), ry - 1)[:, None]
    x0 = np.minimum(xs.astype(np.int64), rx - 1)[None, :]
    fy, fx = ys[:, None] - y0, xs[None, :] - x0

    def corner(dy: int, dx: int) -> np.ndarray:
        return gy[y0 + dy, x0 + dx] * (fy - dy) + gx[y0 + dy, x0 + dx] * (fx - dx)

    u, v = _fade(fx), _fade(fy)
    top = corner(0, 0) + u * (corner(0, 1) - corner(0, 0))
    bottom = corner(1, 0) + u * (corner(1, 1) - corner(1, 0))
    return (np.sqrt(2.0) * (top + v * (bottom - top))).astype(np.float32)


def perlin_mask(
    rng: np.random.Generator, size: tuple[int, int], min_scale: int, max_scale: int, threshold: float
) -> np.ndarray:
    """(H, W) bool blobs: Perlin noise with 2**k cells per axis (k in [min_scale, max_scale)), rotated, thresholded."""
    lo, hi = int(min_scale), max(int(min_scale) + 1, int(max_scale))
    res = (2 ** int(rng.integers(lo, hi)), 2 ** int(rng.integers(lo, hi)))
    noise = perlin_noise(rng, size, res)
    h, w = noise.shape
    turn = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), float(rng.uniform(-90.0, 90.0)), 1.0)
    noise = cv2.warpAffine(noise, turn, (w, h), flags=cv2.INTER_LINEAR, borderValue=0.0)
    return noise > float(threshold)


# -- structure anomaly source --------------------------------------------------------------------------


def _gamma(rng, img):
    g = rng.uniform(0.5, 2.0, 3)
    return 255.0 * (img / 255.0) ** g


def _brightness(rng, img):
    return img * rng.uniform(0.8, 1.2) + rng.uniform(-30.0, 30.0)


def _hue_saturation(rng, img):
    hsv = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-25, 25)) % 180  # OpenCV hue is 0..179
    hsv[..., 1] = hsv[..., 1] + rng.uniform(-50, 50)
    hsv = np.clip(hsv, 0, [179, 255, 255]).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(np.float32)


def _solarize(rng, img):
    t = rng.uniform(32, 128)
    return np.where(img >= t, 255.0 - img, img)


def _posterize(rng, img):
    step = 2 ** int(rng.integers(3, 7))
    return np.floor(img / step) * step


def _invert(rng, img):
    return 255.0 - img


def _autocontrast(rng, img):
    lo = img.min(axis=(0, 1), keepdims=True)
    hi = img.max(axis=(0, 1), keepdims=True)
    return (img - lo) * 255.0 / np.maximum(hi - lo, 1.0)


def _equalize(rng, img):
    u8 = np.clip(img, 0, 255).astype(np.uint8)
    channels = [cv2.equalizeHist(np.ascontiguousarray(u8[..., c])) for c in range(3)]
    return np.stack(channels, -1).astype(np.float32)


def _rotate(rng, img):
    return rotate(img, float(rng.uniform(-45.0, 45.0)))


AUGMENTATIONS = (
    _gamma, _brightness, _hue_saturation, _solarize, _posterize, _invert, _autocontrast, _equalize, _rotate,
)  # fmt: skip


def shuffle_grid(rng: np.random.Generator, img: np.ndarray, grid: int) -> np.ndarray:
    """(H, W, C) -> the same with its ``grid`` x ``grid`` cells in random order (a remainder stays put)."""
    h, w = img.shape[:2]
    g = max(1, min(int(grid), h, w))
    ch, cw = h // g, w // g
    out = img.copy()
    tiles = img[: g * ch, : g * cw].reshape(g, ch, g, cw, -1).swapaxes(1, 2)  # (g, g, ch, cw, C)
    tiles = tiles.reshape(g * g, ch, cw, -1)[rng.permutation(g * g)].reshape(g, g, ch, cw, -1)
    out[: g * ch, : g * cw] = tiles.swapaxes(1, 2).reshape(g * ch, g * cw, -1)
    return out


def random_augment(rng: np.random.Generator, img: np.ndarray, count: int = 3) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W, 3) uint8 after ``count`` distinct random ``AUGMENTATIONS``."""
    out = img.astype(np.float32)
    for k in rng.choice(len(AUGMENTATIONS), size=int(count), replace=False):
        out = np.clip(AUGMENTATIONS[int(k)](rng, out), 0.0, 255.0)
    return out.astype(np.uint8)


def structure_source(rng: np.random.Generator, img: np.ndarray, grid: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W, 3) uint8: three random photometric/geometric changes, then shuffled grid cells."""
    return shuffle_grid(rng, random_augment(rng, img, 3), grid)


def blend(image: np.ndarray, source: np.ndarray, mask: np.ndarray, transparency: float) -> np.ndarray:
    """(H, W, 3) uint8: ``source`` pasted into ``image`` where ``mask``, at opacity ``transparency``."""
    m = mask.astype(np.float32)[..., None]
    img = image.astype(np.float32)
    pasted = transparency * source.astype(np.float32) + (1.0 - transparency) * img
    return np.clip(np.rint((1.0 - m) * img + m * pasted), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class AnomalySynthesizer:
    """Pastes one synthetic anomaly into an image: ``synth(rng, image, foreground) -> (image, mask)``.

    ``textures``: (T, H, W, 3) uint8 texture sources at the images' size (e.g.
    ``procedural_images``); ``texture_prob``: chance of a texture source rather than a structure
    source (scrambled ``grid`` x ``grid`` cells of the image itself); ``transparency``: (low, high)
    range of the opacity ``delta``; ``min_scale``/``max_scale``/``threshold``: the Perlin mask.
    """

    textures: np.ndarray
    texture_prob: float = 0.5
    grid: int = 8
    transparency: tuple[float, float] = (0.8, 1.0)
    min_scale: int = 3
    max_scale: int = 5
    threshold: float = 0.5
    tries: int = 8

    def mask(self, rng: np.random.Generator, foreground: np.ndarray) -> np.ndarray:
        """(H, W) bool: a Perlin mask inside ``foreground``; redrawn when empty (all False after ``tries``)."""
        m = np.zeros(foreground.shape, bool)
        if not foreground.any():
            return m
        for _ in range(max(1, int(self.tries))):
            m = perlin_mask(rng, foreground.shape, self.min_scale, self.max_scale, self.threshold)
            m &= foreground
            if m.any():
                break
        return m

    def __call__(
        self, rng: np.random.Generator, image: np.ndarray, foreground: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) uint8 image, (H, W) bool foreground -> (H, W, 3) uint8 anomalous image, (H, W) bool mask.

        Pixels outside the mask are returned unchanged, so the mask is exactly the changed region
        (up to pixels the source happens to leave equal).
        """
        if image.shape[:2] != foreground.shape or self.textures.shape[1:3] != image.shape[:2]:
            raise ValueError(
                f"anomaly synthesis: image {image.shape[:2]}, foreground {foreground.shape} and textures "
                f"{self.textures.shape[1:3]} must have the same (H, W)"
            )
        mask = self.mask(rng, foreground)
        if rng.random() < float(self.texture_prob):
            source = self.textures[int(rng.integers(len(self.textures)))]
        else:
            source = structure_source(rng, image, self.grid)
        delta = float(rng.uniform(*self.transparency))
        return blend(image, source, mask, delta), mask
