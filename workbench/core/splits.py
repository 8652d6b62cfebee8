"""Train / val / test assignment by pass: seeded, stratified by label, normals only in train.

Every sample of one pass (the same part) lands in one split, so near-duplicate frames never leak
between training and evaluation. Defective passes never go to train. Passes already in test stay
in test (the test split is never recycled for training or thresholds).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SplitRule:
    """Fractions of good passes per split; defective passes share val/test in the val:test ratio."""

    train: float = 0.6
    val: float = 0.2
    test: float = 0.2
    seed: int = 0
    keep_test: bool = True  # passes with a sample already in test stay there
    unknown_to: str = "unassigned"  # where passes of unknown label go: "unassigned" or "test"

    def __post_init__(self) -> None:
        total = self.train + self.val + self.test
        if min(self.train, self.val, self.test) < 0 or abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"split fractions must be >= 0 and add up to 1, found train={self.train} val={self.val} test={self.test}"
            )
        if self.unknown_to not in ("unassigned", "test"):
            raise ValueError(f"unknown_to must be 'unassigned' or 'test', found '{self.unknown_to}'")


def pass_label(labels: Sequence[str]) -> str:
    """A pass's label from its samples': defective if any is, good if all are, else unknown."""
    if "defective" in labels:
        return "defective"
    if labels and all(lab == "good" for lab in labels):
        return "good"
    return "unknown"


def _apportion(n: int, fractions: Sequence[float]) -> list[int]:
    # Largest-remainder rounding: counts add up to n and follow the fractions as closely as possible.
    raw = [f * n for f in fractions]
    counts = [int(np.floor(r)) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def assign_splits(
    keys: Sequence[Hashable],
    labels: Sequence[str],
    current: Sequence[str] | None = None,
    rule: SplitRule = SplitRule(),
) -> list[str]:
    """The split of each sample, given each sample's pass key and label (and current split).

    Returns one of 'train', 'val', 'test', 'unassigned' per sample, in input order.
    """
    if len(keys) != len(labels) or (current is not None and len(current) != len(keys)):
        raise ValueError("assign_splits: keys, labels and current splits must have one entry per sample")
    members: dict[Hashable, list[int]] = {}
    for i, k in enumerate(keys):
        members.setdefault(k, []).append(i)
    pinned: dict[Hashable, str] = {}
    if rule.keep_test and current is not None:
        for k, idx in members.items():
            if any(current[i] == "test" for i in idx):
                pinned[k] = "test"
    strata: dict[str, list[Hashable]] = {"good": [], "defective": [], "unknown": []}
    for k, idx in members.items():
        if k not in pinned:
            strata[pass_label([labels[i] for i in idx])].append(k)
    rng = np.random.default_rng(rule.seed)
    split_of: dict[Hashable, str] = dict(pinned)
    for label, passes in strata.items():
        passes = sorted(passes, key=repr)  # a seed gives the same split whatever the input order
        order = [passes[i] for i in rng.permutation(len(passes))]
        if label == "good":
            names, fr = ("train", "val", "test"), (rule.train, rule.val, rule.test)
        elif label == "defective":
            vt = rule.val + rule.test
            names, fr = ("val", "test"), ((rule.val / vt, rule.test / vt) if vt > 0 else (0.0, 1.0))
        else:
            split_of.update({k: rule.unknown_to for k in order})
            continue
        start = 0
        for name, count in zip(names, _apportion(len(order), fr), strict=True):
            split_of.update({k: name for k in order[start : start + count]})
            start += count
    return [split_of[k] for k in keys]


def check_training_set(labels: Sequence[str], splits: Sequence[str]) -> None:
    """Raise a ValueError if any sample used for training is not a labelled normal in train."""
    bad = [
        i for i, (lab, sp) in enumerate(zip(labels, splits, strict=True)) if sp != "train" or lab != "good"
    ]
    if bad:
        raise ValueError(f"training uses only good samples of the train split; {len(bad)} others were given")
