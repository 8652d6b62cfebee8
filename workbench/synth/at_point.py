"""A synthetic defect where the user points: on the bead near a clicked pixel, or on the surface around it.

The Synthesis pane's single-defect tool: :func:`target_at` is where a defect's middle may go for a
clicked point (the nearest centreline point for bead defects), and :func:`synthesize_at` draws one
there as the batch job draws (random, seeded parameters of the type and size class) and records its
exact mask, zone and size class as the job does; or redraws hand-edited parameters.
"""

from __future__ import annotations

import numpy as np

from workbench.synth.bead import Bead
from workbench.synth.bead_defects import BEAD_TYPES
from workbench.synth.defects import SIZE_CLASSES, Synthesized, check_type, render, size_class, synthesize_one
from workbench.synth.placement import PlacementError

NEAR = 2.0  # px: how far from the pointed place a defect's middle may land


def nearest_on_bead(bead: Bead, point: tuple[float, float]) -> tuple[int, int, float]:
    """(line, point index, distance px) of the bead's centreline point nearest ``point`` (x, y)."""
    best = (0, 0, float("inf"))
    for k, ln in enumerate(bead.lines):
        d = np.hypot(ln.points[:, 0] - point[0], ln.points[:, 1] - point[1])
        i = int(np.argmin(d))
        if d[i] < best[2]:
            best = (k, i, float(d[i]))
    return best


def _disc(shape: tuple[int, int], centre: np.ndarray, radius: float) -> np.ndarray:
    """(H, W) uint8: 1 within ``radius`` px of ``centre`` (x, y), 0 elsewhere."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return (np.hypot(xx - centre[0], yy - centre[1]) <= radius).astype(np.uint8)


def target_at(kind: str, bead: Bead | None, shape: tuple[int, int], point: tuple[float, float]) -> np.ndarray:
    """(H, W) uint8: 1 where the middle of a ``kind`` defect pointed at ``point`` (x, y) may lie.

    A bead defect goes on the centreline point nearest ``point``, which must lie on the bead (within its
    width); PlacementError says why otherwise.
    """
    check_type(kind, bead)
    h, w = shape
    x, y = float(point[0]), float(point[1])
    if not (0 <= x < w and 0 <= y < h):
        raise PlacementError(f"the point ({x:.0f}, {y:.0f}) is outside the {w}x{h} sample")
    centre = np.array([x, y])
    if kind in BEAD_TYPES:
        k, i, dist = nearest_on_bead(bead, (x, y))
        reach = max(float(bead.lines[k].widths[i]), 6.0)
        if dist > reach:
            raise PlacementError(
                f"({x:.0f}, {y:.0f}) is {dist:.0f} px from the bead's centreline; click on the bead to "
                f"place a '{kind}' defect"
            )
        centre = bead.lines[k].points[i]
    return _disc(shape, centre, NEAR)


def zone_under(mask: np.ndarray, zones: np.ndarray | None, zone_names: list[str]) -> str | None:
    """The name of the zone (label image ``zones``, 0 = none) covering most of ``mask``; None without one."""
    if zones is None or zones.shape != mask.shape:
        return None
    labels = zones[mask > 0]
    labels = labels[labels > 0]
    if labels.size == 0:
        return None
    k = int(np.bincount(labels).argmax())
    return zone_names[k - 1] if 0 < k <= len(zone_names) else str(k)


def synthesize_at(
    image: np.ndarray,
    bead: Bead | None,
    kind: str,
    size: str,
    point: tuple[float, float],
    seed: int = 0,
    params: dict | None = None,
    zones: np.ndarray | None = None,
    zone_names: list[str] | None = None,
) -> Synthesized:
    """One ``kind`` defect of ``size`` with its middle at ``point``, drawn as the batch job draws (``seed``);
    or, with ``params`` (as a previous result's, hand-edited), exactly those, at their own place.

    The mask may come out empty when hand-set parameters change too little to see; the caller decides.
    """
    check_type(kind, bead)
    if size not in SIZE_CLASSES:
        raise ValueError(f"unknown size '{size}'; expected one of {', '.join(SIZE_CLASSES)}")
    h, w = image.shape[:2]
    if params is None:
        target = target_at(kind, bead, (h, w), point)
        try:
            made = synthesize_one(image, bead, kind, size, np.random.default_rng(seed), zones=target, zone=1)
        except PlacementError:
            where = (
                "near a bead end, a junction or the sample's edge" if kind in BEAD_TYPES else "near the edge"
            )
            raise PlacementError(
                f"a {size} '{kind}' defect does not fit at ({point[0]:.0f}, {point[1]:.0f}) ({where}); "
                "point elsewhere or pick a smaller size"
            ) from None
        after, mask, params = made.image, made.mask, made.params
    else:
        drawn = int(params.get("seed", seed))  # the seed that drew these parameters keeps their grain
        params = {k: v for k, v in params.items() if k != "seed"}
        after, mask = render(image, bead, kind, params, drawn)
        params = {**params, "seed": drawn}
    zone = zone_under(mask, zones, list(zone_names or []))
    area = float((mask > 0).sum()) / (h * w)
    return Synthesized(after, mask, kind, zone, size_class(area), size, params)
