"""The calibrated pass rule: where each view is inspected, how strongly it must match, how the line moves and
how the views of one part follow each other. Calibrated from a video (:mod:`workbench.io.calibrate`), kept
with the imported source and in the line bundle's manifest (``pass_rule``), and run by the one pass tracker
(:mod:`workbench.io.tracker`) for import and line mode alike.

Units: frame pixels, frames (frame indices, so a sampled import and a line reading every frame agree), and
match scores (normalized cross-correlation at the view's coarse scale).
"""

from __future__ import annotations

import base64
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from workbench.io.passes import PassRule

KIND = "match-peaks"


@dataclass(frozen=True)
class ViewTrack:
    """One view's calibration: its inspection position ("home", the template's top-left there) and why it is
    there, the coarse scale it is matched at, the score a pass must reach, and its place along the part."""

    name: str
    home: tuple[float, float]
    home_from: str  # "origin" (cut there), "exact" (found pixel-exact), "peak" (scores peak), "centre"
    scale: float
    threshold: float  # coarse match score within the window that counts as the view being there
    offset: float = 0.0  # travel (px) from the crossing of the part's first view to this view's crossing
    score_noise: float = 0.0  # refined scores closer than this are equally good; the nearer to home wins
    min_score: float = -1.0  # the best frame's full-resolution match must reach this (set by the user)
    path: tuple[float, float] = (0.0, 0.0)  # px along the motion, from home, where the view is in sight
    weights: str = ""  # PNG (base64) of the template's stable parts at the coarse scale; "" = all of it
    refine_radius: float = 0.0  # px the full-resolution match may move from the coarse one (0: the default)
    outline: str = ""  # PNG (base64) of where the template shows background, not the part; "" = not used

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrackRule:
    """How passes are found: every part gives each view one crossing of its home, in a fixed order."""

    views: tuple[ViewTrack, ...]
    axis: tuple[float, float]  # unit vector of the motion in the frame
    speed: tuple[float, float, float]  # low, median, high px per frame along the axis
    window: tuple[float, float]  # half-length along the axis and half-width across it, px
    pitch: float  # shortest usual travel from one part to the next, px
    jitter: float = 1.0  # px a match may move against the motion between frames (shake, match noise)
    pass_frames: float = 0.0  # median frames a pass is tracked (first to last sample of its views)
    pass_spread: float = 0.0  # robust spread (MAD) of that, frames
    frame_size: tuple[int, int] = (0, 0)  # width, height the rule was calibrated on
    reasons: tuple[str, ...] = ()  # why, one line each (shown by import-video and the Import pane)
    calibrated_on: dict[str, Any] = field(default_factory=dict)
    kind: str = KIND

    def view(self, name: str) -> ViewTrack:
        for v in self.views:
            if v.name == name:
                return v
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.views]

    @property
    def order(self) -> list[str]:
        """View names in the order their crossings follow along a part."""
        return [v.name for v in sorted(self.views, key=lambda v: v.offset)]

    def with_thresholds(self, thresholds: dict[str, float]) -> TrackRule:
        """The rule with minimum match scores {view: T} set by the user: a view's best-aligned frame whose
        full-resolution match scores lower counts as not found (flags override the calibration)."""
        views = tuple(
            replace(v, min_score=float(thresholds[v.name])) if v.name in thresholds else v for v in self.views
        )
        return replace(self, views=views)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["views"] = [v.to_dict() for v in self.views]
        d["reasons"] = list(self.reasons)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrackRule:
        if d.get("kind") != KIND:
            raise ValueError(f"pass rule: expected kind '{KIND}', found {d.get('kind')!r}")
        try:
            views = tuple(
                ViewTrack(**{**v, "home": tuple(v["home"]), "path": tuple(v.get("path", (0.0, 0.0)))})
                for v in d["views"]  # type: ignore[arg-type]
            )
            rule = cls(
                views=views,
                axis=tuple(d["axis"]),  # type: ignore[arg-type]
                speed=tuple(d["speed"]),  # type: ignore[arg-type]
                window=tuple(d["window"]),  # type: ignore[arg-type]
                pitch=float(d["pitch"]),
                jitter=float(d.get("jitter", 1.0)),
                pass_frames=float(d.get("pass_frames", 0.0)),
                pass_spread=float(d.get("pass_spread", 0.0)),
                frame_size=tuple(d.get("frame_size", (0, 0))),  # type: ignore[arg-type]
                reasons=tuple(d.get("reasons", ())),
                calibrated_on=dict(d.get("calibrated_on", {})),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"pass rule: a calibrated rule lacks or mistypes {exc}") from exc
        if not views or not all(math.isfinite(x) for x in (*rule.axis, *rule.speed, rule.pitch)):
            raise ValueError("pass rule: a calibrated rule needs views and finite motion figures")
        return rule

    def summary(self) -> list[str]:
        """The rule in a few lines for people: motion, window, per view home and threshold."""
        ax, ay = self.axis
        direction = _direction(ax, ay)
        lo, med, hi = self.speed
        out = [
            f"parts move {direction} at {med:.1f} px/frame ({lo:.1f}-{hi:.1f}); next part every {self.pitch:.0f} px; "
            f"each view is looked for within {self.window[0]:.0f} px of its home along the motion, "
            f"{self.window[1]:.0f} px across",
        ]
        for v in sorted(self.views, key=lambda v: v.offset):
            if v.home_from == "not found":
                out.append(
                    f"view '{v.name}': not found in the calibration video; every pass will list it as not found"
                )
                continue
            out.append(
                f"view '{v.name}': home x={v.home[0]:.0f} y={v.home[1]:.0f} ({HOME_TEXT.get(v.home_from, v.home_from)}), "
                f"found when its window score >= {v.threshold:.2f} (from the video)"
                + (
                    f", its best frame matching >= {v.min_score:.2f} (set by flag)"
                    if v.min_score > -1
                    else ""
                )
                + f", {v.offset:.0f} px after the part's first view"
            )
        return out


