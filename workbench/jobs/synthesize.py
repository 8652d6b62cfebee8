"""Synthesis job: add seeded synthetic defects to a project's val/test normals, per type, view and zone.

Region-centric after seed 000: a slot is (view, zone, type, size); the ``table1`` preset reproduces the
paper's Table 1 (per zone: bifurcation 2/1/1, missing 6/4/6, narrowing 1/1/1, misalignment 3/1/3, hole
2/1/1 for the lower front / center / back views). Sources are good, non-synthetic samples of the val and
test splits; new samples go to val and test in turn (never train), each in the split of the pass it was
drawn on (seed 000: a pass never crosses splits), labelled defective, with their GT mask
and ``meta["synthetic"]`` = {type, zone, size, params, source_sample}. Everything is built in memory and
added at the end, so an error or a cancel leaves the project unchanged. The caller saves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.core.resources import available_ram_bytes
from workbench.project.types import SampleInfo, ViewInfo
from workbench.synth.at_point import zone_under
from workbench.synth.bead import Bead, BeadError, find_bead, fit_bead
from workbench.synth.bead_defects import BEAD_TYPES
from workbench.synth.defects import DEFECT_TYPES, SIZE_CLASSES, Synthesized, synthesize_one
from workbench.synth.placement import PlacementError

log = logging.getLogger(__name__)

# seed 000, Table 1: defects per zone ("single anomalies per region-specific slot") for lower front,
# lower center and lower back (4, 8 and 5 zones give the table's totals 56, 64 and 60)
TABLE1 = {
    "bifurcation": (2, 1, 1),
    "missing": (6, 4, 6),
    "narrowing": (1, 1, 1),
    "misalignment": (3, 1, 3),
    "hole": (2, 1, 1),
}
PRESETS = ("table1",)
_TABLE1_VIEW_WORDS = (("front",), ("center", "centre", "middle"), ("back", "rear"))


@dataclass
class Slot:
    view: str
    zone: int | None
    type: str
    size: str


@dataclass
class SynthResult:
    """New sample ids, counts per view/type, slots that found no place, and the views whose bead was found."""

    sample_ids: list[int]
    counts: dict[str, int]
    failed: list[dict] = field(default_factory=list)
    beads_found: list[str] = field(default_factory=list)


def view_bead(project, view: ViewInfo, sources: list) -> tuple[Bead, bool]:
    """The view's stored bead, or one found on its first source sample (True when newly found)."""
    doc = (view.meta or {}).get("bead")
    if doc:
        return Bead.from_dict(doc, f"view '{view.name}'"), False
    errors = []
    for s in sources[:5]:
        try:
            bead = find_bead(project.sample_image(s.id), view.roi, what=f"view '{view.name}', sample {s.id}")
            bead.meta["found_on_sample"] = int(s.id)
            return bead, True
        except BeadError as exc:
            errors.append(str(exc))
    raise BeadError(f"view '{view.name}': no bead found on its normal samples ({'; '.join(errors[:2])})")


