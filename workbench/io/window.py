"""A view matched only inside its window around home, at its coarse scale.

The window covers match positions within ``R`` px of home along the motion and ``Rp`` across it. Its
region is snapped to the coarse grid, so matching a region cut from the full-resolution frame and then
downscaled gives exactly the values of the same region of the whole frame downscaled: calibration (which
keeps the downscaled frames) and the online tracker see the same scores.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from workbench.core.matching import ViewMatcher, subpixel


def coarse_step(template_w: int, template_h: int) -> int:
    """The integer downscale factor (1, 2, 4, 8, 16) a view is matched at: its coarse template keeps
    12-40 px on its short side (as :class:`~workbench.core.matching.ViewMatcher` chooses its scale)."""
    m = min(template_w, template_h)
    step = 4
    while step > 1 and m / step < 12:
        step //= 2
    while step < 16 and m / step / 2 >= 40:
        step *= 2
    return step


def downscale(gray: np.ndarray, step: int) -> np.ndarray:
    """(H // step, W // step) block means of a grey image (the coarse frame)."""
    if step == 1:
        return gray
    H, W = gray.shape[:2]
    return cv2.resize(
        gray[: H - H % step, : W - W % step], (W // step, H // step), interpolation=cv2.INTER_AREA
    )


class ViewWindow:
    """``match_gray(gray)`` or ``match_small(small)`` -> (coarse score, x, y); x, y full-resolution top-left."""

    def __init__(
        self,
        matcher: ViewMatcher,
        home: tuple[float, float],
        axis: tuple[float, float],
        window: tuple[float, float],
        frame_size: tuple[int, int],
        weights: np.ndarray | None = None,
    ) -> None:
        self.matcher = matcher
        self.name = matcher.name
        self.home = np.asarray(home, np.float64)
        self.axis = np.asarray(axis, np.float64)
        self.perp = np.array([-self.axis[1], self.axis[0]])
        R, Rp = window
        self.window_across = Rp
        W, H = frame_size
        tw, th = matcher.size
        corners = [self.home + a * R * self.axis + b * Rp * self.perp for a in (-1, 1) for b in (-1, 1)]
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        self.step = step = coarse_step(tw, th)
        self.tpl = downscale(matcher.template, step) if step > 1 else matcher.template
        th_, tw_ = matcher.template.shape
        # where the template is the same on every part (a cookie or a serial label differs): full-res weights
        self.weights = (
            None if weights is None else cv2.resize(weights, (tw_, th_), interpolation=cv2.INTER_LINEAR)
        )
        self.coarse_weights = (
            None
            if weights is None
            else cv2.resize(weights, self.tpl.shape[::-1], interpolation=cv2.INTER_AREA)
        )
        x0 = int(math.floor(max(0.0, min(xs)) / step)) * step
        y0 = int(math.floor(max(0.0, min(ys)) / step)) * step
        x1 = min(W - (W % step), int(math.ceil(max(xs))) + tw + step)
        y1 = min(H - (H % step), int(math.ceil(max(ys))) + th + step)
        x1 -= (x1 - x0) % step
        y1 -= (y1 - y0) % step
        self.box = (x0, y0, x1, y1)

    def match_gray(self, gray: np.ndarray) -> tuple[float, float, float]:
        x0, y0, x1, y1 = self.box
        region = gray[y0:y1, x0:x1]
        if self.step > 1:
            size = ((x1 - x0) // self.step, (y1 - y0) // self.step)
            region = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
        return self._match(region)

    def match_small(self, small: np.ndarray) -> tuple[float, float, float]:
        """The same on the whole frame already downscaled by the matcher's scale."""
        x0, y0, x1, y1 = (v // self.step for v in self.box)
        return self._match(small[y0:y1, x0:x1])

    def _match(self, region: np.ndarray, weighted: bool = False) -> tuple[float, float, float]:
        tpl = self.tpl
        if region.shape[0] < tpl.shape[0] or region.shape[1] < tpl.shape[1]:
            return -math.inf, float(self.home[0]), float(self.home[1])
        if weighted and self.coarse_weights is not None:
            res = cv2.matchTemplate(region, tpl, cv2.TM_CCOEFF_NORMED, mask=self.coarse_weights)
        else:
            res = cv2.matchTemplate(region, tpl, cv2.TM_CCOEFF_NORMED)
        if not np.isfinite(res).all():
            res = np.nan_to_num(res, nan=-1.0, posinf=-1.0, neginf=-1.0)
        _, score, _, (cx, cy) = cv2.minMaxLoc(res)
        fx, fy = subpixel(res, cx, cy)
        return float(score), self.box[0] + fx * self.step, self.box[1] + fy * self.step

    def uw(self, x: float, y: float) -> tuple[float, float]:
        """(along, across) px of a match top-left relative to home."""
        rel = np.array([x, y]) - self.home
        return float(rel @ self.axis), float(rel @ self.perp)