HOME_TEXT = {
    "origin": "where its template was cut",
    "exact": "where its template is found pixel-exact in the video",
    "peak": "where its match score peaks",
    "centre": "scores are flat along the path: centred in the frame",
    "not found": "never found in the calibration video",
}


def _direction(ax: float, ay: float) -> str:
    if abs(ax) >= 2 * abs(ay):
        return "left to right" if ax > 0 else "right to left"
    if abs(ay) >= 2 * abs(ax):
        return "top to bottom" if ay > 0 else "bottom to top"
    return f"along ({ax:+.2f}, {ay:+.2f})"


def rule_from_dict(d: dict[str, Any] | None) -> TrackRule | PassRule | None:
    """The rule a source or bundle stored: a calibrated :class:`TrackRule`, a presence :class:`PassRule`
    (older projects and bundles, or a rule forced by flags), or None when nothing was stored."""
    if not d:
        return None
    if d.get("kind") == KIND:
        return TrackRule.from_dict(d)
    fields = {k: v for k, v in d.items() if k in PassRule.__dataclass_fields__}
    return PassRule(**fields)


def encode_weights(weights: np.ndarray) -> str:
    """Base64 PNG of (h, w) float weights in [0, 1] (stored as 0..255)."""
    ok, buf = cv2.imencode(".png", np.clip(np.round(weights * 255.0), 0, 255).astype(np.uint8))
    if not ok:
        raise ValueError("weights could not be encoded")
    return base64.b64encode(buf.tobytes()).decode("ascii")


def decode_weights(text: str, size: tuple[int, int] | None = None) -> np.ndarray | None:
    """(h, w) float32 weights from :func:`encode_weights`, resized to ``size`` (w, h) when given; None for ""."""
    if not text:
        return None
    img = cv2.imdecode(np.frombuffer(base64.b64decode(text), np.uint8), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise ValueError("pass rule: a view's weights are not a readable image")
    w = img.astype(np.float32) / 255.0
    return w if size is None else cv2.resize(w, size, interpolation=cv2.INTER_LINEAR)
