"""The variation grid of issue 15: gap between parts 0 / 0.1 / 1 s x frame size 640x480, 848x480, 1280x720,
1920x1080 x 15, 25, 30, 60 fps x codec (mp4v, H.264 where this machine writes it, MJPG), every cell with
+-30 % speed from part to part, +-15 % brightness drift and one sudden 20 % step, +-4 px camera shake and
a part half in view at the start and the end; half the cells grey-only and half inspect their views off
the frame's centre (templates then cut from the video, as a user cuts them), balanced over every factor."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import cv2
import numpy as np

from workbench.synth.scenes.render import SceneParams, cut_templates
from workbench.synth.scenes.writer import h264_available

GAPS = (0.0, 0.1, 1.0)
SIZES = ((640, 480), (848, 480), (1280, 720), (1920, 1080))
RATES = (15.0, 25.0, 30.0, 60.0)


def codecs() -> tuple[str, ...]:
    return ("mp4v", "h264", "mjpg") if h264_available() else ("mp4v", "mjpg")


def cell_name(p: SceneParams) -> str:
    return (
        f"gap{p.gap_s:g}_{p.width}x{p.height}_{p.fps:g}fps_{p.codec}{'_grey' if p.grey else ''}"
        f"{'' if p.home_at == 0.5 else f'_home{p.home_at:g}'}"
    )


def full_grid(parts: int = 6) -> list[SceneParams]:
    """Every cell of the grid (96 or 144 videos)."""
    cells = []
    n = len(codecs())
    for i, (gap, (w, h), fps, codec) in enumerate(itertools.product(GAPS, SIZES, RATES, codecs())):
        grey = (i + i // n) % 2 == 1  # alternates within every factor
        off = (i // n + i // (n * len(RATES))) % 2 == 1
        home_at = round(0.38 + 0.24 * ((i * 7919) % 97) / 96, 3) if off else 0.5
        cells.append(
            SceneParams(width=w, height=h, fps=fps, gap_s=gap, codec=codec, grey=grey, parts=parts, seed=i,
                        home_at=home_at)
        )  # fmt: skip
    return cells


def ci_grid() -> list[SceneParams]:
    """A few short cells covering every level of every factor, small enough for the test suite."""
    c = codecs()
    picks = [
        (0.0, (640, 480), 15.0, "mp4v", False, 0.5),
        (0.1, (848, 480), 60.0, "mjpg", True, 0.4),
        (1.0, (640, 480), 30.0, c[1], True, 0.5),
        (0.0, (1280, 720), 25.0, "mjpg", False, 0.62),
        (0.1, (1920, 1080), 15.0, "mp4v", True, 0.5),
    ]
    return [
        SceneParams(
            width=w, height=h, fps=fps, gap_s=gap, codec=codec, grey=grey, parts=3, seed=100 + i, home_at=at
        )
        for i, (gap, (w, h), fps, codec, grey, at) in enumerate(picks)
    ]


def templates_for(
    p: SceneParams, out_dir: str | os.PathLike, truth: dict
) -> dict[str, tuple[np.ndarray, tuple[int, int, int] | None]]:
    """{view: (RGB template, origin (frame, x, y) or None)}: the clean reference templates when the views are
    inspected in the frame's centre, else templates cut from the video (keeping where, as `workbench
    template` does)."""
    if p.home_at == 0.5:
        return {
            n: (cv2.cvtColor(cv2.imread(str(Path(out_dir) / v["template"])), cv2.COLOR_BGR2RGB), None)
            for n, v in truth["views"].items()
        }
    return {n: (t, o) for n, (t, o) in cut_templates(out_dir, truth).items()}
