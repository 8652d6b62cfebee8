"""Render the demo station: a video of car underbodies with sealant beads, templates, views and ground truth.

``render_demo(out_dir)`` writes ``demo.mp4``, ``templates/``, ``views/``, ``views.json``, ``masks/`` and,
last, ``truth.json``; a directory without ``truth.json`` is an incomplete (cancelled or failed) render.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.synth.demo.bead import Stroke, render_strip, zone_labels
from workbench.synth.demo.camera import Camera
from workbench.synth.demo.defects import apply_defect, nominal_strokes, vary
from workbench.synth.demo.layout import Layout
from workbench.synth.demo.panel import build_conveyor, build_panel, smooth_noise
from workbench.synth.demo.plan import PassPlan, check_parameters, plan_passes
from workbench.synth.demo.video import FrameWriter

TRUTH_FORMAT = "workbench-demo-truth"
VIEWS_FORMAT = "workbench-demo-views"
MASK_THRESHOLD = 12  # grey levels: smaller differences (the fading edge of a shadow) are not part of a defect
Track = list[tuple[int, tuple[int, int, int, int], np.ndarray]]  # (frame, bbox x y w h, mask crop) per frame


def render_demo(
    out_dir: str | os.PathLike,
    *,
    passes: int = 40,
    defect_rate: float = 0.1,
    seed: int = 0,
    width: int = 848,
    height: int = 480,
    fps: float = 25,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> dict:
    """Write a demo station video with its templates, views and ground truth to ``out_dir``; return the truth."""
    check_parameters(passes, defect_rate, width, height, fps)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "truth.json").unlink(missing_ok=True)  # the completion marker goes last
    for sub in ("templates", "views", "masks"):
        (out / sub).mkdir(exist_ok=True)
    for old in (out / "masks").iterdir():
        old.unlink()

    ss = np.random.SeedSequence(seed)
    r_scene, r_cam, r_plan, r_frames, r_tmpl = (np.random.default_rng(c) for c in ss.spawn(5))
    layout = Layout(width, height)
    camera = Camera(width, height, r_cam)
    camera.set_background(build_conveyor(width, height, layout.scale, r_scene))
    panel = build_panel(layout, r_scene)
    texture = 1.0 + 0.035 * smooth_noise(r_scene, panel.shape[:2], 6 * layout.scale)
    # the part's rows, kept clear of the vertical jitter, decide when it counts as visible
    margin = 4 * layout.scale
    seen = camera.visible_x_range(layout.strip_top + margin, layout.strip_top + layout.strip_h - margin)
    plans, n_frames = plan_passes(layout, seen, passes, defect_rate, fps, r_plan)
    progress(0.0, "rendering templates and views")
    views_doc = _write_views(out, layout, camera, panel, texture, r_tmpl)
    cancel.raise_if_cancelled()

    passes_doc = []
    frame = 0
    with FrameWriter(out / "demo.mp4", fps, (width, height)) as writer:
        for plan in plans:
            light = camera.lighting(plan.gain, plan.gradient)
            while frame < plan.first_frame:
                cancel.raise_if_cancelled()
                writer.write(camera.frame(None, 0.0, 0.0, light, r_frames))
                frame += 1
            strip, defect_masks = _pass_strip(layout, panel, texture, plan, seed, cancel)
            tracks: list[Track] = [[] for _ in defect_masks]
            while frame <= plan.last_frame:
                cancel.raise_if_cancelled()
                fx, ty = plan.front_x(frame), plan.top_y(frame, layout)
                writer.write(camera.frame(strip, fx, ty, light, r_frames))
                for mask, track in zip(defect_masks, tracks):
                    warped = np.where(camera.warp(mask, fx, ty) >= 128, 255, 0).astype(np.uint8)
                    x, y, w, h = cv2.boundingRect(warped)
                    if w:
                        track.append((frame, (x, y, w, h), warped[y : y + h, x : x + w]))
                frame += 1
                if frame % 25 == 0:
                    progress(
                        0.03 + 0.95 * frame / n_frames,
                        f"pass {plan.index + 1}/{passes}, frame {frame}/{n_frames}",
                    )
            passes_doc.append(_pass_truth(out, layout, plan, tracks, views_doc))
        light = camera.lighting(1.0, 0.0)
        while frame < n_frames:
            cancel.raise_if_cancelled()
            writer.write(camera.frame(None, 0.0, 0.0, light, r_frames))
            frame += 1

    truth = {
        "format": TRUTH_FORMAT,
        "version": 1,
        "video": "demo.mp4",
        "views_file": "views.json",
        "fps": float(fps),
        "width": width,
        "height": height,
        "frame_count": n_frames,
        "seed": seed,
        "parameters": {
            "passes": passes,
            "defect_rate": defect_rate,
            "seed": seed,
            "width": width,
            "height": height,
            "fps": float(fps),
        },
        "views": [v.name for v in layout.views],
        "passes": passes_doc,
    }
    _write_json(out / "truth.json", truth)
    progress(1.0, f"rendered {passes} passes, {n_frames} frames")
    return truth


def _pass_strip(
    layout: Layout, panel: np.ndarray, texture: np.ndarray, plan: PassPlan, seed: int, cancel: CancelToken
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The pass's underbody strip (uint8 BGR) and per defect the exact changed pixels (uint8 0/255)."""
    rng = np.random.default_rng([seed, 1000 + plan.index])
    strokes = vary(nominal_strokes(layout), rng, layout.scale)
    if not plan.defects:
        return render_strip(panel, strokes, texture=texture)[0], []
    clean = render_strip(panel, strokes, texture=texture)[0]
    masks = []
    edited, voids = strokes, []
    for d in plan.defects:
        cancel.raise_if_cancelled()
        one, one_voids = apply_defect(strokes, d, layout.scale)
        img = render_strip(panel, one, tuple(one_voids), texture=texture)[0]
        masks.append(np.where(cv2.absdiff(img, clean).max(axis=2) > MASK_THRESHOLD, 255, 0).astype(np.uint8))
        edited, more = apply_defect(edited, d, layout.scale)
        voids += more
    return render_strip(panel, edited, tuple(voids), texture=texture)[0], masks


