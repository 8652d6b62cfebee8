"""A seeded sample of the bit-flip sweep (benchmarks/bench_bitflip.py): single bit flips in a trained
station's main file (anywhere, and outside the template pixels where the records live) and in its blobs,
each followed by info, eval, a save and export. Every flip changes nothing that is read or gives a clear
error; none changes a result silently, none gives raw exception text, no blob is lost."""

from __future__ import annotations

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
