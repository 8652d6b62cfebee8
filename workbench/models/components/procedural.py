"""Generated natural-looking images (fractal noise, shapes, gradients, stripes, photo crops), seeded.

They stand in for ImageNet where the workbench cannot reach it: distilling EfficientAD's teacher
from EfficientNet-Lite0 features, and EfficientAD's penalty term that keeps the student from
imitating the teacher outside the normal data.
"""

from __future__ import annotations

import cv2
import numpy as np

KINDS = ("fractal", "shapes", "gradient", "stripes", "photo")


def fractal_noise(rng: np.random.Generator, size: tuple[int, int], octaves: int = 5) -> np.ndarray:
    """(H, W) float32 in [0, 1]: a sum of upsampled random grids with 1/f amplitudes (Perlin-like)."""
    h, w = size
    out = np.zeros((h, w), np.float32)
    base = int(rng.integers(2, 6))
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = base * 2**o
        grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= float(rng.uniform(0.35, 0.65))
    out /= total
    lo, hi = out.min(), out.max()
    return (out - lo) / max(hi - lo, 1e-6)


def _colourize(rng: np.random.Generator, field: np.ndarray) -> np.ndarray:
    """(H, W) [0, 1] -> (H, W, 3) uint8 through a random two- or three-colour ramp."""
    stops = rng.integers(0, 256, size=(int(rng.integers(2, 4)), 3)).astype(np.float32)
    pos = np.linspace(0, 1, len(stops))
    img = np.stack([np.interp(field, pos, stops[:, c]) for c in range(3)], axis=-1)
    return np.clip(img, 0, 255).astype(np.uint8)


def _shapes(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    img = _colourize(rng, fractal_noise(rng, size, 3))
    for _ in range(int(rng.integers(3, 15))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = rng.integers(4)
        thick = int(rng.choice([-1, 1, 2, 4]))
        if kind == 0:
            centre = (int(rng.integers(w)), int(rng.integers(h)))
            cv2.circle(img, centre, int(rng.integers(2, max(3, min(h, w) // 3))), colour, thick, cv2.LINE_AA)
        elif kind == 1:
            p = rng.integers(0, [w, h, w, h])
            cv2.rectangle(img, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), colour, thick)
        elif kind == 2:
            p = rng.integers(0, [w, h, w, h])
            cv2.line(
                img, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), colour, max(1, abs(thick)), cv2.LINE_AA
            )
        else:
            pts = np.stack([rng.integers(0, w, 5), rng.integers(0, h, 5)], 1).astype(np.int32)
            cv2.fillPoly(img, [pts], colour, cv2.LINE_AA)
    return img


def _gradient(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = float(rng.uniform(0, 2 * np.pi))
    field = np.cos(a) * xx / w + np.sin(a) * yy / h
    field = (field - field.min()) / max(float(np.ptp(field)), 1e-6)
    field = 0.8 * field + 0.2 * fractal_noise(rng, size, 4)
    return _colourize(rng, field)


def _stripes(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = float(rng.uniform(0, np.pi))
    period = float(rng.uniform(3, max(4, min(h, w) / 3)))
    phase = (np.cos(a) * xx + np.sin(a) * yy) * 2 * np.pi / period
    field = 0.5 + 0.5 * np.sin(phase + 3 * fractal_noise(rng, size, 3))
    if rng.random() < 0.5:
        field = (field > 0.5).astype(np.float32)
    return _colourize(rng, field)


def _photo(rng: np.random.Generator, size: tuple[int, int], photos: list[np.ndarray]) -> np.ndarray:
    h, w = size
    src = photos[int(rng.integers(len(photos)))]
    scale = float(rng.uniform(0.15, 1.0))
    ch, cw = max(8, int(src.shape[0] * scale)), max(8, int(src.shape[1] * scale * rng.uniform(0.7, 1.3)))
    ch, cw = min(ch, src.shape[0]), min(cw, src.shape[1])
    y, x = int(rng.integers(0, src.shape[0] - ch + 1)), int(rng.integers(0, src.shape[1] - cw + 1))
    crop = src[y : y + ch, x : x + cw]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return cv2.resize(np.ascontiguousarray(crop), (w, h), interpolation=cv2.INTER_AREA)


def sample_photos() -> list[np.ndarray]:
    """scikit-learn's two bundled photos ((427, 640, 3) uint8 RGB), or [] when scikit-learn is absent."""
    try:
        from sklearn.datasets import load_sample_image
    except ImportError:
        return []
    return [load_sample_image(name) for name in ("china.jpg", "flower.jpg")]


def procedural_images(
    n: int, size: tuple[int, int], seed: int = 0, photos: list[np.ndarray] | None = None
) -> np.ndarray:
    """(n, H, W, 3) uint8 RGB generated images, the same for the same seed; ``photos`` adds crops of them."""
    rng = np.random.default_rng(seed)
    kinds = KINDS if photos else KINDS[:-1]
    out = np.empty((n, size[0], size[1], 3), np.uint8)
    for i in range(n):
        kind = kinds[int(rng.integers(len(kinds)))]
        if kind == "fractal":
            img = _colourize(rng, fractal_noise(rng, size, int(rng.integers(3, 7))))
        elif kind == "shapes":
            img = _shapes(rng, size)
        elif kind == "gradient":
            img = _gradient(rng, size)
        elif kind == "stripes":
            img = _stripes(rng, size)
        else:
            img = _photo(rng, size, photos or [])
        if rng.random() < 0.3:  # blur some: real images are rarely sharp everywhere
            img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.5, 2.0)))
        out[i] = img
    return out