def _pass_truth(out: Path, layout: Layout, plan: PassPlan, tracks: list[Track], views_doc: dict) -> dict:
    """The truth entry of one pass; writes its defect masks."""
    views = {}
    for v, vd in zip(layout.views, views_doc["views"]):
        best = plan.best_frame(v.ref_front_x)
        dx = plan.front_x(best) - v.ref_front_x
        dy = plan.top_y(best, layout) - layout.strip_top
        tx, ty = v.template_rect[0] + int(round(dx)), v.template_rect[1] + int(round(dy))
        ox, oy = vd["crop"][:2]
        views[v.name] = {
            "best_frame": best,
            "template_xy": [tx, ty],
            "crop_xy": [tx + ox, ty + oy],
            "defective": False,
        }
    defects = []
    for j, (d, track) in enumerate(zip(plan.defects, tracks)):
        view = views[d.view]
        best = view["best_frame"]
        at_best = [(box, crop) for f, box, crop in track if f == best]
        if not at_best:
            raise RuntimeError(
                f"pass {plan.index}: defect {j} is not visible at its view's best frame {best}"
            )
        (bx, by, bw, bh), crop = at_best[0]
        mask = np.zeros((layout.height, layout.width), np.uint8)
        mask[by : by + bh, bx : bx + bw] = crop
        view["defective"] = True
        name = f"pass{plan.index:03d}_{d.view}_d{j}_f{best:06d}.png"
        _imwrite(out / "masks" / name, mask)
        track_name = f"pass{plan.index:03d}_d{j}_frames.npz"
        _save_track(out / "masks" / track_name, track)
        x, y, w, h = cv2.boundingRect(mask)
        area = int(np.count_nonzero(mask))
        vg = layout.view(d.view)
        defects.append(
            {
                "id": j,
                "type": d.kind,
                "view": d.view,
                "zone": d.zone,
                "zone_name": vg.zone_names[d.zone - 1],
                "best_frame": best,
                "area_px": area,
                "area_fraction": area / (layout.width * layout.height),
                "bbox": [x, y, w, h],
                "mask": f"masks/{name}",
                "frame_masks": f"masks/{track_name}",
                "visible_frames": [track[0][0], track[-1][0]],
            }
        )
    return {
        "index": plan.index,
        "first_frame": plan.first_frame,
        "last_frame": plan.last_frame,
        "speed_px_per_frame": plan.speed,
        "vertical_offset_px": plan.v_offset,
        "gain": plan.gain,
        "gradient": plan.gradient,
        "defective": bool(defects),
        "views": views,
        "defects": defects,
    }


