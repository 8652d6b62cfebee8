"""Split job: assign train / val / test to a project's samples by pass (seeded or chronological), and say
which trained runs now have training samples in validation or test.

Top-k extra frames (meta ``rank`` > 0) follow their pass into train; in val and test only the
best-aligned frame counts (seed 000: one frame per part for evaluation), the extras stay unassigned.
Seed 000's rules hold: real defects only in test, a synthetic defect in its pass's split (see
:mod:`workbench.core.splits`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.core.splits import SplitRule, assign_splits


@dataclass
class SplitResult:
    """How many samples each split received, by label ({'train/good': n, ...}), and the runs whose
    training samples now lie in val or test ({run id: {"val": [ids], "test": [ids]}})."""

    counts: dict[str, int]
    changed: int
    leaks: dict[str, dict[str, list[int]]] = field(default_factory=dict)

    def warnings(self) -> list[str]:
        """One line per run that was trained on samples now in val or test."""
        return leak_warnings(self.leaks)


def sample_order(project, samples) -> list[tuple[int, int, int]]:
    """Each sample's time: (its source's place among the project's sources, pass index, frame)."""
    rank = {s.id: k for k, s in enumerate(project.sources)}
    return [(rank.get(s.source, len(rank)), int(s.pass_index), int(s.frame)) for s in samples]


def training_leaks(project, runs=None) -> dict[str, dict[str, list[int]]]:
    """{run id: {"val": [ids], "test": [ids]}} of the runs trained on samples that are now in val or test.

    A run knows its training samples from ``meta["train_ids"]``; runs without that record are skipped.
    """
    split_of = {s.id: s.split for s in project.samples()}
    out: dict[str, dict[str, list[int]]] = {}
    for run in project.runs if runs is None else runs:
        ids = (run.meta or {}).get("train_ids")
        if not isinstance(ids, list):
            continue
        moved = {sp: sorted(i for i in ids if split_of.get(i) == sp) for sp in ("val", "test")}
        moved = {sp: v for sp, v in moved.items() if v}
        if moved:
            out[run.id] = moved
    return out


def leak_warnings(leaks: dict[str, dict[str, list[int]]]) -> list[str]:
    """Readable warnings of :func:`training_leaks`' result."""
    lines = []
    for rid, moved in leaks.items():
        parts = []
        for sp, ids in moved.items():
            shown = ", ".join(map(str, ids[:8])) + (", ..." if len(ids) > 8 else "")
            parts.append(f"{len(ids)} now in {sp} (ids {shown})")
        lines.append(
            f"run {rid} was trained on samples that are no longer training samples: {'; '.join(parts)}; "
            "its metrics on those splits are optimistic: retrain it, or split back"
        )
    return lines


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
    splits = assign_splits(
        keys,
        [s.label for s in samples],
        [s.split for s in samples],
        rule,
        synthetic=[bool(s.synthetic) for s in samples],
        order=sample_order(project, samples),
    )
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
    leaks = training_leaks(project)
    progress(1.0, f"{changed} samples changed split")
    return SplitResult(counts, changed, leaks)
