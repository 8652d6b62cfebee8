"""The demo video's schedule: per pass its speed, jitter, lighting, defects and the frames it occupies."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from workbench.synth.demo.defects import KIND_WEIGHTS, KINDS, DefectPlan, sample_defect
from workbench.synth.demo.layout import Layout, check_frame_size

SPEED = 18.5  # design px per frame; 8-20 px per frame keeps the best-aligned frame well defined
SPEED_JITTER = 0.07
GAP_SECONDS = (0.5, 1.0)  # empty conveyor between parts
LEAD_SECONDS = 0.6  # empty conveyor before the first part and after the last


@dataclass
class PassPlan:
    """One pass: motion (front_x = start_x - speed * (f - first_frame)), lighting and defects."""

    index: int
    speed: float
    v_offset: float
    wobble_phase: float
    gain: float
    gradient: float
    first_frame: int
    last_frame: int
    start_x: float
    defects: list[DefectPlan] = field(default_factory=list)

    def front_x(self, frame: int) -> float:
        return self.start_x - self.speed * (frame - self.first_frame)

    def top_y(self, frame: int, layout: Layout) -> float:
        # a per-pass offset plus a slow sub-pixel vibration of the carrier
        vib = 0.4 * layout.scale * math.sin(0.21 * frame + self.wobble_phase)
        return layout.strip_top + self.v_offset + vib

    def best_frame(self, ref_front_x: float) -> int:
        """The frame where the part's front is closest to ``ref_front_x``."""
        k = round((self.start_x - ref_front_x) / self.speed)
        return int(min(max(self.first_frame + k, self.first_frame), self.last_frame))


def check_parameters(passes: int, defect_rate: float, width: int, height: int, fps: float) -> None:
    """Raise ValueError with what was expected when a render parameter is out of range."""
    if not isinstance(passes, int | np.integer) or passes < 1:
        raise ValueError(f"passes must be a whole number >= 1, got {passes!r}")
    if not 0.0 <= float(defect_rate) <= 1.0:
        raise ValueError(f"defect_rate must be a fraction between 0 and 1, got {defect_rate!r}")
    if not 1.0 <= float(fps) <= 240.0:
        raise ValueError(f"fps must be between 1 and 240, got {fps!r}")
    check_frame_size(width, height)


def plan_passes(
    layout: Layout,
    scene_x_range: tuple[float, float],
    passes: int,
    defect_rate: float,
    fps: float,
    rng: np.random.Generator,
) -> tuple[list[PassPlan], int]:
    """Every pass's plan and the total number of frames, deterministic under ``rng``.

    ``scene_x_range`` is the scene x extent the camera sees over the rows the part covers.
    """
    lo, hi = scene_x_range
    n_defective = int(round(defect_rate * passes))
    defective = set(rng.choice(passes, size=n_defective, replace=False).tolist()) if n_defective else set()
    view_names = [v.name for v in layout.views]
    plans: list[PassPlan] = []
    frame = int(round(LEAD_SECONDS * fps))
    for p in range(passes):
        speed = SPEED * layout.scale * (1.0 + rng.uniform(-SPEED_JITTER, SPEED_JITTER))
        start_x = hi - rng.uniform(0.15, 1.0) * speed  # the front edge has just entered on the first frame
        # last frame: the back edge (front_x + strip_w) still right of the frame's left scene edge
        n_visible = int(math.floor((start_x + layout.strip_w - lo) / speed - 1e-9)) + 1
        plan = PassPlan(
            index=p,
            speed=speed,
            v_offset=rng.uniform(-3.0, 3.0) * layout.scale,
            wobble_phase=rng.uniform(0, 2 * math.pi),
            gain=rng.uniform(0.85, 1.12),
            gradient=rng.uniform(-0.12, 0.12),
            first_frame=frame,
            last_frame=frame + n_visible - 1,
            start_x=start_x,
        )
        if p in defective:
            count = 2 if rng.random() < 0.25 else 1
            for view in rng.choice(view_names, size=count, replace=False):
                kind = str(rng.choice(KINDS, p=KIND_WEIGHTS / KIND_WEIGHTS.sum()))
                plan.defects.append(sample_defect(layout, str(view), kind, rng))
        plans.append(plan)
        gap = GAP_SECONDS if p < passes - 1 else (LEAD_SECONDS, LEAD_SECONDS)
        frame = plan.last_frame + 1 + int(round(rng.uniform(*gap) * fps))
    return plans, frame
