"""Qt-free side of the Compare step: each cell's picture, ground-truth outline, stored heatmap and image
score, and each run's threshold under the chosen policy (per pixel for a per-zone policy), so the maps
can be shown in units of their run's threshold and every cell can say OK or NG.

Everything is read from what the station stores (as ``workbench eval`` reads it); nothing is predicted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

PERCENTILES = (1.0, 99.9)  # the map-unit scales clip here, so one hot pixel cannot wash out the rest


@dataclass
class RunThreshold:
    """One run's threshold: where it comes from, its level, the value and (per zone) one per pixel."""

    run: str
    source: str  # in the user's words: "policy 'x'" or "F1-best on the test split (no policy fits)"
    level: str  # "image" (the image score is compared) or "pixel" (each ROI pixel against its zone's)
    value: float
    per_pixel: np.ndarray | None = None  # (H, W) float32 for pixel-level policies
    roi: np.ndarray | None = None  # (H, W) bool: the pixels a pixel-level policy looks at

    def at(self, shape: tuple[int, int]) -> np.ndarray | float:
        """The threshold of every pixel of a map of ``shape`` (a number for image-level policies)."""
        if self.per_pixel is not None and self.per_pixel.shape == tuple(shape):
            return self.per_pixel
        return self.value

    def verdict(self, score: float | None, amap: np.ndarray | None) -> bool | None:
        """NG (True) / OK (False) of one sample under this threshold; None when it cannot be said."""
        if self.level == "pixel":
            if amap is None:
                return None
            hot = amap >= self.at(amap.shape)
            if self.roi is not None and self.roi.shape == amap.shape:
                hot &= self.roi
            return bool(hot.any())
        return None if score is None else bool(score >= self.value)


