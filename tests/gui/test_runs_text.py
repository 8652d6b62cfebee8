"""How the window writes numbers (three significant digits) and which runs it marks stale."""

from __future__ import annotations

from types import SimpleNamespace

from workbench.gui.runs import run_label, sig, stale_runs


def test_numbers_get_three_significant_digits():
    assert sig(23.86677742004395) == "23.9"
    assert sig(0.0500) == "0.0500"
    assert sig(0.001234) == "0.00123"
    assert sig(301.18) == "301"
    assert sig(1.5e-7) == "1.50e-07"
    assert sig(None) == "–" and sig(float("nan")) == "–"


def _sample(sid, view, split, label="good"):
    return SimpleNamespace(id=sid, view=view, split=split, label=label)


def test_a_run_is_stale_once_its_views_train_split_changes():
    run = SimpleNamespace(
        id="run1", view="front", model="padim", created="2024-05-01T14:02:11", meta={"train_ids": [1, 2]}
    )
    other = SimpleNamespace(
        id="run2", view="back", model="padim", created="2024-05-01T14:02:11", meta={"train_ids": [5]}
    )
    samples = [_sample(1, "front", "train"), _sample(2, "front", "train"), _sample(5, "back", "train")]
    snap = SimpleNamespace(samples=samples, runs=[run, other])
    assert stale_runs(snap) == set()
    samples.append(_sample(3, "front", "train"))  # a sample moved into train since
    assert stale_runs(snap) == {"run1"}
    samples[-1] = _sample(3, "front", "train", "defective")  # a defect there is not trained on: not stale
    assert stale_runs(snap) == set()
    samples[0] = _sample(1, "front", "val")  # a trained-on sample left train
    assert stale_runs(snap) == {"run1"}
    assert run_label(run, stale=True) == "run1 · padim · 2024-05-01 14:02 · ⚠ stale"
