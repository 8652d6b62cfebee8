"""How the window names runs and numbers: three significant digits, a run's model and age, and whether a
run is stale (trained on a train split that has changed since)."""

from __future__ import annotations

import math
from typing import Any


def sig(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant digits ('23.9', '0.00123', '1.2e+06'); '–' for None/NaN."""
    if value is None:
        return "–"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x == 0:
        return "0"
    if 1e-4 <= abs(x) < 1e6:
        decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
        text = f"{x:.{decimals}f}"
        # 0.999 rounding up to 1.000 keeps its digits honest
        return text
    return f"{x:.{digits - 1}e}"


def stale_runs(snap: Any) -> set[str]:
    """Ids of runs whose view's train split (good samples) is no longer the one they were trained on."""
    if snap is None:
        return set()
    train: dict[str, set[int]] = {}
    for s in snap.samples:
        if s.split == "train" and s.label == "good":
            train.setdefault(s.view, set()).add(s.id)
    out = set()
    for r in snap.runs:
        ids = r.meta.get("train_ids") if isinstance(r.meta, dict) else None
        if ids is not None and set(int(i) for i in ids) != train.get(r.view, set()):
            out.add(r.id)
    return out


def run_label(run: Any, stale: bool = False) -> str:
    """'run3 · patchcore · 2024-05-01 14:02' (+ ' · stale' when its train split changed)."""
    when = str(run.created).replace("T", " ")[:16]
    return f"{run.id} · {run.model} · {when}" + (" · ⚠ stale" if stale else "")


STALE_TIP = (
    "Trained on a train split that has changed since (samples moved in or out, or relabelled): "
    "train again to use the current split"
)
