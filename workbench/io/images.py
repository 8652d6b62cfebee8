"""Image files and folders: read png/jpg/bmp/tiff (8 or 16 bit, grey or colour), write, list.

Images come out as (H, W) uint8 grey or (H, W, 3) uint8 RGB; 16-bit files are scaled to 8 bit.
Files are decoded from bytes so that non-ASCII paths work on every platform.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from workbench.core.image import bgr_to_rgb, rgb_to_bgr, to_uint8
from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


class ImageError(ValueError):
    """An image file that cannot be used (named in the message)."""


@dataclass(frozen=True)
class ImageFile:
    """A decoded image file: pixels plus what the file held (bit depth, channels)."""

    path: str
    image: np.ndarray
    bit_depth: int
    channels: int


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly in ``folder``, sorted by name (a ValueError if the folder is missing)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageError(f"image folder '{folder}' does not exist or is not a folder")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def read_image(path: str | os.PathLike, *, max_value: float | None = None) -> ImageFile:
    """Decode one image file to uint8 grey (H, W) or RGB (H, W, 3); alpha is dropped."""
    path = Path(path)
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as exc:
        raise ImageError(f"cannot read image '{path}': {exc.strerror or exc}") from exc
    raw = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if raw is None:
        raise ImageError(f"image '{path.name}' cannot be decoded (empty, truncated or not an image)")
    bit_depth = raw.dtype.itemsize * 8
    channels = 1 if raw.ndim == 2 else raw.shape[2]
    image = to_uint8(raw, max_value=max_value)
    if image.ndim == 3:
        if image.shape[2] == 1:
            image = image[:, :, 0]
        else:
            image = bgr_to_rgb(image)[:, :, :3]
    return ImageFile(str(path), np.ascontiguousarray(image), bit_depth, channels)


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """(H, W) uint8 0/255 mask from a file (any value >= 128 or any non-zero 0/1 mask counts)."""
    from workbench.core.masks import binarize

    img = read_image(path).image
    return binarize(img)


def encode_image(image: np.ndarray, ext: str, jpeg_quality: int = 95) -> bytes:
    """The bytes of ``image`` (grey or RGB uint8) encoded as ``ext`` ('.png', '.jpg', ...)."""
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if ext.lower() in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(ext, rgb_to_bgr(image), params)
    if not ok:
        raise ImageError(f"cannot encode an image of shape {image.shape} as {ext}")
    return buf.tobytes()


def write_image(path: str | os.PathLike, image: np.ndarray, jpeg_quality: int = 95) -> None:
    """Write grey or RGB uint8 to ``path`` in the format its extension names."""
    path = Path(path)
    path.write_bytes(encode_image(image, path.suffix, jpeg_quality))


def read_folder(
    folder: str | os.PathLike,
    *,
    same_size: bool = True,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> list[ImageFile]:
    """Every image of a folder, decoded, in name order.

    With ``same_size`` (video-like sources) images of different sizes are an error that names the
    first file of each size; datasets pass ``same_size=False``. 16-bit files are scaled by the
    folder's largest value so that all images of the folder share one scale.
    """
    paths = list_images(folder)
    if not paths:
        raise ImageError(f"folder '{folder}' holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    files: list[ImageFile] = []
    for n, p in enumerate(paths):
        cancel.raise_if_cancelled()
        progress(n / len(paths), p.name)
        files.append(read_image(p))
    if any(f.bit_depth == 16 for f in files):
        peak = 0
        for p in paths:
            raw = cv2.imdecode(np.fromfile(p, np.uint8), cv2.IMREAD_UNCHANGED)
            peak = max(peak, int(raw.max()))
        files = [
            read_image(p, max_value=peak or None) if f.bit_depth == 16 else f for p, f in zip(paths, files)
        ]
    if same_size:
        sizes: dict[tuple[int, int], str] = {}
        for f in files:
            sizes.setdefault(f.image.shape[:2], os.path.basename(f.path))
        if len(sizes) > 1:
            found = "; ".join(f"{w}x{h} px (e.g. '{name}')" for (h, w), name in sizes.items())
            raise ImageError(f"images in folder '{folder}' have different sizes: {found}; expected one size")
    progress(1.0, "images read")
    return files


def read_label_image(path: str | os.PathLike) -> np.ndarray:
    """(H, W) uint8 of a label image's values as stored (first channel of a colour file), not scaled
    to 0/255: MVTec LOCO / AutoVI ground truth holds each defect's pixel value."""
    path = Path(path)
    data = np.fromfile(path, np.uint8) if path.is_file() else np.zeros(0, np.uint8)
    raw = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if raw is None:
        raise ImageError(f"ground-truth image '{path.name}' cannot be read or decoded")
    if raw.dtype != np.uint8:
        raise ImageError(f"ground-truth image '{path.name}': expected 8-bit values, found {raw.dtype}")
    return np.ascontiguousarray(raw if raw.ndim == 2 else raw[:, :, 0])
