"""Template matching of views on frames: normalized cross-correlation, coarse-to-fine.

A view's template is matched with OpenCV's TM_CCOEFF_NORMED (seed 000). To keep up with video,
:class:`ViewMatcher` first matches a downscaled template on a downscaled frame (default 1/4) and
then refines at full resolution in a small window around the coarse peak; the refined score is
the full-resolution NCC at the refined position, so thresholds mean the same as plain matching.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from workbench.core.image import check_image, to_gray, to_uint8


@dataclass(frozen=True)
class Match:
    """A template position: NCC ``score`` in [-1, 1] and the match's top-left (x, y) in frame pixels."""

    score: float
    x: int
    y: int


NO_MATCH = Match(float("-inf"), 0, 0)


def _peak(result: np.ndarray) -> tuple[float, int, int]:
    # Flat image windows give NaN/inf in CCOEFF_NORMED; they carry no evidence of a match.
    if not np.isfinite(result).all():
        result = np.nan_to_num(result, nan=-1.0, posinf=-1.0, neginf=-1.0)
    _, score, _, (x, y) = cv2.minMaxLoc(result)
    return float(min(score, 1.0)), int(x), int(y)


def match_template(gray: np.ndarray, template: np.ndarray) -> Match:
    """The best full-resolution NCC match of a (h, w) uint8 template on an (H, W) uint8 grey image."""
    th, tw = template.shape[:2]
    if th > gray.shape[0] or tw > gray.shape[1]:
        raise ValueError(
            f"template of {tw}x{th} px does not fit in an image of {gray.shape[1]}x{gray.shape[0]} px"
        )
    score, x, y = _peak(cv2.matchTemplate(gray, template, cv2.TM_CCOEFF_NORMED))
    return Match(score, x, y)


def prepare_template(template: np.ndarray, name: str = "template") -> np.ndarray:
    """(h, w) uint8 grey template from any image; a ValueError if it is flat (NCC is undefined)."""
    check_image(template, f"template of view '{name}'")
    gray = np.ascontiguousarray(to_gray(to_uint8(template)))
    if gray.shape[0] < 4 or gray.shape[1] < 4:
        raise ValueError(
            f"template of view '{name}' must be at least 4x4 px, found {gray.shape[1]}x{gray.shape[0]}"
        )
    if float(gray.std()) < 1.0:
        raise ValueError(f"template of view '{name}' is flat (one grey level); it cannot be matched")
    return gray


def cut_template(frame: np.ndarray, x: int, y: int, w: int, h: int) -> np.ndarray:
    """The template patch (h, w[, 3]) cut from a frame rectangle; a ValueError if it leaves the frame."""
    H, W = frame.shape[:2]
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > W or y + h > H:
        raise ValueError(f"template rectangle x={x} y={y} w={w} h={h} is not inside the {W}x{H} frame")
    return frame[y : y + h, x : x + w].copy()


class ViewMatcher:
    """Coarse-to-fine NCC matcher of one view's template.

    ``scale`` is the coarse scale (1/4 by default); it grows automatically for small templates so
    the coarse template keeps at least ``min_coarse`` pixels per side, and halves (down to 1/16)
    for large templates while the coarse template keeps at least ``2 * max_coarse`` pixels per
    side, because coarse cost grows with template area. ``radius`` is the full-resolution search
    radius around the coarse peak (default: two coarse pixels plus one).
    """

    def __init__(
        self,
        name: str,
        template: np.ndarray,
        threshold: float = 0.6,
        scale: float = 0.25,
        radius: int | None = None,
        min_coarse: int = 12,
        max_coarse: int = 40,
    ) -> None:
        self.name = name
        self.template = prepare_template(template, name)
        self.threshold = float(threshold)
        th, tw = self.template.shape
        scale = min(1.0, max(scale, min_coarse / min(th, tw)))
        while scale > 1 / 16 and min(th, tw) * scale / 2 >= max_coarse:
            scale /= 2
        self.scale = scale
        self.radius = int(radius) if radius is not None else int(math.ceil(2.0 / scale)) + 1
        cw, ch = max(1, round(tw * scale)), max(1, round(th * scale))
        self.coarse_template = cv2.resize(self.template, (cw, ch), interpolation=cv2.INTER_AREA)
        self._flat_coarse = float(self.coarse_template.std()) < 1.0

    @property
    def size(self) -> tuple[int, int]:
        """Template (width, height) in frame pixels."""
        return self.template.shape[1], self.template.shape[0]

    def check_frame(self, width: int, height: int, where: str = "the frames") -> None:
        """Raise a ValueError when the template does not fit in frames of (width, height)."""
        tw, th = self.size
        if tw > width or th > height:
            raise ValueError(
                f"template of view '{self.name}' is {tw}x{th} px, larger than {where} ({width}x{height} px)"
            )

    def coarse(self, small: np.ndarray) -> Match:
        """Coarse match on a frame downscaled by ``self.scale``; position in full-resolution pixels."""
        if self.scale >= 1.0 or self._flat_coarse:
            return Match(float("nan"), 0, 0)
        ch, cw = self.coarse_template.shape
        if ch > small.shape[0] or cw > small.shape[1]:
            return NO_MATCH
        score, x, y = _peak(cv2.matchTemplate(small, self.coarse_template, cv2.TM_CCOEFF_NORMED))
        return Match(score, int(round(x / self.scale)), int(round(y / self.scale)))

    def refine(self, gray: np.ndarray, near: Match | None) -> Match:
        """Full-resolution match within ``radius`` of ``near`` (or over the whole frame if None)."""
        if near is None or not math.isfinite(near.score):
            return match_template(gray, self.template)
        th, tw = self.template.shape
        H, W = gray.shape
        r = self.radius
        x0, y0 = max(0, near.x - r), max(0, near.y - r)
        x1, y1 = min(W, near.x + r + tw), min(H, near.y + r + th)
        if x1 - x0 < tw or y1 - y0 < th:
            return match_template(gray, self.template)
        score, x, y = _peak(cv2.matchTemplate(gray[y0:y1, x0:x1], self.template, cv2.TM_CCOEFF_NORMED))
        return Match(score, x0 + x, y0 + y)

    def match(self, frame: FramePyramid) -> Match:
        """Coarse-to-fine match on one prepared frame (coarse, then refine around the peak)."""
        return self.refine(frame.gray, self.coarse(frame.small(self.scale)))


