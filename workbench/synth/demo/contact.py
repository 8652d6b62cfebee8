"""A contact sheet of a rendered demo station: each pass's samples per view, defects outlined in red."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

HEADER = 26  # px above each tile for its caption


def contact_sheet(
    out_dir: str | os.PathLike,
    path: str | os.PathLike,
    max_passes: int = 8,
    *,
    defective_first: bool = True,
    tile_scale: float = 0.6,
) -> Path:
    """Write a PNG grid of best-view crops (rows = passes, columns = views) with defect outlines; return its path.

    With ``defective_first`` the rows show defective passes first (in pass order), then normal ones.
    """
    out = Path(out_dir)
    truth_path = out / "truth.json"
    if not truth_path.is_file():
        raise FileNotFoundError(f"{truth_path} not found: render_demo did not finish in {out}")
    truth = json.loads(truth_path.read_text())
    views = json.loads((out / "views.json").read_text())["views"]
    if max_passes < 1:
        raise ValueError(f"max_passes must be >= 1, got {max_passes}")
    passes = truth["passes"]
    if defective_first:
        passes = [p for p in passes if p["defective"]] + [p for p in passes if not p["defective"]]
    passes = sorted(passes[:max_passes], key=lambda p: p["index"])

    wanted = {p["views"][v["name"]]["best_frame"] for p in passes for v in views}
    frames = _read_frames(out / truth["video"], wanted)
    col_w = [int(round(v["crop"][2] * tile_scale)) for v in views]
    row_h = int(round(max(v["crop"][3] for v in views) * tile_scale)) + HEADER
    gap = 6
    sheet = np.full((len(passes) * (row_h + gap) + gap, sum(col_w) + gap * (len(views) + 1), 3), 24, np.uint8)
    for r, p in enumerate(passes):
        x = gap
        for c, v in enumerate(views):
            pv = p["views"][v["name"]]
            tile = _tile(out, frames[pv["best_frame"]], pv, v, p["defects"], tile_scale)
            y = gap + r * (row_h + gap)
            sheet[y + HEADER : y + HEADER + tile.shape[0], x : x + tile.shape[1]] = tile
            kinds = ", ".join(d["type"] for d in p["defects"] if d["view"] == v["name"])
            caption = f"pass {p['index']} {v['name']} f{pv['best_frame']}" + (f"  {kinds}" if kinds else "")
            colour = (80, 80, 255) if kinds else (210, 210, 210)
            cv2.putText(
                sheet,
                caption,
                (x + 2, y + HEADER - 8),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.45,
                colour,
                1,
                cv2.LINE_AA,
            )
            x += col_w[c] + gap
    target = Path(path)
    if not cv2.imwrite(str(target), sheet):
        raise OSError(f"could not write {target}")
    return target


def _tile(
    out: Path, frame: np.ndarray, pv: dict, view: dict, defects: list[dict], scale: float
) -> np.ndarray:
    """The sample crop with its defects outlined, scaled by ``scale``."""
    x, y = pv["crop_xy"]
    w, h = view["crop"][2:]
    fh, fw = frame.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, fw), min(y + h, fh)
    tile = np.zeros((h, w, 3), np.uint8)
    tile[y0 - y : y1 - y, x0 - x : x1 - x] = frame[y0:y1, x0:x1]
    tile = cv2.resize(tile, (int(round(w * scale)), int(round(h * scale))), interpolation=cv2.INTER_AREA)
    for d in defects:
        if d["view"] != view["name"]:
            continue
        mask = cv2.imread(str(out / d["mask"]), cv2.IMREAD_GRAYSCALE)
        crop = np.zeros((h, w), np.uint8)
        crop[y0 - y : y1 - y, x0 - x : x1 - x] = mask[y0:y1, x0:x1]
        crop = cv2.resize(crop, (tile.shape[1], tile.shape[0]), interpolation=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(crop, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(tile, contours, -1, (40, 40, 255), 1, cv2.LINE_AA)
    return tile


def _read_frames(video: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    """The wanted frames, read in order (seeking in mp4 is not frame-exact everywhere)."""
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise OSError(f"cannot open video {video}")
    frames, index, last = {}, 0, max(wanted)
    try:
        while index <= last:
            ok, frame = cap.read()
            if not ok:
                raise OSError(f"{video} ended at frame {index}; the truth needs frame {last}")
            if index in wanted:
                frames[index] = frame
            index += 1
    finally:
        cap.release()
    return frames
