"""Splits by pass (seed 000): no pass in two splits, real defects only in test, synthetic defects in their
pass's split (val or test), seeded or chronological (seed 003), test kept."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.splits import SplitRule, assign_splits, check_training_set, passes_across_splits


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
    assert bad == ["test"] * 10  # real defects only in test (seed 000, table 2)


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


def _synthetic_dataset(n_good=30, n_real=6, n_synth=12):
    """Good passes (one frame each), real-defect passes, and synthetic defects drawn on good passes: a
    synthetic sample shares its source pass's key."""
    keys, labels, synthetic = [], [], []
    for p in range(n_good + n_real):
        keys.append(("src1", p))
        labels.append("good" if p < n_good else "defective")
        synthetic.append(False)
    for k in range(n_synth):
        keys.append(("src1", k * 2))  # drawn on good pass 2k
        labels.append("defective")
        synthetic.append(True)
    return keys, labels, synthetic


def test_real_defects_go_to_test_synthetic_ones_stay_with_their_pass_in_val_or_test():
    keys, labels, synthetic = _synthetic_dataset()
    for seed in range(5):
        splits = assign_splits(keys, labels, rule=SplitRule(0.6, 0.2, 0.2, seed=seed), synthetic=synthetic)
        assert not passes_across_splits(keys, splits)
        real = [sp for sp, lab, syn in zip(splits, labels, synthetic) if lab == "defective" and not syn]
        assert real == ["test"] * 6
        syn_splits = [sp for sp, syn in zip(splits, synthetic) if syn]
        assert set(syn_splits) <= {"val", "test"} and syn_splits.count("val") == syn_splits.count("test")
        for k, sp in zip(keys, splits):
            if sp == "train":  # a pass a synthetic defect was drawn on never trains
                assert not any(s and kk == k for kk, s in zip(keys, synthetic))


def test_a_defect_drawn_on_a_val_pass_stays_in_val_and_on_a_test_pass_in_test():
    keys = [("s", 0), ("s", 0), ("s", 1), ("s", 1)]
    labels = ["good", "defective", "good", "defective"]
    synthetic = [False, True, False, True]
    current = ["val", "val", "test", "test"]
    splits = assign_splits(keys, labels, current, SplitRule(0.0, 0.5, 0.5, seed=0), synthetic=synthetic)
    assert splits[2:] == ["test", "test"] and splits[0] == splits[1] in ("val", "test")
    assert not passes_across_splits(keys, splits)
    assert passes_across_splits(keys, ["val", "test", "test", "test"]) == {("s", 0): {"val", "test"}}


def test_chronological_split_trains_on_the_first_passes_and_tests_on_the_last():
    keys = [("cam", p) for p in range(20)]
    labels = ["good"] * 18 + ["defective"] * 2
    shuffled = list(np.random.default_rng(0).permutation(20))
    keys = [keys[i] for i in shuffled]
    labels = [labels[i] for i in shuffled]
    order = [k[1] for k in keys]
    rule = SplitRule(0.5, 0.25, 0.25, chronological=True)
    splits = assign_splits(keys, labels, rule=rule, order=order)
    by_pass = {k[1]: sp for k, sp in zip(keys, splits)}
    good = [by_pass[p] for p in range(18)]
    assert good == ["train"] * 9 + ["val"] * 5 + ["test"] * 4  # 18 x (0.5, 0.25, 0.25): the tie to val
    assert by_pass[18] == by_pass[19] == "test"
    # the same passes in another seed: chronology does not depend on it
    assert (
        assign_splits(keys, labels, rule=SplitRule(0.5, 0.25, 0.25, seed=9, chronological=True), order=order)
        == splits
    )
    with pytest.raises(ValueError, match="needs each sample's time"):
        assign_splits(keys, labels, rule=rule)
