"""Render a line video of brackets on a moving belt, with what real line videos do and exact truth.

The camera looks down on a modular plastic belt (its texture moves with the parts, so the conveyor is
never an empty, static background). Parts ride the belt left to right with a belt gap between them
(0 = back to back); the belt speed changes from pass to pass (with a short ramp, all parts in view
together). Frames get motion blur (exposure as a fraction of the frame interval), lens vignetting, a slow
brightness drift and one sudden step (a lamp switching), camera shake, a static sensor arm occluding part
of the view, sensor noise, and the codec's compression. The video may start and end with a part half in
view. ``render_scene(out_dir, params)`` writes the video, the views' templates (cut from a clean
reference frame at each view's inspection position, its "home", at ``home_at`` of the frame's width) and
``truth.json``; :func:`cut_templates` cuts them from the decoded video instead, as a user would.

Truth per part: frames where it is visible, and per view the frame where the view is nearest its home
along the motion (only when it reaches home inside the video) with the template's top-left there.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from workbench.synth.scenes.bracket import PART_H, PART_W, VIEWS, random_look, render_part, view_rect
from workbench.synth.scenes.writer import CODECS, open_writer

TRUTH_FORMAT = "workbench-scene-truth"
DESIGN_H = 480.0


@dataclass(frozen=True)
class SceneParams:
    """A line video's settings (speeds in frame heights per second, gap in seconds at nominal speed)."""

    width: int = 848
    height: int = 480
    fps: float = 25.0
    parts: int = 6  # whole parts, besides the half ones at the start and end
    gap_s: float = 0.5
    speed: float = 0.9
    speed_jitter: float = 0.3  # +- fraction, pass to pass
    drift: float = 0.15  # +- brightness drift over the video
    step: float = 0.2  # one sudden brightness change (fraction); 0 for none
    shake: int = 4  # +- px camera shake per frame
    half_parts: bool = True
    grey: bool = False
    codec: str = "mp4v"  # mp4v, h264, mjpg
    exposure: float = 0.3  # motion blur: exposure as a fraction of the frame interval
    noise: float = 2.5  # sensor noise, grey levels
    occluder: bool = True
    defect_rate: float = 0.0
    home_at: float = 0.5  # where along the frame's width a view is inspected (its centre), 0..1
    covered: tuple[tuple[int, str], ...] = ()  # (part, view): a protective sheet hides that view on that part
    seed: int = 0

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise ValueError(f"codec: expected one of {', '.join(CODECS)}; found {self.codec!r}")
        if self.width < 320 or self.height < 240 or self.width < self.height:
            raise ValueError(
                f"frame size: expected a landscape frame of at least 320x240; found {self.width}x{self.height}"
            )
        if (
            not 5 <= self.fps <= 240
            or self.parts < 1
            or self.gap_s < 0
            or not 0 <= self.speed_jitter < 0.9
            or not 0.25 <= self.home_at <= 0.75
        ):
            raise ValueError(f"scene parameters out of range: {self}")

    @property
    def video_name(self) -> str:
        return "line" + CODECS[self.codec]


