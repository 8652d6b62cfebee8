"""Synthetic defects with exact masks: pick parameters for a type, size and zone; draw; measure the GT mask.

Types: the five sealant defects of seed 000 (``BEAD_TYPES``: need a bead model) and four generic surface
defects (``SURFACE_TYPES``). Sizes are shares of the sample area (``SIZE_CLASSES``); the size recorded
with a defect is the class of the area its mask really covers. :func:`preview` is what the Synthesis
pane calls; :func:`synthesize_one` is what the batch job calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.synth import bead_defects, surface_defects
from workbench.synth.appearance import as_float, noise_sigma, to_uint8
from workbench.synth.bead import Bead
from workbench.synth.bead_defects import BEAD_TYPES
from workbench.synth.masks import change_mask
from workbench.synth.placement import PlacementError, place
from workbench.synth.surface_defects import SURFACE_TYPES

DEFECT_TYPES = BEAD_TYPES + SURFACE_TYPES
# share of the sample (view) area a defect's mask covers
SIZE_CLASSES = {"small": (0.002, 0.005), "medium": (0.005, 0.012), "large": (0.012, 0.03)}
MIN_VISIBLE = 12  # px: a mask smaller than this is an edit too faint to count as a defect


def size_class(area_share: float) -> str:
    """The size class of a mask covering ``area_share`` of the sample (below small counts as small)."""
    if area_share < SIZE_CLASSES["medium"][0]:
        return "small"
    return "medium" if area_share < SIZE_CLASSES["large"][0] else "large"


@dataclass
class Synthesized:
    """One synthetic defect: the edited image, its GT mask (0/255), and its provenance."""

    image: np.ndarray
    mask: np.ndarray
    type: str
    zone: str | None
    size: str
    target_size: str
    params: dict

    def provenance(self, source_sample: int | None = None) -> dict:
        """The JSON-able record stored in the sample's ``meta['synthetic']``."""
        h, w = self.mask.shape
        return {
            "type": self.type,
            "zone": self.zone,
            "size": self.size,
            "target_size": self.target_size,
            "area_share": round(float((self.mask > 0).sum()) / (h * w), 6),
            "params": self.params,
            "source_sample": source_sample,
        }


def check_type(kind: str, bead: Bead | None) -> None:
    if kind not in DEFECT_TYPES:
        raise ValueError(f"unknown defect type '{kind}'; expected one of {', '.join(DEFECT_TYPES)}")
    if kind in BEAD_TYPES and bead is None:
        raise ValueError(f"defect type '{kind}' needs a bead model of the view; find or draw the bead first")


def render(
    image: np.ndarray, bead: Bead | None, kind: str, params: dict, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The sample with the defect drawn (uint8, same layout) and its exact GT mask (H, W) uint8 0/255."""
    check_type(kind, bead)
    rng = np.random.default_rng(seed)
    f = as_float(image)
    sigma = noise_sigma(f)
    if kind in BEAD_TYPES:
        after, region = bead_defects.DRAW[kind](f, bead, params, sigma, rng)
    else:
        after, region = surface_defects.DRAW[kind](f, params, sigma, rng)
    out = to_uint8(after, image)
    return out, change_mask(image, out, region)


def preview(
    sample_image: np.ndarray,
    bead: Bead | dict | None,
    kind: str,
    params: dict | None = None,
    seed: int = 0,
    size: str = "medium",
) -> tuple[np.ndarray, np.ndarray]:
    """(after, mask) for the Synthesis pane: ``params`` as given, or drawn at random for ``size`` when None."""
    if isinstance(bead, dict):
        bead = Bead.from_dict(bead)
    if params is None:
        made = synthesize_one(sample_image, bead, kind, size, np.random.default_rng(seed))
        return made.image, made.mask
    return render(sample_image, bead, kind, params, seed)


def _aim(area_range: tuple[float, float], rng: np.random.Generator) -> float:
    """A target share inside ``area_range``, kept off its ends so a draw a little off still lands inside."""
    lo, hi = np.log(area_range[0]), np.log(area_range[1])
    margin = 0.15 * (hi - lo)
    return float(np.exp(rng.uniform(lo + margin, hi - margin)))


def _off_by(share: float, area_range: tuple[float, float]) -> float:
    """How far (log ratio) ``share`` lies outside ``area_range``; 0 inside."""
    lo, hi = area_range
    return max(np.log(lo / share), np.log(share / hi), 0.0)


def synthesize_one(
    image: np.ndarray,
    bead: Bead | None,
    kind: str,
    size: str,
    rng: np.random.Generator,
    zones: np.ndarray | None = None,
    zone: int | None = None,
    zone_names: list[str] | None = None,
    roi: np.ndarray | None = None,
    tries: int = 5,
    area_range: tuple[float, float] | None = None,
) -> Synthesized:
    """A random defect of ``kind`` and target ``size`` in ``zone`` (label in ``zones``); PlacementError if none fits.

    The mask is measured after each draw: one whose area falls outside the size class (or ``area_range``,
    a share of the sample that overrides the class) is drawn again with the target scaled by how far it
    missed, up to ``tries`` draws, and the closest draw is kept; its recorded size is the class it reached.
    A draw that changes too few pixels to see counts as a miss.
    """
    check_type(kind, bead)
    if size not in SIZE_CLASSES:
        raise ValueError(f"unknown size '{size}'; expected one of {', '.join(SIZE_CLASSES)}")
    want = tuple(area_range) if area_range is not None else SIZE_CLASSES[size]
    if not 0 < want[0] <= want[1] < 1:
        raise ValueError(f"area range must be shares of the sample with 0 < low <= high < 1, found {want}")
    h, w = image.shape[:2]
    aim, gain = _aim(want, rng), 1.0
    best: tuple[float, dict, np.ndarray, np.ndarray] | None = None
    for _ in range(tries):
        params = place(kind, bead, (h, w), rng, (aim * gain,) * 2, zones=zones, zone=zone, roi=roi)
        seed = int(rng.integers(0, 2**31 - 1))
        after, mask = render(image, bead, kind, params, seed)
        area = float((mask > 0).sum())
        if area < MIN_VISIBLE:
            gain *= 1.5
            continue
        off = _off_by(area / (h * w), want)
        if best is None or off < best[0]:
            best = (off, {**params, "seed": seed}, after, mask)
        if off == 0.0:
            break
        gain *= float(np.clip(aim * h * w / area, 0.25, 4.0))
    if best is None:
        raise PlacementError(f"a '{kind}' defect changed no visible pixels in {tries} tries")
    _, params, after, mask = best
    zname = None
    if zone is not None:
        zname = zone_names[zone - 1] if zone_names and 0 < zone <= len(zone_names) else str(zone)
    share = float((mask > 0).sum()) / (h * w)
    return Synthesized(after, mask, kind, zname, size_class(share), size, params)
