"""Split job: assign train / val / test to a project's samples by pass, seeded and stratified.

Top-k extra frames (meta ``rank`` > 0) follow their pass into train; in val and test only the
best-aligned frame counts (seed 000: one frame per part for evaluation), the extras stay unassigned.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.core.splits import SplitRule, assign_splits


@dataclass
class SplitResult:
    """How many samples each split received, by label ({'train/good': n, ...})."""

    counts: dict[str, int]
    changed: int


def split_samples(
    project,
    rule: SplitRule = SplitRule(),
    view: str | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> SplitResult:
    """Assign splits to every sample (of ``view``, or all) by pass; the caller saves."""
    samples = project.samples(view=view) if view else project.samples()
    cancel.raise_if_cancelled()
    progress(0.0, f"splitting {len(samples)} samples")
    keys = [(s.source, s.pass_index) for s in samples]
    splits = assign_splits(keys, [s.label for s in samples], [s.split for s in samples], rule)
    by_split: dict[str, list[int]] = {}
    counts: dict[str, int] = {}
    changed = 0
    for s, sp in zip(samples, splits, strict=True):
        if sp in ("val", "test") and int((s.meta or {}).get("rank", 0)) > 0 and s.split != "test":
            sp = "unassigned"
        if sp != s.split:
            by_split.setdefault(sp, []).append(s.id)
            changed += 1
        counts[f"{sp}/{s.label}"] = counts.get(f"{sp}/{s.label}", 0) + 1
    for sp, ids in by_split.items():
        project.update_samples(ids, split=sp)
    progress(1.0, f"{changed} samples changed split")
    return SplitResult(counts, changed)
