"""`export` says how many normals each view's threshold rests on and refuses fewer than 5 unless accepted."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
from exported_station import exported_station  # noqa: E402

from workbench.cli.main import main  # noqa: E402
from workbench.jobs.evaluate_policy import fit_run_policy, normals_behind  # noqa: E402
from workbench.jobs.export import SmallValidationError, export_station  # noqa: E402
from workbench.project import Project  # noqa: E402


@pytest.fixture()
def station(tmp_path_factory, tmp_path):
    shared = exported_station(tmp_path_factory.getbasetemp())
    src = shared["project"]
    dst = tmp_path / "station"
    dst.mkdir()
    shutil.copy2(src, dst / src.name)
    shutil.copytree(src.parent / f"{src.name}.d", dst / f"{src.name}.d")
    return dst / src.name


def _val_normals(path: Path) -> dict[str, int]:
    with Project.open(path) as p:
        return {v: len(p.samples(view=v, split="val", label="good")) for v in p.views}


def test_export_refuses_a_threshold_on_fewer_than_five_normals_and_writes_nothing(station, tmp_path, capsys):
    counts = _val_normals(station)
    assert min(counts.values()) < 5  # the demo station's validation is small
    out = tmp_path / "bundle"
    assert main(["export", str(station), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    small = min(counts, key=counts.get)
    assert f"view '{small}': threshold rests on {counts[small]} normal validation samples" in err
    assert "--accept-small-validation" in err
    assert not out.exists()
    with pytest.raises(SmallValidationError):
        export_station(station, out)


def test_export_with_acceptance_prints_the_normals_of_every_view_and_flags_them(station, tmp_path, capsys):
    counts = _val_normals(station)
    out = tmp_path / "bundle"
    assert main(["export", str(station), "--out", str(out), "--accept-small-validation"]) == 0
    console = capsys.readouterr().out
    for view, n in counts.items():
        line = next(x for x in console.splitlines() if x.startswith(f"policy   {view}:"))
        assert (
            f"threshold rests on {n} normal validation samples (small validation: {n} normals (< 20))" in line
        )


def test_enough_normals_export_without_acceptance_and_fitted_policies_record_their_normals(station, tmp_path):
    with Project.open(station) as p:
        for view in p.views:  # at least 5 normals in every view's validation split
            good = [s.id for s in p.samples(view=view, split="test", label="good")]
            p.update_samples(good, split="val")
            val = p.samples(view=view, split="val")
            if len([s for s in val if s.label == "good"]) < 5:  # the tiny demo has too few: relabel some
                p.update_samples([s.id for s in val], label="good")
                spare = p.samples(view=view, split="test", label="defective")[:5]
                p.update_samples([s.id for s in spare], split="val", label="good")
        runs = {r.view: r.id for r in p.runs}
        policy = fit_run_policy(p, runs["front"], "far", 0.05)
        n_front = len(p.samples(view="front", split="val", label="good"))
        assert policy.params["n_normals"] == n_front
        assert normals_behind(p, policy.to_dict(), "front") == (n_front, "validation")
        p.save()
    counts = _val_normals(station)
    assert min(counts.values()) >= 5
    # strict=False: parity is not what this test is about (the tiny demo sits a score on its threshold)
    result = export_station(station, tmp_path / "bundle", strict=False)
    notes = {v["name"]: v["policy_note"] for v in result.manifest["views"]}
    for view, n in counts.items():
        assert f"threshold rests on {n} normal validation samples" in notes[view]
