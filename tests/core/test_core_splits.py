"""Splits by pass: no pass in two splits, defectives never in train, seeded, stratified, test kept."""

from __future__ import annotations

import pytest

from workbench.core.splits import SplitRule, assign_splits, check_training_set


def dataset(n_good=40, n_bad=10, frames=3):
    keys, labels = [], []
    for p in range(n_good + n_bad):
        for _ in range(frames):
            keys.append(("src1", p))
            labels.append("good" if p < n_good else "defective")
    return keys, labels


def test_frames_of_a_pass_stay_together_and_defectives_never_train():
    keys, labels = dataset()
    splits = assign_splits(keys, labels, rule=SplitRule(0.6, 0.2, 0.2, seed=1))
    per_pass = {}
    for k, s in zip(keys, splits):
        per_pass.setdefault(k, set()).add(s)
    assert all(len(v) == 1 for v in per_pass.values())
    assert not any(s == "train" and lab == "defective" for s, lab in zip(splits, labels))
    good = [next(iter(per_pass[("src1", p)])) for p in range(40)]
    assert (good.count("train"), good.count("val"), good.count("test")) == (24, 8, 8)
    bad = [next(iter(per_pass[("src1", p)])) for p in range(40, 50)]
    assert bad.count("val") == 5 and bad.count("test") == 5


def test_split_is_reproducible_with_a_seed_and_changes_with_another():
    keys, labels = dataset()
    a = assign_splits(keys, labels, rule=SplitRule(seed=4))
    assert a == assign_splits(list(reversed(keys))[::-1], labels, rule=SplitRule(seed=4))
    assert a != assign_splits(keys, labels, rule=SplitRule(seed=5))


def test_passes_already_in_test_stay_in_test():
    keys, labels = dataset(10, 0, 1)
    current = ["test"] * 3 + ["unassigned"] * 7
    splits = assign_splits(keys, labels, current, SplitRule(0.8, 0.1, 0.1, seed=0))
    assert splits[:3] == ["test"] * 3


def test_unknown_labels_are_not_assigned_and_bad_fractions_rejected():
    assert assign_splits([1, 2], ["unknown", "unknown"]) == ["unassigned"] * 2
    with pytest.raises(ValueError, match="add up to 1"):
        SplitRule(0.5, 0.5, 0.5)
    with pytest.raises(ValueError, match="only good samples"):
        check_training_set(["good", "defective"], ["train", "train"])