def _save_track(path: Path, track: Track) -> None:
    """Every frame's mask of one defect, cropped to its box: frames (K,), bboxes (K, 4) x y w h, masks (K, h, w)."""
    boxes = np.array([box for _, box, _ in track], np.int32).reshape(-1, 4)
    crops = np.zeros((len(track), int(boxes[:, 3].max()), int(boxes[:, 2].max())), np.uint8)
    for k, (_, (_, _, w, h), crop) in enumerate(track):
        crops[k, :h, :w] = crop
    np.savez_compressed(path, frames=np.array([f for f, _, _ in track], np.int32), bboxes=boxes, masks=crops)


def _write_views(
    out: Path,
    layout: Layout,
    camera: Camera,
    panel: np.ndarray,
    texture: np.ndarray,
    rng: np.random.Generator,
) -> dict:
    """Templates from a defect-free nominal pass at each view's reference position, ROI masks, zones."""
    strokes = nominal_strokes(layout)
    strip, alpha = render_strip(panel, strokes, texture=texture)
    coverage = np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)
    light = camera.lighting(1.0, 0.0)
    views = []
    for v in layout.views:
        frame = camera.frame(strip, v.ref_front_x, layout.strip_top, light, rng)
        tx, ty, tw, th = v.template_rect
        ox, oy, cw, ch = v.crop_offset
        x0, y0 = tx + ox, ty + oy
        _imwrite(out / "templates" / f"{v.name}.png", frame[ty : ty + th, tx : tx + tw])
        roi = camera.warp(coverage, v.ref_front_x, layout.strip_top)[y0 : y0 + ch, x0 : x0 + cw]
        _imwrite(out / "views" / f"{v.name}_roi.png", np.where(roi >= 128, 255, 0).astype(np.uint8))
        own = [strokes[i] for i in v.bead_ids]
        labels = [_zone_of_points(layout, st) for st in own]
        zones = zone_labels(strip.shape[:2], own, labels)
        zones_frame = camera.warp(zones, v.ref_front_x, layout.strip_top, nearest=True)[
            y0 : y0 + ch, x0 : x0 + cw
        ]
        _imwrite(out / "views" / f"{v.name}_zones.png", zones_frame)
        views.append(
            {
                "name": v.name,
                "template": f"templates/{v.name}.png",
                "template_rect": [tx, ty, tw, th],
                "crop": [ox, oy, cw, ch],
                "roi_mask": f"views/{v.name}_roi.png",
                "zones": f"views/{v.name}_zones.png",
                "zone_names": list(v.zone_names),
                "reference_front_x": v.ref_front_x,
            }
        )
    doc = {
        "format": VIEWS_FORMAT,
        "version": 1,
        "width": layout.width,
        "height": layout.height,
        "note": "template_rect in the reference frame; crop relative to the template's top-left; ROI and zone "
        "images in crop coordinates (ROI 0/255, zones 1..n as listed in zone_names, a full partition)",
        "views": views,
    }
    _write_json(out / "views.json", doc)
    return doc


def _zone_of_points(layout: Layout, st: Stroke) -> np.ndarray:
    bead = layout.beads[st.bead_id]
    idx = np.clip(
        np.searchsorted(bead.zone_edges, st.arclength, side="right") - 1, 0, len(bead.zone_edges) - 2
    )
    return (bead.zone_first + idx).astype(np.uint8)


def _imwrite(path: Path, img: np.ndarray) -> None:
    if not cv2.imwrite(str(path), img):
        raise OSError(f"could not write {path}")


def _write_json(path: Path, doc: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1))
    os.replace(tmp, path)
