"""Seeded robustness augmentations on uint8 images: defocus, brightness/contrast, ISO noise,
rotation, Gaussian noise, each applied with its own probability.

Ranges follow the seeds: defocus radius 3-10 px, brightness and contrast +-0.2, ISO noise
(seed 001); rotation +-15 degrees and Gaussian noise (seed 003). Every function takes a
``numpy.random.Generator`` so that a seed reproduces the exact output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np


def defocus(image: np.ndarray, radius: int) -> np.ndarray:
    """The image blurred by a disc (out-of-focus) kernel of ``radius`` px; same shape and dtype."""
    r = max(1, int(radius))
    kernel = np.zeros((2 * r + 1, 2 * r + 1), np.float32)
    cv2.circle(kernel, (r, r), r, 1.0, -1)
    kernel /= kernel.sum()
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT)


def brightness_contrast(image: np.ndarray, brightness: float, contrast: float) -> np.ndarray:
    """uint8 image with ``out = (x - 128) * (1 + contrast) + 128 + 255 * brightness``, clipped."""
    x = image.astype(np.float32)
    out = (x - 128.0) * (1.0 + contrast) + 128.0 + 255.0 * brightness
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def iso_noise(image: np.ndarray, rng: np.random.Generator, intensity: float = 0.3, color_shift: float = 0.03):
    """Camera sensor noise: luminance-dependent Poisson-like noise plus small chroma shifts (uint8)."""
    x = image.astype(np.float32) / 255.0
    # Shot noise grows with the square root of the signal, as on a real sensor at high gain.
    lum_sigma = intensity * 0.1 * np.sqrt(np.clip(x, 1e-3, 1.0))
    x = x + rng.standard_normal(x.shape).astype(np.float32) * lum_sigma
    if x.ndim == 3 and x.shape[2] == 3 and color_shift > 0:
        x = x + rng.normal(0.0, color_shift, size=(1, 1, 3)).astype(np.float32)
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def rotate(image: np.ndarray, degrees: float, *, nearest: bool = False) -> np.ndarray:
    """The image rotated about its centre by ``degrees`` (counter-clockwise), borders reflected."""
    H, W = image.shape[:2]
    m = cv2.getRotationMatrix2D(((W - 1) / 2.0, (H - 1) / 2.0), float(degrees), 1.0)
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    border = cv2.BORDER_CONSTANT if nearest else cv2.BORDER_REFLECT_101
    return cv2.warpAffine(image, m, (W, H), flags=interp, borderMode=border, borderValue=0)


def gaussian_noise(image: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """uint8 image plus zero-mean Gaussian noise of ``sigma`` grey levels, clipped."""
    noisy = image.astype(np.float32) + rng.normal(0.0, sigma, image.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


@dataclass
class Augmenter:
    """A seeded chain of augmentations, each applied with its probability (0 disables it).

    ``augment(image, mask)`` returns (image, mask); geometric steps move the mask too, photometric
    steps leave it alone.
    """

    seed: int = 0
    p_defocus: float = 0.0
    defocus_radius: tuple[int, int] = (3, 10)
    p_brightness_contrast: float = 0.0
    brightness: float = 0.2
    contrast: float = 0.2
    p_iso_noise: float = 0.0
    iso_intensity: tuple[float, float] = (0.1, 0.5)
    p_rotate: float = 0.0
    max_degrees: float = 15.0
    p_gaussian_noise: float = 0.0
    noise_sigma: tuple[float, float] = (2.0, 10.0)
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("p_defocus", "p_brightness_contrast", "p_iso_noise", "p_rotate", "p_gaussian_noise"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], found {p}")
        self._rng = np.random.default_rng(self.seed)

    def augment(self, image: np.ndarray, mask: np.ndarray | None = None):
        rng = self._rng
        if rng.random() < self.p_rotate:
            deg = rng.uniform(-self.max_degrees, self.max_degrees)
            image = rotate(image, deg)
            if mask is not None:
                mask = rotate(mask, deg, nearest=True)
        if rng.random() < self.p_defocus:
            image = defocus(image, int(rng.integers(self.defocus_radius[0], self.defocus_radius[1] + 1)))
        if rng.random() < self.p_brightness_contrast:
            b = rng.uniform(-self.brightness, self.brightness)
            c = rng.uniform(-self.contrast, self.contrast)
            image = brightness_contrast(image, b, c)
        if rng.random() < self.p_iso_noise:
            image = iso_noise(image, rng, intensity=rng.uniform(*self.iso_intensity))
        if rng.random() < self.p_gaussian_noise:
            image = gaussian_noise(image, rng, rng.uniform(*self.noise_sigma))
        return image, mask


# One name per augmentation, its probability parameter on :class:`Augmenter`: the robustness section
# applies each alone with probability 1; training applies the chosen ones each with its probability.
AUGMENTATIONS: dict[str, str] = {
    "defocus": "p_defocus",
    "brightness_contrast": "p_brightness_contrast",
    "iso_noise": "p_iso_noise",
    "rotation": "p_rotate",
    "gaussian_noise": "p_gaussian_noise",
}
LABELS = {
    "defocus": "Defocus",
    "brightness_contrast": "Brightness / contrast",
    "iso_noise": "ISO noise",
    "rotation": "Rotation",
    "gaussian_noise": "Gaussian noise",
}


def augmenter_for(names, p: float = 1.0, seed: int = 0) -> Augmenter:
    """An :class:`Augmenter` applying each named augmentation independently with probability ``p``."""
    names = list(names)
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise ValueError(
            f"augmentation: expected names among {', '.join(AUGMENTATIONS)}, found {', '.join(map(repr, unknown))}"
        )
    if not names:
        raise ValueError("augmentation: name at least one augmentation")
    return Augmenter(seed=int(seed), **{AUGMENTATIONS[n]: float(p) for n in names})


@dataclass(frozen=True)
class TrainAugmentation:
    """Training-time augmentation (seeds 001 and 003): ``copies`` augmented copies of every training
    image join the originals; in each copy every named augmentation applies with probability ``p``
    (seed 003: rotation and Gaussian noise, each with p = 0.5). Seeded, so a run can be reproduced."""

    names: tuple[str, ...]
    p: float = 0.5
    copies: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        augmenter_for(self.names, self.p, self.seed)  # checks names and p
        if int(self.copies) < 1:
            raise ValueError(f"augmentation copies: expected 1 or more, found {self.copies}")

    def apply(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """The originals followed by ``copies`` augmented copies of each, uint8 (H, W[, C]) as given."""
        aug = augmenter_for(self.names, self.p, self.seed)
        out = list(images)
        for _ in range(int(self.copies)):
            out += [aug.augment(img)[0] for img in images]
        return out

    def to_dict(self) -> dict:
        return {
            "names": list(self.names),
            "p": float(self.p),
            "copies": int(self.copies),
            "seed": int(self.seed),
        }

    @classmethod
    def from_dict(cls, d: dict) -> TrainAugmentation:
        return cls(tuple(d["names"]), float(d.get("p", 0.5)), int(d.get("copies", 1)), int(d.get("seed", 0)))