class FramePyramid:
    """A frame's full-resolution grey (H, W) uint8 plus cached downscaled versions per scale."""

    def __init__(self, frame: np.ndarray) -> None:
        self.gray = np.ascontiguousarray(to_gray(to_uint8(frame)))
        self._small: dict[float, np.ndarray] = {}

    def small(self, scale: float) -> np.ndarray:
        if scale >= 1.0:
            return self.gray
        if scale not in self._small:
            H, W = self.gray.shape
            size = (max(1, round(W * scale)), max(1, round(H * scale)))
            self._small[scale] = cv2.resize(self.gray, size, interpolation=cv2.INTER_AREA)
        return self._small[scale]


def crop_origin(match: Match, crop_x: int, crop_y: int) -> tuple[int, int]:
    """Top-left (x, y) in frame pixels of a crop window placed at (crop_x, crop_y) from the match."""
    return match.x + crop_x, match.y + crop_y


def default_window(
    template_w: int, template_h: int, frame_w: int, frame_h: int, margin: int = 16
) -> tuple[int, int, int, int]:
    """(x, y, w, h) relative to the match: the template grown by ``margin`` on each side, clipped
    so that the window is never larger than the frame."""
    w = min(template_w + 2 * margin, frame_w)
    h = min(template_h + 2 * margin, frame_h)
    return -((w - template_w) // 2), -((h - template_h) // 2), w, h


def subpixel(result: np.ndarray, x: int, y: int) -> tuple[float, float]:
    """(x, y) of a peak of a score map refined by a parabola through its neighbours in each direction."""

    def offset(a: float, b: float, c: float) -> float:
        den = a - 2 * b + c  # plain Python checks: this runs for every peak of every frame
        return 0.0 if not math.isfinite(den) or den >= 0 else float(min(max(0.5 * (a - c) / den, -0.5), 0.5))

    h, w = result.shape
    dx = offset(result[y, x - 1], result[y, x], result[y, x + 1]) if 0 < x < w - 1 else 0.0
    dy = offset(result[y - 1, x], result[y, x], result[y + 1, x]) if 0 < y < h - 1 else 0.0
    return x + dx, y + dy


def local_peaks(result: np.ndarray, k: int, radius: int) -> np.ndarray:
    """(k, 3) float32 rows (score, x, y) of the ``k`` best local maxima of a score map, at least ``radius``
    apart, best first, sub-pixel positions; rows of (-inf, 0, 0) when there are fewer."""
    out = np.zeros((k, 3), np.float32)
    out[:, 0] = -np.inf
    r = np.nan_to_num(result, nan=-1.0, posinf=-1.0, neginf=-1.0) if not np.isfinite(result).all() else result
    if r.size == 0:
        return out
    size = 2 * max(int(radius), 1) + 1
    dil = cv2.dilate(r, cv2.getStructuringElement(cv2.MORPH_RECT, (size, size)))
    ys, xs = np.nonzero((r >= dil) & (r > -1.0))
    if len(xs) == 0:
        return out
    scores = r[ys, xs]
    order = np.argsort(-scores, kind="stable")
    taken: list[tuple[int, int]] = []
    for i in order:
        x, y = int(xs[i]), int(ys[i])
        if any(abs(x - a) < radius and abs(y - b) < radius for a, b in taken):
            continue  # a plateau of equal maxima counts once
        sx, sy = subpixel(r, x, y)
        out[len(taken)] = (scores[i], sx, sy)
        taken.append((x, y))
        if len(taken) == k:
            break
    return out


def peak_centre(result: np.ndarray, fraction: float = 0.25) -> tuple[float, float, float]:
    """(best score, x, y) of a score map, the position being the centre of the peak's top: the weighted
    centroid of the connected region within ``fraction`` of (best - median) below the best. Motion blur
    flattens (and can split) the top of a correlation peak; its centre stays where the part is."""
    r = np.nan_to_num(result, nan=-1.0, posinf=-1.0, neginf=-1.0) if not np.isfinite(result).all() else result
    _, best, _, (bx, by) = cv2.minMaxLoc(r)
    level = best - fraction * (best - float(np.median(r)))
    mask = (r >= level).astype(np.uint8)
    _, labels = cv2.connectedComponents(mask, connectivity=8)
    sel = labels == labels[by, bx]
    ys, xs = np.nonzero(sel)
    wts = r[ys, xs] - level + 1e-6
    return float(best), float((xs * wts).sum() / wts.sum()), float((ys * wts).sum() / wts.sum())
