"""Split job on a rendered demo station: seed 000's rules (real defects in test, synthetic defects in the
split of the pass they were drawn on, no pass across splits), chronological splits (seed 003), and the
warnings of `split` and `eval` when a run's training samples moved to validation or test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workbench.cli.main import main
from workbench.core.splits import SplitRule, passes_across_splits
from workbench.jobs.demo import build_demo_station
from workbench.jobs.evaluate import evaluate
from workbench.jobs.splits import split_samples, training_leaks
from workbench.jobs.synthesize import synthesize
from workbench.jobs.train import train_views
from workbench.project import Project

TINY = dict(
    backbone="resnet18", pretrained=False, image_size=(64, 80), embed_dim=32, coreset_ratio=0.5, device="cpu"
)


@pytest.fixture(scope="module")
def station(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo12")
    path = Path(build_demo_station(out, passes=12, defect_rate=0.35, seed=2).project_path)
    with Project.open(path) as p:
        synthesize(p, count=10, seed=1)
        p.save()
    return path


def _copy(src: Path, dst: Path) -> Path:
    shutil.copy(src, dst / src.name)
    shutil.copytree(src.with_name(src.name + ".d"), dst / f"{src.name}.d")
    return dst / src.name


def _keys(samples):
    return [(s.source, s.pass_index) for s in samples]


def _check_rules(p: Project) -> None:
    samples = p.samples()
    assert not passes_across_splits(_keys(samples), [s.split for s in samples])
    for s in samples:
        if s.label == "defective" and not s.synthetic:
            assert s.split == "test", s
        if s.synthetic:
            src = p.sample(s.meta["synthetic"]["source_sample"])
            assert s.split == src.split and s.split in ("val", "test"), (s.id, s.split, src.split)


def test_synthesis_and_every_split_keep_seed_000s_rules(station, tmp_path):
    path = _copy(station, tmp_path)
    with Project.open(path) as p:
        synthetic = [s for s in p.samples() if s.synthetic]
        real = [s for s in p.samples() if s.label == "defective" and not s.synthetic]
        assert synthetic and real and {s.split for s in synthetic} == {"val", "test"}
        _check_rules(p)
        for seed in range(4):
            split_samples(p, SplitRule(0.5, 0.25, 0.25, seed=seed, keep_test=False))
            _check_rules(p)
        split_samples(p, SplitRule(0.5, 0.25, 0.25, chronological=True, keep_test=False))
        _check_rules(p)


def test_chronological_split_trains_on_the_first_good_passes(station, tmp_path, capsys):
    path = _copy(station, tmp_path)
    assert main(["split", str(path), "--chronological", "--reshuffle-test", "--train", "0.5", "--val", "0.25",
                 "--test", "0.25"]) == 0  # fmt: skip
    with Project.open(path) as p:
        not_good = {
            s.pass_index for s in p.samples() if s.label != "good"
        }  # passes with a defect in any view never train
        for view in p.views:
            good = sorted(
                (s.pass_index, s.split)
                for s in p.samples(view=view, label="good")
                if s.split != "unassigned" and s.pass_index not in not_good
            )
            splits = [sp for _, sp in good]
            n_train = splits.count("train")
            assert n_train and splits[:n_train] == ["train"] * n_train  # the earliest passes train
            rest = splits[n_train:]
            assert rest == sorted(rest, key=("val", "test").index)  # then validation, then test


def test_split_and_eval_warn_when_a_run_trained_on_samples_now_in_validation_or_test(
    station, tmp_path, capsys
):
    path = _copy(station, tmp_path)
    with Project.open(path) as p:
        (rid,) = train_views(p, "patchcore", dict(TINY), views=["front"], seed=0)["runs"]
        trained = set(p.run(rid).meta["train_ids"])
        assert trained == {s.id for s in p.samples(view="front", split="train", label="good")}
        p.save()
    assert training_leaks(Project.open(path)) == {}
    # reshuffle with other seeds until a training sample moves (a moved pass is what the warning is about)
    for seed in range(1, 20):
        assert main(["split", str(path), "--seed", str(seed), "--reshuffle-test"]) == 0
        err = capsys.readouterr().err
        with Project.open(path) as p:
            leaks = training_leaks(p)
        if leaks.get(rid, {}).get("test"):
            break
    else:
        pytest.fail("no seed moved a training sample to test")
    moved = leaks[rid]["test"]
    assert set(moved) <= trained
    assert f"run {rid} was trained on samples that are no longer training samples" in err
    assert f"{len(moved)} now in test" in err
    with Project.open(path) as p:
        rec = evaluate(p, [rid])["runs"][0]
        p.save()
    assert rec["training_samples"]["now_in_test"] == moved and rec["warnings"]
    assert main(["eval", str(path), "--run", rid, "--quiet"]) == 0
    err = capsys.readouterr().err
    assert f"run {rid} was trained on samples" in err and str(moved[0]) in err
