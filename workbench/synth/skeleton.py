"""Centrelines of a binary shape: one-pixel skeleton (Zhang-Suen thinning) traced into ordered polylines.

OpenCV's ``ximgproc.thinning`` is not in the headless wheel, so thinning is done here with numpy: each
pass is a handful of whole-array operations, and a bead ~20 px wide needs about ten passes.
"""

from __future__ import annotations

import numpy as np

# neighbour offsets (dy, dx) in Zhang-Suen order P2..P9: N, NE, E, SE, S, SW, W, NW
_NBRS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def thin(mask: np.ndarray, max_passes: int = 200) -> np.ndarray:
    """The one-pixel-wide skeleton (H, W) bool of a binary shape (H, W), topology kept (Zhang-Suen)."""
    img = np.pad(np.asarray(mask, bool), 1).astype(np.uint8)
    h, w = img.shape
    for _ in range(max_passes):
        changed = False
        for step in (0, 1):
            p = [img[1 + dy : h - 1 + dy, 1 + dx : w - 1 + dx] for dy, dx in _NBRS]
            core = img[1:-1, 1:-1]
            b = sum(x.astype(np.int16) for x in p)
            a = sum(((p[k] == 0) & (p[(k + 1) % 8] == 1)).astype(np.int16) for k in range(8))
            if step == 0:
                c = (p[0] * p[2] * p[4] == 0) & (p[2] * p[4] * p[6] == 0)
            else:
                c = (p[0] * p[2] * p[6] == 0) & (p[0] * p[4] * p[6] == 0)
            kill = (core == 1) & (b >= 2) & (b <= 6) & (a == 1) & c
            if kill.any():
                core[kill] = 0
                changed = True
        if not changed:
            break
    return img[1:-1, 1:-1].astype(bool)


def _neighbours(pix: set[tuple[int, int]], y: int, x: int) -> list[tuple[int, int]]:
    return [(y + dy, x + dx) for dy, dx in _NBRS if (y + dy, x + dx) in pix]


def _c8(pix: set[tuple[int, int]], y: int, x: int) -> int:
    """Yokoi's 8-connectivity number: 1 where removing the pixel keeps the shape connected, >= 3 at a junction."""
    # ring from E counter-clockwise (image rows grow downwards): E, NE, N, NW, W, SW, S, SE
    ring = [
        (y, x + 1),
        (y - 1, x + 1),
        (y - 1, x),
        (y - 1, x - 1),
        (y, x - 1),
        (y + 1, x - 1),
        (y + 1, x),
        (y + 1, x + 1),
    ]
    off = [q not in pix for q in ring]
    return sum(int(off[k] and not (off[k] and off[k + 1] and off[(k + 2) % 8])) for k in (0, 2, 4, 6))


def _make_8thin(pix: set[tuple[int, int]]) -> None:
    """Remove staircase corners (pixels whose two neighbours touch each other), in place."""
    for q in sorted(pix):
        if len(_neighbours(pix, *q)) >= 2 and _c8(pix, *q) == 1:
            pix.discard(q)