def plan_slots(
    project, count: int | None, types, views, preset: str | None, sizes, rng: np.random.Generator
) -> list[Slot]:
    """The (view, zone, type, size) slots to fill: the preset table, or ``count`` spread evenly."""
    pv = project.views
    if not pv:
        raise ValueError(
            f"project {project.name} has no views to draw defects on; define them first (import a video with "
            "--template NAME=PNG, or the Views pane)"
        )
    views = list(views or pv)
    for v in views:
        if v not in pv:
            raise ValueError(f"unknown view '{v}'; the project has {', '.join(pv) or 'no views'}")
    types = list(types or BEAD_TYPES)
    for t in types:
        if t not in DEFECT_TYPES:
            raise ValueError(f"unknown defect type '{t}'; expected some of {', '.join(DEFECT_TYPES)}")
    sizes = list(sizes)
    for s in sizes:
        if s not in SIZE_CLASSES:
            raise ValueError(f"unknown size '{s}'; expected some of {', '.join(SIZE_CLASSES)}")
    slots: list[Slot] = []
    if preset is not None:
        if preset != "table1":
            raise ValueError(f"unknown preset '{preset}'; expected one of {', '.join(PRESETS)}")
        for v in views:
            col = _table1_column(v, list(pv))
            zones = _zone_ids(pv[v])
            for t in types:
                per_zone = TABLE1.get(t, (1, 1, 1))[col]
                slots += [Slot(v, z, t, "") for z in zones for _ in range(per_zone)]
        if count is not None and slots:  # scale the table to the requested total, keeping its proportions
            pick = rng.choice(len(slots), size=count, replace=count > len(slots))
            slots = [Slot(**vars(slots[i])) for i in sorted(pick)]
    else:
        if count is None or count < 1:
            raise ValueError(f"expected a positive --count (or a preset), found {count}")
        if not types or not sizes:
            raise ValueError("expected at least one defect type and one size class")
        combos = [(v, t) for v in views for t in types]
        zone_cycle = {v: _zone_ids(pv[v]) for v in views}
        for i in range(count):
            v, t = combos[i % len(combos)]
            zs = zone_cycle[v]
            slots.append(Slot(v, zs[(i // len(combos)) % len(zs)], t, ""))
    order = rng.permutation(len(sizes) * ((len(slots) + len(sizes) - 1) // max(len(sizes), 1)))
    for k, slot in enumerate(slots):
        slot.size = sizes[int(order[k]) % len(sizes)]
    return slots


def check_memory(project, count: int, views=None, available: int | None = None) -> None:
    """ValueError with the estimate when ``count`` new samples would not fit in half the free memory.

    Each new sample is held twice until the end (the image, its mask, the project's pending copy): about
    8 bytes per pixel of the largest sample of the views, plus the plan itself."""
    if count < 1 or not project.views:
        return  # plan_slots says what is wrong
    names = list(views or project.views)
    pixels = 0
    for v in names:
        if v in project.views:
            crop = project.views[v].crop
            pixels = max(pixels, int(crop.w) * int(crop.h))
        sizes = [s.width * s.height for s in project.samples(view=v)[:50]]
        pixels = max(pixels, *sizes) if sizes else pixels
    need = count * (8 * max(pixels, 1) + 512)
    free = available_ram_bytes() if available is None else available
    if free is not None and need > free // 2:
        per = 8 * max(pixels, 1) + 512
        fits = max(0, (free // 2) // per)
        raise ValueError(
            f"synth --count {count}: the new samples would need about {_gb(need)} of memory and "
            f"{_gb(free)} is free; add at most {fits} at a time"
        )


def _gb(n: int) -> str:
    if n >= 2**40:
        return f"{n / 2**40:,.0f} TB"
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


def synthetic_info(src: SampleInfo, made: Synthesized, split: str) -> dict:
    """The ``add_samples`` record of defect ``made`` drawn on sample ``src``: same pass and place, in ``split``,
    defective and synthetic, with the provenance in ``meta["synthetic"]``."""
    if split not in ("val", "test"):
        raise ValueError(f"synthetic defects go to val or test, never to '{split}'")
    return {
        "source": src.source,
        "pass_index": src.pass_index,
        "view": src.view,
        "frame": src.frame,
        "x": src.x,
        "y": src.y,
        "split": split,
        "label": "defective",
        "synthetic": True,
        "match_score": src.match_score,
        "meta": {"synthetic": made.provenance(int(src.id))},
    }


def _zone_ids(view: ViewInfo) -> list[int | None]:
    if view.zones is None:
        return [None]
    present = sorted(int(z) for z in np.unique(view.zones) if z > 0)
    return present or [None]


def _table1_column(name: str, all_views: list[str]) -> int:
    low = name.lower()
    for col, words in enumerate(_TABLE1_VIEW_WORDS):
        if any(wd in low for wd in words):
            return col
    return min(all_views.index(name), 2)


def synthesize(
    project,
    *,
    count: int | None = None,
    types=None,
    views=None,
    seed: int = 0,
    preset: str | None = None,
    sizes=tuple(SIZE_CLASSES),
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> SynthResult:
    """Generate the planned synthetic defects and add them to ``project`` in one go at the end.

    Refused before any work: a seed that is not a whole number >= 0, and a ``count`` whose new samples
    would not fit in the machine's free memory (they are all held until they are added)."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= int(seed) < 2**32:
        raise ValueError(f"synth seed: expected a whole number from 0 to {2**32 - 1}; found {seed!r}")
    if count is not None:
        if isinstance(count, bool) or not isinstance(count, int | np.integer):
            raise ValueError(f"synth count: expected a whole number; found {count!r}")
        check_memory(project, int(count), views)
    rng = np.random.default_rng(seed)
    slots = plan_slots(project, count, types, views, preset, sizes, rng)
    progress(0.0, f"planning {len(slots)} synthetic defects")
    pv = project.views
    sources: dict[str, list] = {}
    beads: dict[str, Bead] = {}
    found: list[str] = []
    for v in sorted({s.view for s in slots}):
        cand = [s for sp in ("val", "test") for s in project.samples(view=v, split=sp, label="good")]
        cand = [s for s in cand if not s.synthetic]
        if not cand:
            raise ValueError(
                f"view '{v}' has no good, non-synthetic samples in val or test to draw defects on; split the "
                "samples first (synthetic defects never go into training)"
            )
        sources[v] = cand
        if any(s.type in BEAD_TYPES for s in slots if s.view == v):
            beads[v], new = view_bead(project, pv[v], cand)
            if new:
                found.append(v)
    images, infos, masks, failed = [], [], [], []
    cache: dict[int, tuple[np.ndarray, Bead | None]] = {}
    # val and test sources apart: a defect goes to the split of the pass it is drawn on, val and test in turn
    pools = {
        v: {sp: [c[i] for i in rng.permutation(len(c)) if c[i].split == sp] for sp in ("val", "test")}
        for v, c in sources.items()
    }
    turn = {(v, sp): 0 for v in sources for sp in ("val", "test")}
    split_turn = int(rng.integers(2))
    for n, slot in enumerate(slots):
        cancel.raise_if_cancelled()
        view = pv[slot.view]
        made = None
        want = ("val", "test")[split_turn % 2]
        pool_split = want if pools[slot.view][want] else ("test" if want == "val" else "val")
        pool = pools[slot.view][pool_split]
        for _attempt in range(3):
            src = pool[turn[(slot.view, pool_split)] % len(pool)]
            turn[(slot.view, pool_split)] += 1
            if src.id not in cache:
                if len(cache) > 64:
                    cache.clear()
                img = project.sample_image(src.id)
                bead = beads.get(slot.view)
                cache[src.id] = (img, None if bead is None else fit_bead(img, bead))
            img, bead = cache[src.id]
            try:
                made = synthesize_one(
                    img,
                    bead,
                    slot.type,
                    slot.size,
                    rng,
                    zones=view.zones,
                    zone=slot.zone,
                    zone_names=view.zone_names,
                    roi=view.roi,
                )
                break
            except PlacementError as exc:
                last = str(exc)
        if made is None and slot.zone is not None:  # a zone too short for this defect: anywhere in the view
            try:
                made = synthesize_one(img, bead, slot.type, "small", rng, roi=view.roi)
            except PlacementError as exc:
                last = str(exc)
        if made is None:
            failed.append(
                {"view": slot.view, "zone": slot.zone, "type": slot.type, "size": slot.size, "reason": last}
            )
            continue
        made.zone = zone_under(made.mask, view.zones, view.zone_names)  # where it really landed
        split = src.split
        split_turn += 1
        images.append(made.image)
        masks.append(made.mask)
        infos.append(synthetic_info(src, made, split))
        progress((n + 1) / len(slots) * 0.97, f"{slot.type} on {slot.view} ({n + 1}/{len(slots)})")
    cancel.raise_if_cancelled()
    # from here on the project changes: nothing below can be cancelled half-way
    for v in found:
        view = pv[v]
        view.meta = {**(view.meta or {}), "bead": beads[v].to_dict()}
        project.set_view(view)
    ids = project.add_samples(images, infos, masks) if images else []
    counts: dict[str, int] = {}
    for info in infos:
        key = f"{info['view']}/{info['meta']['synthetic']['type']}"
        counts[key] = counts.get(key, 0) + 1
    if failed:
        log.info("%d slots found no place for their defect", len(failed))
    progress(1.0, f"added {len(ids)} synthetic defects")
    return SynthResult(ids, counts, failed, found)
