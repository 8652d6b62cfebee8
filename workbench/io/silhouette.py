"""Which pixels around a view belong to the moving part and which to the still background, told apart by the
motion itself: a frame and its neighbours agree on the part once shifted by the part's motion, and on the
background unshifted. Where a template reaches the part's outline, that outline is rigid with the part even
when everything inside it differs from part to part (a cookie lying anywhere on its tray)."""

from __future__ import annotations

import cv2
import numpy as np

from workbench.core.image import crop_padded

CONTRAST = 10.0  # grey levels one explanation must beat the other by (well above codec noise)


def part_shift(
    cur: np.ndarray, other: np.ndarray, probe: tuple[int, int, int, int], guess: tuple[float, float]
) -> tuple[int, int]:
    """(dx, dy) px the part moved from grey frame ``cur`` to ``other`` (both (H, W) uint8): where the
    ``probe`` box (x, y, w, h), which lies on the part, matches best within a few px of ``guess``."""
    x, y, w, h = probe
    r = int(np.ceil(3 + 0.25 * np.hypot(*guess)))  # the part's speed changes, the camera may shake
    gx, gy = int(round(guess[0])), int(round(guess[1]))
    patch = crop_padded(cur, x, y, w, h)
    area = crop_padded(other, x + gx - r, y + gy - r, w + 2 * r, h + 2 * r)
    if float(patch.std()) < 1.0:
        return gx, gy
    res = np.nan_to_num(cv2.matchTemplate(area, patch, cv2.TM_CCOEFF_NORMED), nan=-1.0)
    _, _, _, (bx, by) = cv2.minMaxLoc(res)
    return gx + bx - r, gy + by - r


def motion_labels(
    frames: list[tuple[int, np.ndarray]],
    at: int,
    box: tuple[int, int, int, int],
    shift: tuple[float, float],
    probe: tuple[int, int, int, int],
) -> np.ndarray:
    """(h, w) int8 labels of ``box`` (x, y, w, h) in frame ``at``: +1 background, -1 part, 0 undecided.

    ``frames`` [(index, (H, W) uint8 grey)] holds frame ``at`` and its neighbours; ``shift`` (dx, dy) is about
    the part's motion in px per frame, measured exactly on ``probe`` (x, y, w, h), a box on the part. A pixel
    is background where an unshifted neighbour explains it clearly better than one shifted with the part,
    part where the opposite holds; flat areas, pixels the part uncovers or covers, and a camera that shook
    stay undecided."""
    x, y, w, h = box
    by_index = dict(frames)
    gray = by_index[at]
    cur = crop_padded(gray, x, y, w, h).astype(np.float32)
    still, moved = [], []
    for index, other in frames:
        k = index - at
        if k == 0:
            continue
        dx, dy = part_shift(gray, other, probe, (shift[0] * k, shift[1] * k))
        still.append(np.abs(cur - crop_padded(other, x, y, w, h).astype(np.float32)))
        moved.append(np.abs(cur - crop_padded(other, x + dx, y + dy, w, h).astype(np.float32)))
    labels = np.zeros((h, w), np.int8)
    if not still:
        return labels
    rs, rm = (
        np.min(still, axis=0),
        np.min(moved, axis=0),
    )  # a pixel covered in one neighbour shows in the other
    labels[rs + CONTRAST < rm] = 1
    labels[rm + CONTRAST < rs] = -1
    return labels


def reference(labels: list[np.ndarray]) -> np.ndarray:
    """(th, tw) bool: where more than half of the aligned instances' labels (th, tw) say background."""
    return np.sum(np.stack(labels) > 0, axis=0) > len(labels) / 2


def allowed_offsets(labels: np.ndarray, background: np.ndarray) -> np.ndarray:
    """(H - th + 1, W - tw + 1) bool: the template offsets in a region with labels (H, W) that put no more
    background on the template's part, nor part on its ``background`` (th, tw), than the best offset does, up
    to half a pixel of outline.

    All True when the outline says nothing: no labels, the part fills the whole region, or even the best
    offset disagrees with the outline by more than that (labels not to be trusted: the camera shook)."""
    th, tw = background.shape
    bg, part = (labels > 0).astype(np.float32), (labels < 0).astype(np.float32)
    ref = background.astype(np.float32)
    conflicts = cv2.matchTemplate(bg, 1.0 - ref, cv2.TM_CCORR) + cv2.matchTemplate(part, ref, cv2.TM_CCORR)
    tol = 0.5 * min(th, tw)
    best = float(conflicts.min())
    if best > tol:
        return np.ones(conflicts.shape, bool)
    return conflicts <= best + tol
