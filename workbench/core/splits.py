"""Train / val / test assignment by pass (seed 000's rules): seeded or chronological, normals only in train.

Every sample of one pass (the same part) lands in one split, so near-duplicate frames never leak
between training and evaluation; a synthetic defect belongs to the pass it was drawn on, so it stays
in that pass's split. Passes:

* with a real (not synthetic) defect go to test, always (seed 000: real defects only in test);
* whose only defects are synthetic share val and test in the val:test ratio, never train;
* good ones share train / val / test by the fractions;
* of unknown label stay unassigned (or go to test).

Seeded (the default) shuffles each group; ``chronological`` (seed 003: the first pictures of a series
train) orders passes by their time instead, so the earliest good passes train, the next validate and
the latest test. Passes already in test stay in test (the test split is never recycled for training or
thresholds).
"""

from __future__ import annotations

import math
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
    chronological: bool = False  # earliest passes to train, then val, then test (seed 003)

    def __post_init__(self) -> None:
        total = self.train + self.val + self.test
        if not math.isfinite(total):
            raise ValueError(
                f"split fractions must be finite numbers, found train={self.train} val={self.val} test={self.test}"
            )
        if min(self.train, self.val, self.test) < 0 or abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"split fractions must be >= 0 and add up to 1, found train={self.train} val={self.val} test={self.test}"
            )
        if self.unknown_to not in ("unassigned", "test"):
            raise ValueError(f"unknown_to must be 'unassigned' or 'test', found '{self.unknown_to}'")


def pass_label(labels: Sequence[str], synthetic: Sequence[bool] | None = None) -> str:
    """A pass's group from its samples: 'real' with a real defect, 'synthetic' when its only defects are
    synthetic, 'good' if every sample is good, else 'unknown'.

    Without ``synthetic`` every defect counts as real.
    """
    syn = list(synthetic) if synthetic is not None else [False] * len(labels)
    if any(lab == "defective" and not s for lab, s in zip(labels, syn)):
        return "real"
    if "defective" in labels:
        return "synthetic"
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
    synthetic: Sequence[bool] | None = None,
    order: Sequence | None = None,
) -> list[str]:
    """The split of each sample, given each sample's pass key and label (and current split).

    ``synthetic`` marks synthetic samples (their pass is then not a real-defect pass); ``order`` gives
    each sample's time (any sortable value, e.g. (source, pass index)), which a chronological rule
    needs: a pass's time is its earliest sample's. Returns one of 'train', 'val', 'test', 'unassigned'
    per sample, in input order.
    """
    n = len(keys)
    if len(labels) != n or any(x is not None and len(x) != n for x in (current, synthetic, order)):
        raise ValueError(
            "assign_splits: keys, labels, current splits, synthetic flags and order must have one entry per sample"
        )
    if rule.chronological and order is None:
        raise ValueError("a chronological split needs each sample's time (order=)")
    members: dict[Hashable, list[int]] = {}
    for i, k in enumerate(keys):
        members.setdefault(k, []).append(i)
    pinned: dict[Hashable, str] = {}
    if rule.keep_test and current is not None:
        for k, idx in members.items():
            if any(current[i] == "test" for i in idx):
                pinned[k] = "test"
    strata: dict[str, list[Hashable]] = {"good": [], "synthetic": [], "real": [], "unknown": []}
    for k, idx in members.items():
        if k not in pinned:
            syn = None if synthetic is None else [bool(synthetic[i]) for i in idx]
            strata[pass_label([labels[i] for i in idx], syn)].append(k)
    rng = np.random.default_rng(rule.seed)
    split_of: dict[Hashable, str] = dict(pinned)
    when = {k: min(order[i] for i in idx) for k, idx in members.items()} if order is not None else {}
    for label, passes in strata.items():
        passes = sorted(passes, key=repr)  # a seed gives the same split whatever the input order
        if rule.chronological:
            ranked = sorted(passes, key=lambda k: (when[k], repr(k)))
        else:
            ranked = [passes[i] for i in rng.permutation(len(passes))]
        if label == "good":
            names, fr = ("train", "val", "test"), (rule.train, rule.val, rule.test)
        elif label == "synthetic":
            vt = rule.val + rule.test
            names, fr = ("val", "test"), ((rule.val / vt, rule.test / vt) if vt > 0 else (0.0, 1.0))
        elif label == "real":
            names, fr = ("test",), (1.0,)
        else:
            split_of.update({k: rule.unknown_to for k in ranked})
            continue
        start = 0
        for name, count in zip(names, _apportion(len(ranked), fr), strict=True):
            split_of.update({k: name for k in ranked[start : start + count]})
            start += count
    return [split_of[k] for k in keys]


def passes_across_splits(keys: Sequence[Hashable], splits: Sequence[str]) -> dict[Hashable, set[str]]:
    """{pass key: its splits} of every pass whose samples sit in more than one of train, val and test."""
    seen: dict[Hashable, set[str]] = {}
    for k, sp in zip(keys, splits, strict=True):
        if sp in ("train", "val", "test"):
            seen.setdefault(k, set()).add(sp)
    return {k: v for k, v in seen.items() if len(v) > 1}


def check_training_set(labels: Sequence[str], splits: Sequence[str]) -> None:
    """Raise a ValueError if any sample used for training is not a labelled normal in train."""
    bad = [
        i for i, (lab, sp) in enumerate(zip(labels, splits, strict=True)) if sp != "train" or lab != "good"
    ]
    if bad:
        raise ValueError(f"training uses only good samples of the train split; {len(bad)} others were given")
