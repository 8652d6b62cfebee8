"""The demo underbody's geometry: bead paths, views, crop windows and zones, scaled to a frame size.

Everything is designed for a 848x480 frame ("design pixels") and scaled by ``height / 480``. The part is a
strip (the underbody seen from below) that moves right to left through the frame, front first; strip
x = 0 is the front edge. The three views follow seed 000 (lower front, lower center, lower back) with
4, 8 and 5 zones numbered along their beads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DESIGN_W, DESIGN_H = 848, 480
STRIP_W, STRIP_H = 960, 400  # the underbody, design pixels
STRIP_TOP = 40  # scene row of the strip's top edge: rails stay visible above and below the part
MIN_HEIGHT = 120
MIN_ASPECT, MAX_ASPECT = 1.5, 2.2  # the three views are laid out for a wide frame


@dataclass(frozen=True)
class BeadSpec:
    """A sealant bead: control points (design px, strip coordinates), width and how many zones it holds."""

    points: tuple[tuple[float, float], ...]
    width: float
    zones: int


@dataclass(frozen=True)
class ViewSpec:
    """A view: strip x of its centre, crop size, frame row of its centre, template margins (l, t, r, b)."""

    name: str
    strip_x: float
    crop_size: tuple[int, int]
    frame_cy: float
    margins: tuple[int, int, int, int]
    beads: tuple[BeadSpec, ...]


VIEWS: tuple[ViewSpec, ...] = (
    ViewSpec(
        "front",
        185,
        (360, 272),
        230,
        (44, 40, 60, 32),
        (
            # a long sweeping curve from the front cross member down to the tunnel
            BeadSpec(
                ((-20, 96), (60, 98), (140, 118), (215, 165), (280, 222), (340, 250), (400, 258)), 20, 2
            ),
            # a straight run along the sill seam
            BeadSpec(((-10, 296), (120, 296), (250, 296), (392, 296)), 18, 2),
        ),
    ),
    ViewSpec(
        "center",
        480,
        (400, 296),
        244,
        (40, 34, 40, 36),
        (
            # main longitudinal seam, a straight run
            BeadSpec(((250, 140), (400, 140), (560, 140), (710, 140)), 20, 3),
            # a branch meeting the main run at a T junction
            BeadSpec(((470, 140), (470, 210), (490, 262), (545, 300)), 18, 2),
            # a gentle wave along the floor panel
            BeadSpec(((394, 296), (450, 300), (520, 314), (600, 302), (700, 312)), 18, 3),
        ),
    ),
    ViewSpec(
        "back",
        775,
        (336, 256),
        236,
        (52, 44, 48, 40),
        (
            # a diagonal run towards the rear wheel arch
            BeadSpec(((590, 100), (700, 122), (820, 146), (960, 176)), 18, 2),
            # a C-shaped bead around the spare-wheel well, opening to the front
            BeadSpec(
                ((680, 220), (730, 198), (800, 200), (850, 240), (835, 295), (770, 318), (700, 300)), 20, 3
            ),
        ),
    ),
)
ZONE_COUNTS = {v.name: sum(b.zones for b in v.beads) for v in VIEWS}


def catmull_rom(points: np.ndarray, step: float = 1.0) -> np.ndarray:
    """A smooth curve through ``points`` (K, 2), resampled every ``step`` pixels of arclength: (N, 2) float64."""
    p = np.asarray(points, dtype=np.float64)
    ext = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    t = np.linspace(0.0, 1.0, 24, endpoint=False)[:, None]
    pieces = []
    for i in range(1, len(ext) - 2):
        p0, p1, p2, p3 = ext[i - 1], ext[i], ext[i + 1], ext[i + 2]
        pieces.append(
            0.5
            * (
                (2 * p1)
                + (-p0 + p2) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3
            )
        )
    pieces.append(p[-1:])
    dense = np.vstack(pieces)
    seg = np.hypot(*np.diff(dense, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(int(s[-1] / step), 1) + 1
    si = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(si, s, dense[:, 0]), np.interp(si, s, dense[:, 1])], axis=1)


@dataclass(frozen=True)
class ViewGeometry:
    """A view at a given frame size: template and crop rectangles (frame px) and the reference position."""

    name: str
    index: int
    template_rect: tuple[int, int, int, int]  # x, y, w, h in the reference frame
    crop_offset: tuple[int, int, int, int]  # x, y, w, h relative to the template's top-left
    ref_front_x: float  # scene x of the part's front edge when the view is at its reference position
    bead_ids: tuple[int, ...]  # indices into Layout.beads
    zone_names: tuple[str, ...]


@dataclass(frozen=True)
class BeadGeometry:
    """A bead at frame scale: centreline (N, 2) strip px every ~1 px, width px, its view and zone boundaries."""

    points: np.ndarray
    width: float
    view: str
    zone_first: int  # the view's zone number (1-based) of the bead's first zone
    zone_edges: np.ndarray  # arclength px at which the bead's zones start (len = zones), plus its end


class Layout:
    """The demo station's geometry for a frame of ``width`` x ``height`` pixels."""

    def __init__(self, width: int, height: int) -> None:
        check_frame_size(width, height)
        self.width, self.height = int(width), int(height)
        self.scale = height / DESIGN_H
        s = self.scale
        self.strip_w, self.strip_h = int(round(STRIP_W * s)), int(round(STRIP_H * s))
        self.strip_top = STRIP_TOP * s
        self.beads: list[BeadGeometry] = []
        self.views: list[ViewGeometry] = []
        for vi, spec in enumerate(VIEWS):
            cw, ch = (int(round(c * s)) for c in spec.crop_size)
            cx0 = int(round(width / 2 - cw / 2))
            cy0 = int(round(spec.frame_cy * s - ch / 2))
            ml, mt, mr, mb = (int(round(m * s)) for m in spec.margins)
            tx, ty = max(cx0 - ml, 0), max(cy0 - mt, 0)
            tw, th = min(cx0 + cw + mr, width) - tx, min(cy0 + ch + mb, height) - ty
            bead_ids, zone_names, zone = [], [], 1
            for spec_bead in spec.beads:
                pts = catmull_rom(np.asarray(spec_bead.points) * s)
                length = float(np.hypot(*np.diff(pts, axis=0).T).sum())
                # zones split the bead's stretch inside the crop window, so each zone is visible in the sample
                inside = self._inside_crop(pts, spec.strip_x * s, (cx0, cy0, cw, ch))
                s_all = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])
                s_in = s_all[inside] if inside.any() else s_all
                edges = np.linspace(s_in.min(), s_in.max(), spec_bead.zones + 1)
                edges[0], edges[-1] = 0.0, length
                bead_ids.append(len(self.beads))
                self.beads.append(BeadGeometry(pts, spec_bead.width * s, spec.name, zone, edges))
                for _ in range(spec_bead.zones):
                    zone_names.append(f"{spec.name[0].upper()}{zone}")
                    zone += 1
            self.views.append(
                ViewGeometry(
                    spec.name,
                    vi,
                    (tx, ty, tw, th),
                    (cx0 - tx, cy0 - ty, cw, ch),
                    width / 2 - spec.strip_x * s,
                    tuple(bead_ids),
                    tuple(zone_names),
                )
            )

    def _inside_crop(self, pts: np.ndarray, strip_cx: float, crop: tuple[int, int, int, int]) -> np.ndarray:
        x0, y0, w, h = crop
        sx = (
            pts[:, 0] - strip_cx + self.width / 2
        )  # strip -> frame x at the reference position (lens ignored)
        sy = pts[:, 1] + self.strip_top
        return (sx >= x0) & (sx < x0 + w) & (sy >= y0) & (sy < y0 + h)

    def crop_in_strip(self, view: ViewGeometry) -> tuple[float, float, float, float]:
        """The crop window in strip coordinates at the reference position (lens ignored): x, y, w, h."""
        tx, ty, _, _ = view.template_rect
        ox, oy, w, h = view.crop_offset
        return tx + ox - view.ref_front_x, ty + oy - self.strip_top, w, h

    def view(self, name: str) -> ViewGeometry:
        for v in self.views:
            if v.name == name:
                return v
        raise KeyError(f"unknown view {name!r}; expected one of {[v.name for v in self.views]}")


def check_frame_size(width: int, height: int) -> None:
    """Raise ValueError unless the frame is large and wide enough for the three views."""
    if int(height) < MIN_HEIGHT:
        raise ValueError(f"frame height must be at least {MIN_HEIGHT} px for the demo station, got {height}")
    aspect = width / height
    if not MIN_ASPECT <= aspect <= MAX_ASPECT:
        raise ValueError(
            f"frame width must be {MIN_ASPECT}x to {MAX_ASPECT}x the height (e.g. 848x480) so that each view's "
            f"crop window fits; got {width}x{height} (ratio {aspect:.2f})"
        )