@dataclass
class Cells:
    """What the grid shows: ids -> pictures and outlines, (run, id) -> maps and scores, run -> threshold."""

    images: dict[int, np.ndarray] = field(default_factory=dict)
    outlines: dict[int, np.ndarray | None] = field(default_factory=dict)
    maps: dict[str, dict[int, np.ndarray | None]] = field(default_factory=dict)
    scores: dict[str, dict[int, float]] = field(default_factory=dict)
    thresholds: dict[str, RunThreshold] = field(default_factory=dict)
    unit_maps: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)
    rings: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)  # (H, W, 4) uint8 overlays

    def prepare(self, gt_rgb: tuple, hot_rgb: tuple) -> None:
        """Work out, once and off the GUI thread, each cell's map in threshold units and its overlay
        of the GT outline and the threshold ring (thick enough to see when the picture is drawn small)."""
        from workbench.gui.imaging import outline

        for rid, per in self.maps.items():
            for sid in per:
                u = self._units(rid, sid)
                if u is not None:
                    self.unit_maps[(rid, sid)] = u
                image = self.images.get(sid)
                if image is None:
                    continue
                width = max(1, round(image.shape[1] / 180))
                gt = self.outlines.get(sid)
                hot = None if u is None else outline(u >= 1.0)
                if gt is None and hot is None:
                    continue
                ring = np.zeros((*image.shape[:2], 4), np.uint8)
                if hot is not None and hot.shape == ring.shape[:2]:
                    ring[thick(hot, width // 2)] = (*hot_rgb, 200)
                if gt is not None and gt.shape == ring.shape[:2]:
                    ring[thick(gt, width)] = (*gt_rgb, 255)
                self.rings[(rid, sid)] = ring

    def verdict(self, rid: str, sid: int) -> bool | None:
        t = self.thresholds.get(rid)
        if t is None:
            return None
        return t.verdict(self.scores.get(rid, {}).get(sid), self.maps.get(rid, {}).get(sid))

    def units(self, rid: str, sid: int) -> np.ndarray | None:
        """The map of (rid, sid) in units of its run's threshold (1.0 = the threshold)."""
        if (rid, sid) in self.unit_maps:
            return self.unit_maps[(rid, sid)]
        return self._units(rid, sid)

    def _units(self, rid: str, sid: int) -> np.ndarray | None:
        m = self.maps.get(rid, {}).get(sid)
        t = self.thresholds.get(rid)
        if m is None or t is None:
            return None
        thr = t.at(m.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (m / np.where(np.asarray(thr) > 0, thr, np.nan)).astype(np.float32)

    def score_units(self, rid: str, sid: int) -> float | None:
        s, t = self.scores.get(rid, {}).get(sid), self.thresholds.get(rid)
        if s is None or t is None or t.level != "image" or not t.value:
            return None
        return float(s) / t.value


def thick(mask: np.ndarray, k: int) -> np.ndarray:
    """``mask`` grown by ``k`` pixels (a ring stays visible when a large picture is drawn small)."""
    out = mask.copy()
    for _ in range(max(0, k)):
        grown = out.copy()
        grown[1:, :] |= out[:-1, :]
        grown[:-1, :] |= out[1:, :]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def percentile_levels(maps: list[np.ndarray]) -> tuple[float, float]:
    """(low, high) over every map at :data:`PERCENTILES`."""
    vals = np.concatenate([m.ravel() for m in maps]) if maps else np.zeros(1)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(vals, PERCENTILES))
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def _outline(mask: np.ndarray | None) -> np.ndarray | None:
    from workbench.gui.imaging import outline

    return None if mask is None or not np.asarray(mask).any() else outline(np.asarray(mask) > 0)


def run_threshold(project: Any, run: Any, policies: dict[str, dict], name: str | None, shape) -> RunThreshold:
    """The run's threshold under the policy ``name`` (None: the newest policy made for it), else the
    F1-best threshold on its test split."""
    from workbench.gui.panes.threshold_data import REST, ZONE, load_scores, start_values, starting_threshold
    from workbench.jobs.evaluate_data import view_roi

    scope, values, source = start_values(policies, {run.id: run.view}, name)
    if values:
        label = f"policy '{source[run.id]}'"
        if scope == ZONE:
            view = project.views.get(run.view)
            rest = float(values.get((run.id, REST), max(values.values())))
            per_pixel = np.full(shape, rest, np.float32)
            if view is not None and view.zones is not None and tuple(view.zones.shape) == tuple(shape):
                for k, zone in enumerate(view.zone_names, start=1):
                    if (run.id, zone) in values:
                        per_pixel[view.zones == k] = values[(run.id, zone)]
            roi = view_roi(project, run.view, shape[0], shape[1])
            return RunThreshold(run.id, label, "pixel", rest, per_pixel, roi)
        return RunThreshold(run.id, label, "image", float(values[(run.id, None)]))
    try:
        t = starting_threshold(load_scores(project, [run.id])[run.id])
        return RunThreshold(run.id, "F1-best on the test split (no policy fits)", "image", t)
    except Exception:  # noqa: BLE001 - no test scores: no threshold to scale by
        return RunThreshold(run.id, "none (no policy and no test scores)", "image", float("nan"))


def load_cells(
    project: Any,
    run_ids: list[str],
    sample_ids: list[int],
    policies: dict[str, dict],
    policy: str | None,
    ring_colors: tuple[tuple, tuple] = ((51, 195, 255), (255, 255, 255)),
) -> Cells:
    """Read every cell of the grid (I/O thread). A run without a stored map for a sample gets None."""
    from workbench.jobs.evaluate_data import AUGMENTATION_KEY, as_rgb

    out = Cells()
    for sid in sample_ids:
        out.images[sid] = as_rgb(project.sample_image(sid))
        out.outlines[sid] = _outline(project.gt_mask(sid))
    for rid in run_ids:
        where: dict[int, tuple[str, int]] = {}
        for res in project.results(run_id=rid):
            if not res.meta.get(AUGMENTATION_KEY):
                where.update({s: (res.id, row) for row, s in enumerate(res.sample_ids)})
        out.maps[rid], out.scores[rid] = {}, {}
        for sid in sample_ids:
            if sid not in where:
                out.maps[rid][sid] = None
                continue
            res_id, row = where[sid]
            try:
                out.maps[rid][sid] = np.asarray(project.result_maps(res_id, [sid])[0], np.float32)
            except Exception:  # noqa: BLE001 - a result stored with scores only: no heatmap to show
                out.maps[rid][sid] = None
            out.scores[rid][sid] = float(project.result_scores(res_id)[row])
        shape = next((m.shape for m in out.maps[rid].values() if m is not None), None)
        if shape is None and sample_ids:
            shape = out.images[sample_ids[0]].shape[:2]
        out.thresholds[rid] = run_threshold(project, project.run(rid), policies, policy, shape)
    out.prepare(*ring_colors)
    return out
