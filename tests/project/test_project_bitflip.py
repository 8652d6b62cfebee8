"""A seeded sample of the bit-flip sweep (benchmarks/bench_bitflip.py): single bit flips in a trained
station's main file (anywhere, and outside the template pixels where the records live) and in its blobs,
each followed by info, eval, a save and export. Every flip changes nothing that is read or gives a clear
error; none changes a result silently, none gives raw exception text, no blob is lost."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from bench_bitflip import build_station, sweep  # noqa: E402


@pytest.fixture(scope="module")
def station(tmp_path_factory) -> Path:
    return build_station(tmp_path_factory.mktemp("bitflip"), views=["front"])


def test_a_seeded_sample_of_bit_flips_is_caught_or_harmless(station, tmp_path):
    result = sweep(station, tmp_path / "work", n_main=25, n_blobs=25, seed=2024, n_meta=40)
    problems = [r for r in result["records"] if r["outcome"] in ("silent", "unclear") or r["blobs_lost"]]
    assert problems == []
    counts = result["counts"]
    assert sum(counts["main"].values()) == 25 and sum(counts["meta"].values()) == 40
    assert sum(counts["blob"].values()) == 25
    # the sweep proves something only if flips were both caught and harmless somewhere
    assert counts["meta"].get("error", 0) > 0 and counts["blob"].get("error", 0) > 0
    assert sum(c.get("same", 0) for c in counts.values()) > 0
    assert result["blobs_lost"] == 0 and result["exports_run"] == 1


def test_export_refuses_a_run_whose_weights_were_swapped_for_another_runs_valid_blob(
    station, tmp_path, capsys
):
    """The probe's case: run2's weights copied over run1's blob; export shipped them as run1. Both blobs are
    valid HDF5 weight files, so only the content hash tells them apart."""
    import json

    from bench_bitflip import TINY

    from workbench.cli.main import main
    from workbench.project import Project
    from workbench.project.blobs import sidecar_for

    path = tmp_path / station.name
    shutil.copyfile(station, path)
    shutil.copytree(sidecar_for(station), sidecar_for(path))
    params = [f"--param={k}={json.dumps(v)}" for k, v in TINY.items()]
    argv = ["train", str(path), "--model", "patchcore", "--view", "front", "--device", "cpu", "--seed", "1"]
    assert main([*argv, *params]) == 0
    with Project.open(path) as p:
        (first, second) = [r.id for r in p.runs]
        blobs = {rid: p._state.run_blobs[rid] for rid in (first, second)}
    capsys.readouterr()
    sidecar = sidecar_for(path)
    shutil.copyfile(sidecar / f"{blobs[second]}.h5", sidecar / f"{blobs[first]}.h5")
    out = tmp_path / "bundle"
    code = main(["export", str(path), "--run", first, "--out", str(out), "--accept-small-validation"])
    err = capsys.readouterr().err
    assert code == 1
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert f"the weights of run {first} is damaged: data file {blobs[first]}.h5" in lines[0]
    assert not (out / "manifest.json").exists()  # nothing shipped
    shutil.rmtree(out, ignore_errors=True)
    assert main(["export", str(path), "--run", second, "--out", str(out), "--accept-small-validation"]) == 0
    assert json.loads((out / "manifest.json").read_text())["views"][0]["run"]["id"] == second
