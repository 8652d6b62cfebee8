"""Images to a model's working size and maps back: the one image-format conversion and the one resize.

Every model and the line runtime go through these functions, so the line computes what evaluation
measured. An image of any accepted format (grey (H, W) or (H, W, 1), RGB (H, W, 3), RGBA (H, W, 4);
uint8 or uint16) becomes (H, W, 3) uint8 RGB by :func:`to_rgb8`; :func:`to_working` stretches it
(``'stretch'``, the papers' default) or letterboxes it (``'pad'``: aspect kept, nothing cropped, seed
004) to the working size; :func:`maps_to_images` brings working-size maps back to each image's size
with zeros outside the ROI. numpy and OpenCV only: the line package runs without torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

RESIZE_MODES = ("stretch", "pad")


def to_rgb8(image: np.ndarray, what: str = "image") -> np.ndarray:
    """(H, W, 3) uint8 RGB of a grey, RGB or RGBA image in uint8 or uint16 (alpha dropped, 16 bits scaled).

    uint16 values are divided by 257 and rounded, the exact inverse of the usual 8 -> 16 bit
    expansion (v * 257), so an 8-bit image saved as 16 bits comes back unchanged.
    """
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{what}: expected a numpy array; found {type(image).__name__}")
    if image.dtype == np.uint16:
        image = ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif image.dtype == np.bool_:
        image = image.astype(np.uint8) * 255
    elif image.dtype != np.uint8:
        raise ValueError(f"{what}: expected dtype uint8 or uint16; found {image.dtype}")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(
            f"{what}: expected (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA; found shape {image.shape}"
        )
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    if image.shape[2] == 4:
        return np.ascontiguousarray(image[:, :, :3])
    return image


def check_resize_mode(mode: str) -> str:
    if mode not in RESIZE_MODES:
        raise ValueError(f"resize_mode={mode!r}: expected one of {', '.join(RESIZE_MODES)}")
    return mode


def resolve_size(shapes: Sequence[tuple[int, ...]], image_size: Sequence[int] | None) -> tuple[int, int]:
    """(h, w) a model works at: ``image_size`` when given, else the one size the images share."""
    if image_size is not None:
        return int(image_size[0]), int(image_size[1])
    sizes = {tuple(int(v) for v in s[:2]) for s in shapes}
    if len(sizes) > 1:
        raise ValueError(
            f"images have {len(sizes)} different sizes (e.g. {sorted(sizes)[:3]}); pass image_size=(H, W) "
            f"to resize them to one working size"
        )
    return sizes.pop()


def resize(image: np.ndarray, width: int, height: int, *, nearest: bool = False) -> np.ndarray:
    """The image resized to (height, width): area when shrinking, linear when growing, nearest for masks."""
    if nearest:
        interp = cv2.INTER_NEAREST
    elif width < image.shape[1] or height < image.shape[0]:
        interp = cv2.INTER_AREA
    else:
        interp = cv2.INTER_LINEAR
    out = cv2.resize(image, (int(width), int(height)), interpolation=interp)
    if image.ndim == 3 and out.ndim == 2:  # OpenCV drops a single channel axis
        out = out[:, :, None]
    return out


@dataclass(frozen=True)
class Letterbox:
    """How an image was letterboxed: scale factor and padding (left, top) in output pixels."""

    scale: float
    left: int
    top: int
    width: int
    height: int
    source_width: int
    source_height: int

    def to_source(self, out_image: np.ndarray, *, nearest: bool = False) -> np.ndarray:
        """Undo the letterbox on a model-sized array (a map or mask): crop the padding, resize back."""
        w = max(1, round(self.source_width * self.scale))
        h = max(1, round(self.source_height * self.scale))
        inner = out_image[self.top : self.top + h, self.left : self.left + w]
        return resize(inner, self.source_width, self.source_height, nearest=nearest)


def letterbox(
    image: np.ndarray, width: int, height: int, fill: int = 0, *, nearest: bool = False
) -> tuple[np.ndarray, Letterbox]:
    """(height, width[, C]) image scaled to fit with its aspect kept and centred on ``fill`` padding,
    plus the :class:`Letterbox` to map results back."""
    H, W = image.shape[:2]
    scale = min(width / W, height / H)
    w, h = max(1, round(W * scale)), max(1, round(H * scale))
    inner = resize(image, w, h, nearest=nearest)
    left, top = (width - w) // 2, (height - h) // 2
    out = np.full((height, width) + image.shape[2:], fill, dtype=image.dtype)
    out[top : top + h, left : left + w] = inner
    return out, Letterbox(scale, left, top, width, height, W, H)


def to_working(
    image: np.ndarray, size: tuple[int, int], mode: str = "stretch", *, nearest: bool = False
) -> np.ndarray:
    """(h, w[, C]) array of an (H, W[, C]) image at the working ``size``: stretched, or letterboxed on 0."""
    h, w = int(size[0]), int(size[1])
    if mode == "pad":
        return letterbox(image, w, h, 0, nearest=nearest)[0]
    check_resize_mode(mode)
    if image.shape[:2] == (h, w):
        return image
    return resize(image, w, h, nearest=nearest)


def working_batch(images: Sequence[np.ndarray], size: tuple[int, int], mode: str = "stretch") -> np.ndarray:
    """(B, h, w, 3) uint8 working images of images in any accepted format (each at its own size).

    Each image passes :func:`to_rgb8` first (a no-op on uint8 RGB), so whatever reaches a network
    or an exported graph went through the one conversion step.
    """
    out = np.empty((len(images), int(size[0]), int(size[1]), 3), np.uint8)
    for i, img in enumerate(images):
        out[i] = to_working(to_rgb8(img, f"images[{i}]"), size, mode)
    return out


def mask_to_working(mask: np.ndarray, size: tuple[int, int], mode: str = "stretch") -> np.ndarray:
    """(h, w) bool: an (H, W) mask at the working size (nearest; letterbox padding is outside)."""
    return to_working(np.asarray(mask).astype(np.uint8), size, mode, nearest=True) > 0


def resize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: a mask of any size brought to ``shape`` (nearest neighbour)."""
    mask = np.asarray(mask)
    if mask.shape[:2] == tuple(shape[:2]):
        return mask > 0
    return (
        cv2.resize(mask.astype(np.uint8), (int(shape[1]), int(shape[0])), interpolation=cv2.INTER_NEAREST) > 0
    )


