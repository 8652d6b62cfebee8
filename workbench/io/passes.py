"""Part passes in a video: a per-frame presence signal and its segmentation into (first, last) runs.

The presence signal is a statistic of a downscaled, blurred grey frame against an empty-conveyor
reference (mean absolute difference in grey levels, or the fraction of changed pixels). A pass
starts when the signal reaches ``high`` and ends when it falls below ``low`` (hysteresis); gaps
shorter than ``min_gap`` frames are bridged and passes shorter than ``min_pass`` frames dropped.
:class:`PassSegmenter` does this online (one frame at a time, as the import reads the video) and
:func:`segment_passes` offline on a whole signal, with identical results.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from workbench.core.image import to_gray, to_uint8

STATISTICS = ("mean_abs_diff", "changed_fraction")


@dataclass(frozen=True)
class PassRule:
    """How passes are found. Thresholds are in the statistic's unit (grey levels or a fraction)."""

    statistic: str = "mean_abs_diff"
    high: float = 12.0
    low: float = 8.0
    min_pass: int = 5  # frames
    min_gap: int = 5  # frames
    scale: float = 0.125
    change_level: float = 25.0  # grey levels, for "changed_fraction"
    reference: str | int = (
        "first"  # "first" sampled frame, "median" of frames spread over the video, or an index
    )

    def __post_init__(self) -> None:
        numbers = {"high": self.high, "low": self.low, "scale": self.scale, "change_level": self.change_level}
        bad = [k for k, v in numbers.items() if not (isinstance(v, int | float) and math.isfinite(v))]
        if bad:
            raise ValueError(f"pass rule: {bad[0]} must be a finite number, found {numbers[bad[0]]}")
        if self.statistic not in STATISTICS:
            raise ValueError(f"pass statistic must be one of {STATISTICS}, found '{self.statistic}'")
        if self.low > self.high:
            raise ValueError(f"pass rule: low threshold {self.low} is above high threshold {self.high}")
        if self.min_pass < 1 or self.min_gap < 0:
            raise ValueError(
                f"pass rule: min_pass must be >= 1 and min_gap >= 0, found {self.min_pass}, {self.min_gap}"
            )
        if isinstance(self.reference, str) and self.reference not in ("first", "median"):
            raise ValueError(
                f"pass rule: reference must be 'first', 'median' or a frame index, found '{self.reference}'"
            )
        if not 0 < self.scale <= 1:
            raise ValueError(f"pass rule: scale must be in (0, 1], found {self.scale}")

    def to_dict(self) -> dict:
        return asdict(self)


def presence_thumbnail(frame: np.ndarray, scale: float) -> np.ndarray:
    """(h, w) float32 downscaled, lightly blurred grey of a frame, compared against the reference.

    Blurring makes the statistic insensitive to sensor noise and single-pixel jitter.
    """
    gray = to_gray(to_uint8(frame))
    H, W = gray.shape
    small = cv2.resize(
        gray, (max(1, round(W * scale)), max(1, round(H * scale))), interpolation=cv2.INTER_AREA
    )
    return cv2.GaussianBlur(small.astype(np.float32), (3, 3), 0)


def presence_value(thumb: np.ndarray, reference: np.ndarray, rule: PassRule) -> float:
    """The presence statistic of one thumbnail against the empty-conveyor reference thumbnail."""
    diff = np.abs(thumb - reference)
    if rule.statistic == "mean_abs_diff":
        return float(diff.mean())
    return float((diff > rule.change_level).mean())


class PassSegmenter:
    """Online hysteresis segmentation: feed (frame index, value) in increasing order, get passes.

    ``push`` returns the passes that became final with this frame; ``finish`` returns the rest.
    """

    def __init__(self, rule: PassRule) -> None:
        self.rule = rule
        self._on = False
        self._first: int | None = None  # first frame of the open pass
        self._last_on: int | None = None  # last frame of the open pass that was ON

    @property
    def open_pass(self) -> tuple[int, int] | None:
        """(first, last ON frame) of the pass being built, or None between passes."""
        return None if self._first is None else (self._first, self._last_on)

    @property
    def is_on(self) -> bool:
        return self._on

    def _close(self) -> list[tuple[int, int]]:
        first, last = self._first, self._last_on
        self._first = self._last_on = None
        if first is not None and last - first + 1 >= self.rule.min_pass:
            return [(first, last)]
        return []

    def push(self, index: int, value: float) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        if self._on:
            self._on = value >= self.rule.low
        else:
            self._on = value >= self.rule.high
        if self._on:
            if self._first is not None and index - self._last_on - 1 >= max(self.rule.min_gap, 1):
                out = self._close()
            if self._first is None:
                self._first = index
            self._last_on = index
        elif self._first is not None and index - self._last_on >= max(self.rule.min_gap, 1):
            out = self._close()
        return out

    def finish(self) -> list[tuple[int, int]]:
        self._on = False
        return self._close()


def segment_passes(
    signal: np.ndarray, rule: PassRule, frames: np.ndarray | None = None
) -> list[tuple[int, int]]:
    """[(first, last)] frame indices of the passes in a per-frame presence signal (N,) float.

    ``frames`` (N,) gives the frame index of each value when frames were sampled (default 0..N-1).
    """
    signal = np.asarray(signal, np.float64)
    frames = np.arange(len(signal)) if frames is None else np.asarray(frames)
    seg = PassSegmenter(rule)
    passes: list[tuple[int, int]] = []
    for index, value in zip(frames.tolist(), signal.tolist(), strict=True):
        passes += seg.push(int(index), value)
    return passes + seg.finish()
