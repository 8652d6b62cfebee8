"""Import job: a video becomes one sample per pass and view (plus optional top-k extras).

Everything is extracted in memory first; the source, views and samples enter the project only at
the end, so an error or a cancel leaves the project as it was. The caller saves.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np

from workbench.core.matching import cut_template, default_window, prepare_template
from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress, sub_progress
from workbench.core.view_roi import planes_for_crop
from workbench.io.extract import Extraction, PassRecord, ViewSpec, extract_samples
from workbench.io.passes import PassRule
from workbench.io.track_rule import TrackRule
from workbench.io.video import FrameRange, probe
from workbench.project.types import CropWindow, ViewInfo

log = logging.getLogger(__name__)


@dataclass
class ImportVideoResult:
    """What an import added and what it found: ids, the pass rule used, passes (with status), the per-frame
    signals and problems."""

    source: str
    sample_ids: list[int]
    passes: list[tuple[int, int]]
    frames: np.ndarray  # (N,) sampled frame indices
    presence: np.ndarray  # (N,) float32 one signal for a quick look (see Extraction.presence)
    unmatched: list[tuple[int, str, float]]  # (pass, view, best score) of passes where a view was missing
    warnings: list[str] = field(default_factory=list)
    fine_matches: int = 0
    rule: TrackRule | PassRule | None = None
    records: list[PassRecord] = field(default_factory=list)
    signals: np.ndarray | None = None  # (N, S) per view window score (or presence)
    signal_names: list[str] = field(default_factory=list)
    thresholds: list[float] = field(default_factory=list)
    skipped: int = 0

    @property
    def suspects(self) -> list[PassRecord]:
        return [r for r in self.records if r.status == "suspect"]


def centred_window(
    template_w: int, template_h: int, frame_w: int, frame_h: int, w: int, h: int
) -> CropWindow:
    """A (w, h) crop window centred on the template match, never larger than the frame."""
    w, h = min(w, frame_w), min(h, frame_h)
    return CropWindow(-((w - template_w) // 2), -((h - template_h) // 2), w, h)


def view_from_rectangle(
    name: str,
    frame: np.ndarray,
    rect: tuple[int, int, int, int],
    frame_index: int = 0,
    window: tuple[int, int] | None = None,
    margin: int = 16,
    threshold: float = 0.6,
) -> ViewInfo:
    """A new view whose template is the rectangle (x, y, w, h) cut from ``frame`` (the GUI's
    "cut template" action); the crop window is ``window`` (w, h) or the template plus ``margin``,
    centred on the template and clipped to the frame."""
    x, y, w, h = rect
    template = cut_template(frame, x, y, w, h)
    prepare_template(template, name)
    H, W = frame.shape[:2]
    if window is not None:
        crop = centred_window(w, h, W, H, *window)
    else:
        crop = CropWindow(*default_window(w, h, W, H, margin))
    return ViewInfo(name, template, crop, threshold, template_origin=(int(frame_index), int(x), int(y)))


def import_video(
    project,
    video: str | os.PathLike,
    templates: dict[str, np.ndarray] | None = None,
    match_threshold: float | dict[str, float] | None = None,
    window: tuple[int, int] | None = None,
    sampling: FrameRange = FrameRange(),
    rule: PassRule | TrackRule | None = None,
    top_k: int = 1,
    margin: int = 16,
    origins: dict[str, tuple[int, int, int]] | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> ImportVideoResult:
    """Add ``video`` as a source and one sample per pass and view to ``project``.

    ``templates`` {view name: image} replaces/creates views (window: ``window`` (w, h) centred on
    the template, or the template plus ``margin`` px per side, clipped to the frame); None uses the
    project's views as they are. ``rule`` None calibrates the pass rule from the video (a
    :class:`TrackRule` is used as given, a :class:`PassRule` forces the presence thresholds);
    ``match_threshold`` sets the minimum match score of a view's best frame (and the views' own
    thresholds); ``origins`` {view: (frame, x, y)} says where given templates were cut.
    """
    info = probe(video)
    existing = project.views
    views: dict[str, ViewInfo] = {}
    if templates:
        for name, tpl in templates.items():
            prepare_template(tpl, name)  # flat or tiny templates fail here, with the view name
            th, tw = tpl.shape[:2]
            if tw > info["width"] or th > info["height"]:
                raise ValueError(
                    f"template of view '{name}' is {tw}x{th} px, larger than the frames of "
                    f"'{os.path.basename(os.fspath(video))}' ({info['width']}x{info['height']} px)"
                )
            if window is not None:
                crop = centred_window(tw, th, info["width"], info["height"], *window)
            else:
                crop = CropWindow(*default_window(tw, th, info["width"], info["height"], margin))
            old = existing.get(name)
            # ROI and zones stay on the part when the same template gets another crop window; drawn
            # relative to another template they cannot be placed.
            keep = old is not None and old.template.shape == tpl.shape and np.array_equal(old.template, tpl)
            roi, zones = planes_for_crop(old.roi, old.zones, old.crop, crop) if keep else (None, None)
            views[name] = ViewInfo(
                name=name,
                template=np.ascontiguousarray(tpl),
                crop=crop,
                match_threshold=old.match_threshold if old else 0.6,
                roi=roi,
                roi_margin=old.roi_margin if old else 0,
                zones=zones,
                zone_names=list(old.zone_names) if keep else [],
                template_origin=(origins or {}).get(name),
            )
    else:
        views = dict(existing)
        if window is not None:
            for v in views.values():
                th, tw = v.template.shape[:2]
                crop = centred_window(tw, th, info["width"], info["height"], *window)
                v.roi, v.zones = planes_for_crop(v.roi, v.zones, v.crop, crop)
                v.crop = crop
    if not views:
        raise ValueError("no views: give at least one template (NAME=PNG) or define views in the project")
    given: dict[str, float] = {}
    for name, v in views.items():
        if isinstance(match_threshold, dict):
            if name in match_threshold:
                given[name] = v.match_threshold = float(match_threshold[name])
        elif match_threshold is not None:
            given[name] = v.match_threshold = float(match_threshold)
        if not -1.0 <= v.match_threshold <= 1.0:
            raise ValueError(
                f"match threshold of view '{name}' must be in [-1, 1], found {v.match_threshold}"
            )
    specs = [
        ViewSpec(
            v.name, v.template, v.match_threshold, (v.crop.x, v.crop.y, v.crop.w, v.crop.h),
            origin=_origin_of(v),
        )
        for v in views.values()
    ]  # fmt: skip
    ex: Extraction = extract_samples(
        video,
        specs,
        rule,
        sampling,
        top_k,
        given or None,
        progress=sub_progress(progress, 0.0, 0.95),
        cancel=cancel,
    )
    cancel.raise_if_cancelled()
    for w in ex.warnings:
        log.warning(w)
    progress(0.96, "adding samples to the project")
    meta = {
        "fps": ex.fps,
        "frames": ex.frame_count,
        "width": ex.width,
        "height": ex.height,
        "sampling": {"start": sampling.start, "stop": sampling.stop, "every": sampling.every},
        "pass_rule": ex.rule.to_dict(),
        "passes": [list(p) for p in ex.passes],
        "pass_status": [r.to_dict() for r in ex.records],
        "unmatched": [[p, v] for p, v, _ in ex.unmatched],
    }
    source = project.add_source("video", os.path.abspath(os.fspath(video)), meta)
    for v in views.values():
        project.set_view(v)
    infos = [
        {
            "source": source,
            "pass_index": s.pass_index,
            "view": s.view,
            "frame": s.frame,
            "x": s.x,
            "y": s.y,
            "match_score": s.score,
            "meta": {
                "rank": s.rank,
                "match_x": s.match_x,
                "match_y": s.match_y,
                "clipped": s.clipped,
                **({"pass_status": s.status, "pass_reasons": list(s.reasons)} if s.status != "ok" else {}),
            },
        }
        for s in ex.samples
    ]
    ids = project.add_samples([s.image for s in ex.samples], infos) if infos else []
    progress(1.0, f"{len(ids)} samples from {len(ex.passes)} passes")
    return ImportVideoResult(
        source, ids, ex.passes, ex.frames, ex.presence, ex.unmatched, ex.warnings, ex.fine_matches,
        ex.rule, ex.records, ex.signals, ex.signal_names, ex.thresholds, ex.skipped,
    )  # fmt: skip


def _origin_of(view: ViewInfo) -> tuple[float, ...] | None:
    """(x, y, frame) where the view's template was cut; (x, y) when the frame is of another video (< 0)."""
    if view.template_origin is None:
        return None
    frame, x, y = view.template_origin
    return (float(x), float(y), int(frame)) if frame >= 0 else (float(x), float(y))
