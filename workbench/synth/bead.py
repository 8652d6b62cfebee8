"""The bead model of a view: centrelines with a width along them, found on a normal sample or drawn by hand.

A bead is a bright, glossy ridge. :func:`find_bead` thresholds the image inside the (dilated) ROI, thins
the bright region to a skeleton, traces it into polylines and reads the width from the distance
transform. :func:`fit_bead` moves a view's bead onto one sample (a few pixels of alignment error and
pass-to-pass wobble) and :func:`bead_from_polyline` turns a user-drawn polyline into a bead. The bead is
kept in sample coordinates as a JSON-able dict (``ViewInfo.meta["bead"]``), so it follows the alignment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import ndimage

from workbench.synth.geometry import arclength, normals, resample, smooth_along
from workbench.synth.skeleton import thin, trace

BEAD_FORMAT = "workbench-bead"
BEAD_VERSION = 1
STORE_STEP = 3.0  # px between stored centreline points: dense enough for curves, small in JSON


class BeadError(ValueError):
    """No usable bead in an image, or a stored bead that cannot be read."""


@dataclass
class BeadLine:
    """One centreline: points (N, 2) float x, y about 1 px apart and full widths (N,) px along it."""

    points: np.ndarray
    widths: np.ndarray

    @property
    def length(self) -> float:
        return float(arclength(self.points)[-1]) if len(self.points) > 1 else 0.0


@dataclass
class Bead:
    """A view's bead: its centrelines in sample coordinates, and where it came from ('auto' or 'drawn')."""

    lines: list[BeadLine]
    origin: str = "auto"
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The JSON-able form stored in ``ViewInfo.meta['bead']`` (points every few px, rounded)."""
        out = []
        for ln in self.lines:
            pts, wid = resample(ln.points, ln.widths, STORE_STEP)
            out.append({"points": np.round(pts, 1).tolist(), "widths": np.round(wid, 1).tolist()})
        return {
            "format": BEAD_FORMAT,
            "version": BEAD_VERSION,
            "origin": self.origin,
            "lines": out,
            "meta": dict(self.meta),
        }

    @classmethod
    def from_dict(cls, doc: dict, what: str = "the bead") -> Bead:
        """The bead of a stored dict; BeadError naming ``what`` (e.g. "view 'front'") when it is malformed."""
        if not isinstance(doc, dict) or doc.get("format") != BEAD_FORMAT:
            raise BeadError(
                f"{what}: expected a dict with format '{BEAD_FORMAT}', found {type(doc).__name__}"
            )
        if int(doc.get("version", 0)) > BEAD_VERSION:
            raise BeadError(
                f"{what}: bead version {doc.get('version')} is newer than this program ({BEAD_VERSION})"
            )
        lines = []
        for k, ln in enumerate(doc.get("lines", [])):
            pts = np.asarray(ln.get("points", []), np.float64)
            wid = np.asarray(ln.get("widths", []), np.float64)
            if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2 or wid.shape != (len(pts),):
                raise BeadError(
                    f"{what}: line {k} needs >= 2 points (N, 2) and N widths; found points {pts.shape}, "
                    f"widths {wid.shape}"
                )
            if not (np.all(np.isfinite(pts)) and np.all(wid > 0)):
                raise BeadError(f"{what}: line {k} has non-finite points or widths <= 0")
            pts, wid = resample(pts, wid, 1.0)
            lines.append(BeadLine(pts, wid))
        if not lines:
            raise BeadError(f"{what}: the bead has no lines")
        return cls(lines, str(doc.get("origin", "auto")), dict(doc.get("meta", {})))

    def median_width(self) -> float:
        return float(np.median(np.concatenate([ln.widths for ln in self.lines])))

    def coverage(self, shape: tuple[int, int], grow: float = 0.0) -> np.ndarray:
        """(H, W) bool: pixels within half the local width (+ ``grow`` px) of any centreline."""
        free = np.ones(shape, bool)
        radius = np.zeros(shape, np.float32)
        h, w = shape
        for ln in self.lines:
            ix = np.round(ln.points[:, 0]).astype(int)
            iy = np.round(ln.points[:, 1]).astype(int)
            ok = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
            free[iy[ok], ix[ok]] = False
            radius[iy[ok], ix[ok]] = np.maximum(radius[iy[ok], ix[ok]], ln.widths[ok] / 2)
        if free.all():
            return np.zeros(shape, bool)
        dist, (ny, nx) = ndimage.distance_transform_edt(free, return_indices=True)
        return dist <= radius[ny, nx] + grow


def grey(image: np.ndarray) -> np.ndarray:
    """(H, W) float32 brightness of a grey or BGR uint8 image."""
    if image.ndim == 2:
        return image.astype(np.float32)
    if image.shape[2] == 1:
        return image[:, :, 0].astype(np.float32)
    return cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_BGR2GRAY).astype(np.float32)


def bright_region(image: np.ndarray, region: np.ndarray, width: float, what: str = "the image") -> np.ndarray:
    """(H, W) bool: the bright ridge (bead) pixels inside ``region`` of a bead about ``width`` px wide, cleaned.

    A white top-hat (the image minus its opening by a disc wider than the bead) keeps ridges and drops
    broad bright patches of panel; Otsu's threshold inside ``region`` then separates bead from panel.
    """
    k = int(2.5 * max(width, 4.0)) | 1
    g = cv2.GaussianBlur(grey(image), (0, 0), 1.0)
    g = g - cv2.morphologyEx(g, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    vals = g[region]
    if vals.size < 50:
        raise BeadError(f"{what}: the ROI holds {vals.size} pixels; too few to find a bead")
    thr, _ = cv2.threshold(
        np.clip(vals, 0, 255).astype(np.uint8).reshape(-1, 1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU
    )
    hi, lo = vals[vals > thr], vals[vals <= thr]
    if hi.size == 0 or lo.size == 0 or hi.mean() - lo.mean() < 12:
        raise BeadError(
            f"{what}: no bright bead inside the ROI (contrast {0 if hi.size == 0 or lo.size == 0 else hi.mean() - lo.mean():.0f} "
            "grey levels); draw the bead by hand"
        )
    mask = (g > thr) & region
    k3 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    k5 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    m = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, k3)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, k5)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        raise BeadError(f"{what}: no bright bead inside the ROI")
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= max(0.05 * areas.max(), 40)) + 1
    mask = np.isin(lab, keep)
    # fill specks of glare-free bead, not the panel a bead encloses (a loop, the ring of a fit band)
    holes, n_holes = ndimage.label(~mask)
    sizes = np.bincount(holes.ravel(), minlength=n_holes + 1)
    small = sizes <= 200
    small[0] = False
    return (mask | small[holes]) & region


def _line_from_pixels(pts: np.ndarray, dist: np.ndarray) -> BeadLine:
    pts = smooth_along(pts, 2.0)
    pts, _ = resample(pts, None, 1.0)
    h, w = dist.shape
    ix = np.clip(np.round(pts[:, 0]).astype(int), 0, w - 1)
    iy = np.clip(np.round(pts[:, 1]).astype(int), 0, h - 1)
    widths = 2.0 * ndimage.median_filter(dist[iy, ix], size=9, mode="nearest")
    med = float(np.median(widths))
    # ends (round caps) and junctions bias the distance transform; a bead's width varies little
    widths = smooth_along(np.clip(widths, 0.8 * med, 1.2 * med), 3.0)
    return BeadLine(pts, widths)


def find_bead(
    image: np.ndarray, roi: np.ndarray | None = None, margin: int = 4, what: str = "the image"
) -> Bead:
    """The bead of a normal sample (uint8 (H, W[, 3])) inside ``roi`` (0/255, grown by ``margin`` px)."""
    h, w = image.shape[:2]
    if roi is None:
        region = np.ones((h, w), bool)
    else:
        if roi.shape != (h, w):
            raise BeadError(f"{what}: ROI of shape {roi.shape} does not match the image {(h, w)}")
        k = 2 * margin + 1
        region = (
            cv2.dilate((roi > 0).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0
        )
    # the ROI is the bead grown by a margin: twice its deepest inside point bounds the bead width
    width = 2.0 * float(ndimage.distance_transform_edt(region).max()) if roi is not None else 40.0
    mask = bright_region(image, region, width, what)
    dist = ndimage.distance_transform_edt(mask).astype(np.float32)
    # a spur shorter than the bead is wide is the thinning's answer to a bump in the outline, not a branch
    typical = 2.0 * float(np.median(dist[thin(mask)])) if mask.any() else 4.0
    lines = [ln for ln in trace(thin(mask), min_spur=1.5 * typical) if _length_ok(ln, typical)]
    if not lines:
        raise BeadError(
            f"{what}: the bright region inside the ROI has no centreline longer than the bead is wide"
        )
    # the bright top is narrower than the bead and leans to the light: centre and width come from the flanks
    return fit_bead(image, Bead([_line_from_pixels(ln, dist) for ln in lines], "auto"), what=what)


def _length_ok(pts: np.ndarray, typical: float) -> bool:
    return len(pts) > 1 and float(arclength(pts)[-1]) >= max(typical, 6.0)


def fit_bead(image: np.ndarray, bead: Bead, search: float | None = None, what: str = "the image") -> Bead:
    """``bead`` moved onto ``image``: each centre point slides along its normal to the middle of the bright run.

    Shifts are limited to ``search`` px (default: half the bead width) and widths to +-35 % of the prior,
    both smoothed along the line, so a junction or a defect does not drag the line away.
    """
    h, w = image.shape[:2]
    wmed = bead.median_width()
    search = 0.5 * wmed if search is None else float(search)
    # the band holds as much panel as bead, so Otsu's threshold separates the two and not the bead's shades
    band = bead.coverage((h, w), grow=search + wmed)
    try:
        mask = bright_region(image, band, wmed, what)
    except BeadError:
        return Bead(
            [BeadLine(ln.points.copy(), ln.widths.copy()) for ln in bead.lines], bead.origin, dict(bead.meta)
        )
    # the profile across the bead, lightly smoothed so panel grain does not stop the walk down a flank
    g = cv2.GaussianBlur(grey(image), (0, 0), 1.0)
    out = []
    for ln in bead.lines:
        nrm = normals(ln.points)
        reach = ln.widths / 2 + search + 2
        offs = np.arange(-reach.max(), reach.max() + 0.5, 0.5)
        xs = ln.points[:, 0:1] + nrm[:, 0:1] * offs[None, :]
        ys = ln.points[:, 1:2] + nrm[:, 1:2] * offs[None, :]
        inside = ndimage.map_coordinates(mask.astype(np.uint8), [ys, xs], order=0, mode="constant") > 0
        prof = ndimage.map_coordinates(g, [ys, xs], order=1, mode="nearest")
        shift = np.zeros(len(ln.points))
        width = ln.widths.copy()
        for i, row in enumerate(inside):
            c = _run_around(row, len(offs) // 2, int(search / 0.5) + 1)
            if c is None:
                continue
            a, b = _flanks(prof[i], *c)
            shift[i] = 0.5 * (offs[a] + offs[b])
            width[i] = offs[b] - offs[a] + 0.5
        shift = smooth_along(ndimage.median_filter(np.clip(shift, -search, search), 41, mode="nearest"), 3.0)
        # junctions and touching beads give long runs: keep widths near this line's typical width
        med = float(np.median(width))
        width = np.clip(ndimage.median_filter(width, 41, mode="nearest"), 0.85 * med, 1.15 * med)
        pts = ln.points + nrm * shift[:, None]
        out.append(BeadLine(*resample(pts, smooth_along(width, 3.0), 1.0)))
    return Bead(out, bead.origin, dict(bead.meta))


def _flanks(prof: np.ndarray, a: int, b: int, step: float = 0.5) -> tuple[int, int]:
    """(a, b) grown outwards down the bead's flanks: while the profile keeps falling steeply away from the run.

    The bright run stops where the glossy top gives way to the flanks; the flank facing away from the
    light is as dark as the panel (or darker, over its own shadow), so no threshold finds its edge. The
    edge is where the fall flattens out: a step under 40 % of the steepest one of this cross-section.
    """
    core = max(b - a, 2)
    lim = int(0.4 * core) + 1  # a flank is narrower than the top
    lo, hi = max(a - lim - 2, 0), min(b + lim + 3, len(prof))
    steep = float(np.abs(np.diff(prof[lo:hi])).max()) if hi - lo > 1 else 0.0
    thr = 0.4 * steep
    a0, b0 = a, b
    while a > 0 and a0 - a < lim and prof[a - 1] < prof[a] - thr * step / 0.5:
        a -= 1
    while b < len(prof) - 1 and b - b0 < lim and prof[b + 1] < prof[b] - thr * step / 0.5:
        b += 1
    return a, b


def _run_around(row: np.ndarray, centre: int, reach: int) -> tuple[int, int] | None:
    """(first, last) index of the True run nearest ``centre`` within ``reach``, or None."""
    lo, hi = max(centre - reach, 0), min(centre + reach + 1, len(row))
    cand = np.flatnonzero(row[lo:hi])
    if cand.size == 0:
        return None
    k = lo + int(cand[np.argmin(np.abs(cand + lo - centre))])
    a = k
    while a > 0 and row[a - 1]:
        a -= 1
    b = k
    while b < len(row) - 1 and row[b + 1]:
        b += 1
    return a, b


def bead_from_polyline(
    image: np.ndarray, points: np.ndarray, width: float | None = None, what: str = "the drawn bead"
) -> Bead:
    """A bead from a user-drawn polyline (N, 2) x, y: snapped to the bright ridge near it, width measured."""
    pts = np.asarray(points, np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2:
        raise BeadError(f"{what}: expected a polyline of at least 2 points (N, 2), found shape {pts.shape}")
    pts, _ = resample(pts, None, 1.0)
    guess = float(width) if width else 16.0
    prior = Bead([BeadLine(pts, np.full(len(pts), guess))], "drawn")
    fitted = fit_bead(image, prior, search=0.75 * guess, what=what)
    if width:  # the user's width wins over the measured one
        fitted.lines = [BeadLine(ln.points, np.full(len(ln.points), float(width))) for ln in fitted.lines]
    return fitted