def _belt(width: int, height: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """(height, 4 * width) float32 BGR periodic texture of a modular plastic belt (hinge lines, wear)."""
    length = 4 * width
    pitch = max(6, int(round(26 * scale)))
    length -= length % pitch
    belt = np.full((height, length, 3), (62, 66, 64), np.float32)
    for x in range(0, length, pitch):
        cv2.line(belt, (x, 0), (x, height - 1), (44, 46, 45), max(1, int(3 * scale)))
        cv2.line(
            belt, (x + max(1, int(3 * scale)), 0), (x + max(1, int(3 * scale)), height - 1), (80, 84, 82), 1
        )
    wear = cv2.GaussianBlur(rng.normal(0, 1, (height, length)).astype(np.float32), (0, 0), 3 * scale)
    belt += 10.0 * wear[:, :, None] / max(float(wear.std()), 1e-6)
    for _ in range(int(length * height / (400 * scale * scale) / 40)):  # specks of dirt
        c = (int(rng.integers(0, length)), int(rng.integers(0, height)))
        v = float(rng.uniform(25, 110))
        cv2.circle(belt, c, max(1, int(rng.uniform(1, 3) * scale)), (v, v, v), -1, cv2.LINE_AA)
    return belt


def _vignette(width: int, height: int) -> np.ndarray:
    u, v = np.meshgrid(
        np.linspace(-1, 1, width, dtype=np.float32), np.linspace(-1, 1, height, dtype=np.float32)
    )
    rr = (u * u + v * v) / 2.0
    return (1.0 / (1.0 + 0.3 * rr) ** 2).astype(np.float32)


def _speed_profile(p: SceneParams, n_guess: int, rng: np.random.Generator) -> np.ndarray:
    """Per frame belt speed (px/frame): a new speed per part, reached with a ramp of 0.4 s."""
    nominal = p.speed * p.height / p.fps
    pieces = []
    ramp = max(1, int(round(0.4 * p.fps)))
    current = nominal * (1 + rng.uniform(-p.speed_jitter, p.speed_jitter))
    while sum(len(x) for x in pieces) < n_guess:
        target = nominal * (1 + rng.uniform(-p.speed_jitter, p.speed_jitter))
        hold = int(round((PART_W / DESIGN_H * p.height + p.gap_s * p.speed * p.height) / target))
        pieces.append(np.linspace(current, target, ramp, endpoint=False))
        pieces.append(np.full(max(hold - ramp, 1), target))
        current = target
    return np.concatenate(pieces)[:n_guess]


def render_scene(out_dir: str | os.PathLike, p: SceneParams = SceneParams()) -> dict:
    """Write ``line.mp4|avi``, ``templates/<view>.png`` and ``truth.json`` to ``out_dir``; return the truth."""
    out = Path(out_dir)
    (out / "templates").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(p.seed)
    W, H = p.width, p.height
    s = H / DESIGN_H
    m = p.shake
    part_w, part_h = int(round(PART_W * s)), int(round(PART_H * s))
    pitch = part_w + int(round(p.gap_s * p.speed * H))  # belt px from one part's left edge to the next
    belt = _belt(W + 2 * m, H + 2 * m, s, rng)
    vign = _vignette(W, H)
    top = (H - part_h) // 2 + m  # canvas row of a part's top edge (before its own offset)
    homes = {}  # view -> home x, y (frame px) = where the template is cut
    for name in VIEWS:
        vx, vy, vw, vh = view_rect(name, s)
        homes[name] = (int(round(p.home_at * W)) - vw // 2, top - m + vy)
    # belt position: part k's left edge is at canvas x = pos - k * pitch + m
    u = rng.uniform(0.3, 0.7) if p.half_parts else None
    start = W - u * part_w if u is not None else -part_w - 2.0
    last_k = p.parts + (1 if p.half_parts else 0)  # index of the last part
    stop_left = -(1 - rng.uniform(0.3, 0.7)) * part_w if p.half_parts else W + 2.0
    travel = stop_left + last_k * pitch - start
    v_nom = p.speed * H / p.fps
    speeds = _speed_profile(p, int(travel / (v_nom * (1 - p.speed_jitter))) + 10, rng)
    pos = start + np.concatenate([[0.0], np.cumsum(speeds)])
    n = int(np.searchsorted(pos, start + travel)) + 1
    pos, speeds = pos[:n], speeds[:n]
    shakes = rng.integers(-m, m + 1, (n, 2)) if m else np.zeros((n, 2), int)
    t_step = int(rng.uniform(0.35, 0.65) * n)
    step_sign = 1.0 if rng.random() < 0.5 else -1.0
    drift_phase = rng.uniform(0, 2 * math.pi)
    gains = [
        (1 + p.drift * math.sin(drift_phase + 2 * math.pi * f / max(n, 1)))
        * (1 + step_sign * p.step if f >= t_step else 1.0)
        for f in range(n)
    ]
    n_parts = last_k + 1
    defect = rng.random(n_parts) < p.defect_rate
    looks = [random_look(rng, bool(d)) for d in defect]
    offsets = rng.integers(-int(3 * s), int(3 * s) + 1, n_parts)
    sprites: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    noise_bank = np.repeat(rng.normal(0, p.noise, (H + 64, W + 64, 1)).astype(np.float32), 3, axis=2)
    vign3 = np.repeat(vign[:, :, None], 3, axis=2)
    arm = (int(0.80 * W), int(0.86 * W), int(0.36 * H))  # the sensor arm: x0, x1, bottom (frame px)

    truth_parts = [
        {"index": k, "first": None, "last": None, "defect": bool(defect[k]), "views": {}}
        for k in range(n_parts)
    ]
    near: dict[tuple[int, str], tuple[float, int, int, int]] = {}
    around: dict[tuple[int, str], dict[str, list[int]]] = {}
    nearest: dict[tuple[int, str], tuple[float, int, int, int]] = {}
    sides: dict[tuple[int, str], tuple[float, float]] = {}
    with_writer = open_writer(out / p.video_name, p.codec, p.fps, (W, H), p.grey)
    try:
        for f in range(n):
            v = float(speeds[min(f, len(speeds) - 1)])
            # the belt moves with the parts (to the right); it has one splice where its texture wraps
            span = belt.shape[1] - W - 2 * m
            xoff = (-int(round(pos[f]))) % span
            canvas = belt[:, xoff : xoff + W + 2 * m].copy()
            for k in range(n_parts):
                x = int(round(pos[f] - k * pitch)) + m
                if x >= W + 2 * m:  # gone downstream
                    sprites.pop(k, None)
                    continue
                if x + part_w <= 0:  # not in view yet
                    continue
                if k not in sprites:
                    img, a = render_part(looks[k], s, np.random.default_rng([p.seed, k]))
                    for ck, cname in p.covered:
                        if ck == k:  # a matt sheet over the view, a little larger than it
                            vx, vy, vw, vh = view_rect(cname, s)
                            sheet = img[max(vy - 6, 0) : vy + vh + 6, max(vx - 6, 0) : vx + vw + 6]
                            sheet[:] = 118.0 + 4.0 * np.random.default_rng([p.seed, k, 7]).normal(
                                0, 1, sheet.shape
                            )
                    sprites[k] = (img, np.repeat(1.0 - a[:, :, None], 3, axis=2))
                img, keep = sprites[k]
                y = top + int(offsets[k])
                x0, x1 = max(x, 0), min(x + part_w, W + 2 * m)
                roi = canvas[y : y + part_h, x0:x1]
                cv2.multiply(roi, keep[:, x0 - x : x1 - x], dst=roi)
                cv2.add(roi, img[:, x0 - x : x1 - x], dst=roi)
                # truth: frame-visible extent (shake included) and each view's distance to its home
                fx = x - m - int(shakes[f, 0])
                if fx < W and fx + part_w > 0:
                    t = truth_parts[k]
                    t["first"] = f if t["first"] is None else t["first"]
                    t["last"] = f
                for name in VIEWS:
                    vx, vy, vw, vh = view_rect(name, s)
                    signed = (x - m + vx) - homes[name][0]  # without shake: the part's true position
                    d = abs(signed)
                    xy = [fx + vx, y - m - int(shakes[f, 1]) + vy]  # where the view is in this frame
                    if d <= 3 * v + 1:
                        around.setdefault((k, name), {})[str(f)] = xy
                    lo, hi = sides.get((k, name), (signed, signed))
                    sides[(k, name)] = (min(lo, signed), max(hi, signed))
                    if d <= v / 2 + 0.5 and ((k, name) not in near or d < near[(k, name)][0]):
                        near[(k, name)] = (d, f, *xy)
                    if (k, name) not in nearest or d < nearest[(k, name)][0]:
                        nearest[(k, name)] = (d, f, *xy)
            blur = int(round(p.exposure * v))
            if blur >= 2:
                canvas = cv2.blur(canvas, (blur, 1))
            if p.occluder:
                x0, x1, bottom = arm
                cv2.rectangle(canvas, (x0 + m, 0), (x1 + m, bottom + m), (28, 30, 34), -1)
                cv2.rectangle(
                    canvas, (x0 + m - 6, bottom + m - 10), (x1 + m + 6, bottom + m), (52, 60, 70), -1
                )
            ox, oy = m + int(shakes[f, 0]), m + int(shakes[f, 1])
            frame = cv2.multiply(canvas[oy : oy + H, ox : ox + W], vign3, scale=gains[f])
            nx, ny = (f * 37) % 64, (f * 53) % 64
            cv2.add(frame, noise_bank[ny : ny + H, nx : nx + W], dst=frame)
            frame8 = cv2.convertScaleAbs(frame)  # saturates to 0..255 (rounding)
            if p.grey:
                frame8 = cv2.cvtColor(frame8, cv2.COLOR_BGR2GRAY)
            with_writer.write(frame8)
    finally:
        with_writer.close()
    for key, (lo, hi) in sides.items():  # passed home between two frames (the speed may change right there)
        if lo <= 0 <= hi and key not in near:
            near[key] = nearest[key]
    for (k, name), (_, f, x, y) in near.items():
        if (k, name) in p.covered:
            truth_parts[k].setdefault("covered", []).append(name)
            continue
        truth_parts[k]["views"][name] = {
            "best_frame": int(f),
            "xy": [int(x), int(y)],
            "xy_at": around.get((k, name), {}),  # the view's top-left in the frames around the best one
        }
    # templates: a nominal part, clean light, no shake, each view at its home
    ref = render_part(
        random_look(np.random.default_rng([p.seed, 999])), s, np.random.default_rng([p.seed, 998])
    )
    templates = {}
    for name in VIEWS:
        vx, vy, vw, vh = view_rect(name, s)
        canvas = belt[:, : W + 2 * m].copy()
        x = homes[name][0] - vx + m
        img, a = ref
        x0, x1 = max(x, 0), min(x + part_w, W + 2 * m)
        roi = canvas[top : top + part_h, x0:x1]
        roi *= 1.0 - a[:, x0 - x : x1 - x, None]
        roi += img[:, x0 - x : x1 - x]
        frame = canvas[m : m + H, m : m + W] * vign3 + noise_bank[:H, :W]
        frame8 = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
        if p.grey:
            frame8 = cv2.cvtColor(cv2.cvtColor(frame8, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        hx, hy = homes[name]
        templates[name] = f"templates/{name}.png"
        cv2.imwrite(str(out / templates[name]), frame8[hy : hy + vh, hx : hx + vw])
    truth = {
        "format": TRUTH_FORMAT,
        "version": 1,
        "video": p.video_name,
        "params": asdict(p),
        "frame_count": n,
        "fps": p.fps,
        "width": W,
        "height": H,
        "views": {
            name: {
                "template": templates[name],
                "home": list(homes[name]),
                "size": list(view_rect(name, s)[2:]),
            }
            for name in VIEWS
        },
        "parts": [t for t in truth_parts if t["first"] is not None],
        "speed_px_per_frame": [round(float(x), 3) for x in speeds],
    }
    tmp = out / "truth.json.tmp"
    tmp.write_text(json.dumps(truth, indent=1))
    os.replace(tmp, out / "truth.json")
    return truth


def cut_templates(
    out_dir: str | os.PathLike, truth: dict
) -> dict[str, tuple[np.ndarray, tuple[int, int, int]]]:
    """{view: (RGB template, (frame, x, y))} cut from the decoded video where the first whole part's view is
    at its home (what ``workbench template --frame F --box ...`` writes)."""
    out = Path(out_dir)
    cap = cv2.VideoCapture(str(out / truth["video"]))
    frames: dict[int, np.ndarray] = {}
    wanted = {}
    for name, view in truth["views"].items():
        part = next(p for p in truth["parts"] if len(p["views"]) == len(truth["views"]))
        f = part["views"][name]["best_frame"]
        x, y = part["views"][name]["xy"]
        wanted[name] = (f, x, y, *view["size"])
    last = max(f for f, *_ in wanted.values())
    for i in range(last + 1):
        ok, frame = cap.read()
        if not ok:
            break
        if any(i == f for f, *_ in wanted.values()):
            frames[i] = frame
    cap.release()
    templates = {}
    for name, (f, x, y, w, h) in wanted.items():
        templates[name] = (cv2.cvtColor(frames[f][y : y + h, x : x + w], cv2.COLOR_BGR2RGB), (f, x, y))
    return templates