def trace(skeleton: np.ndarray, min_spur: float = 0.0) -> list[np.ndarray]:
    """Ordered polylines (each (N, 2) float x, y) of a skeleton, split at junctions; spurs under ``min_spur`` dropped.

    Branches meeting at a junction end on the junction's centre, so a T-junction gives three lines that
    touch; a junction left with two branches after pruning is merged into one line.
    """
    ys, xs = np.nonzero(skeleton)
    pix = set(zip(ys.tolist(), xs.tolist()))
    _make_8thin(pix)  # else a staircase pixel has three neighbours and looks like a junction
    junction = {q for q in pix if len(_neighbours(pix, *q)) >= 3}
    # junction pixels that touch form one junction; its centre is where branches end
    jid: dict[tuple[int, int], int] = {}
    centres: list[np.ndarray] = []
    for q in junction:
        if q in jid:
            continue
        stack, members = [q], []
        jid[q] = len(centres)
        while stack:
            cur = stack.pop()
            members.append(cur)
            for n in _neighbours(junction, *cur):
                if n not in jid:
                    jid[n] = len(centres)
                    stack.append(n)
        centres.append(np.mean(np.array(members, np.float64)[:, ::-1], axis=0))
    rest = pix - junction
    branches: list[tuple[list[tuple[int, int]], int | None, int | None]] = []
    seen: set[tuple[int, int]] = set()
    for start in sorted(rest):
        if start in seen:
            continue
        comp, stack = [], [start]
        seen.add(start)
        while stack:
            cur = stack.pop()
            comp.append(cur)
            for n in _neighbours(rest, *cur):
                if n not in seen:
                    seen.add(n)
                    stack.append(n)
        path = _order(set(comp), rest)
        ends = [_junction_of(path[0], pix, jid), _junction_of(path[-1], pix, jid)]
        branches.append((path, ends[0], ends[1]))
    lines = []
    for path, j0, j1 in branches:
        pts = np.array(path, np.float64)[:, ::-1]
        if j0 is not None:
            pts = np.vstack([centres[j0], pts])
        if j1 is not None:
            pts = np.vstack([pts, centres[j1]])
        lines.append([pts, j0, j1])
    lines = _prune(lines, min_spur)
    return [ln[0] for ln in lines if len(ln[0]) >= 2]


def _junction_of(q: tuple[int, int], pix: set, jid: dict) -> int | None:
    for n in _neighbours(pix, *q):
        if n in jid:
            return jid[n]
    return None


def _order(comp: set[tuple[int, int]], rest: set[tuple[int, int]]) -> list[tuple[int, int]]:
    """The pixels of one junction-free branch in walking order (a loop starts anywhere)."""
    ends = [q for q in comp if len(_neighbours(comp, *q)) <= 1]
    start = min(ends) if ends else min(comp)
    path, prev = [start], None
    visited = {start}
    cur = start
    while True:
        nxt = [n for n in _neighbours(comp, *cur) if n not in visited]
        if not nxt:
            break
        # prefer 4-neighbours so diagonal shortcuts of a staircase are not skipped twice
        nxt.sort(key=lambda n: abs(n[0] - cur[0]) + abs(n[1] - cur[1]))
        prev, cur = cur, nxt[0]
        visited.add(cur)
        path.append(cur)
    del prev
    return path


def _length(pts: np.ndarray) -> float:
    return float(np.hypot(*np.diff(pts, axis=0).T).sum()) if len(pts) > 1 else 0.0


def _prune(lines: list[list], min_spur: float) -> list[list]:
    """Drop short branches with a free end, then merge lines at junctions left with two branches."""
    changed = True
    while changed:
        changed = False
        counts: dict[int, int] = {}
        for _, j0, j1 in lines:
            for j in (j0, j1):
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
        for k, (pts, j0, j1) in enumerate(lines):
            spur = (j0 is None) != (j1 is None)
            j = j0 if j0 is not None else j1
            if spur and counts.get(j, 0) >= 3 and _length(pts) < min_spur:
                del lines[k]
                changed = True
                break
        if changed:
            continue
        for j, n in counts.items():
            if n != 2:
                continue
            pair = [k for k, ln in enumerate(lines) if j in (ln[1], ln[2])]
            if len(pair) != 2:  # one line touching the same junction at both ends: a loop, leave it
                continue
            a, b = (lines[k] for k in pair)
            pa = a[0] if a[2] == j else a[0][::-1]
            fa = a[1] if a[2] == j else a[2]
            pb = b[0] if b[1] == j else b[0][::-1]
            fb = b[2] if b[1] == j else b[1]
            merged = [np.vstack([pa, pb[1:]]), fa, fb]
            lines = [ln for k, ln in enumerate(lines) if k not in pair] + [merged]
            changed = True
            break
    return lines