def from_working(amap: np.ndarray, shape: tuple[int, int], mode: str = "stretch") -> np.ndarray:
    """(H, W) float32: a working-size (h, w) map brought back to an image of ``shape`` (linear; pad: unboxed)."""
    m = np.asarray(amap, np.float32)
    h, w = int(shape[0]), int(shape[1])
    if m.shape == (h, w):
        return m.copy()
    if mode == "pad":
        _, box = letterbox(np.zeros((h, w), np.uint8), m.shape[1], m.shape[0])
        return box.to_source(m).astype(np.float32, copy=False)
    return cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR)


def maps_to_images(
    maps: np.ndarray, shapes: Sequence[tuple[int, ...]], mode: str = "stretch", roi: np.ndarray | None = None
) -> np.ndarray | list[np.ndarray]:
    """(N, h, w) working-size maps -> (N, H, W) float32 at each image's size, 0 outside ``roi``.

    ``roi`` is the model's ROI at any size (it is brought to each image's size by nearest
    neighbour). Returns one stacked array when every image has the same size, else a list.
    """
    out = []
    for m, shape in zip(maps, shapes):
        back = from_working(m, shape[:2], mode)
        if roi is not None:
            back[~resize_mask(roi, shape[:2])] = 0.0
        out.append(back)
    if len({m.shape for m in out}) == 1:
        return np.stack(out)
    return out
