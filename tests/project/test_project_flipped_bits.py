"""The flips the probe of issue 16 found, made as they happened: real single-bit flips in the bytes of the
file (not edits through h5py). A flipped bit in the `/runs` or `/views` group header once read as "runs: 0"
with exit 0, and a flipped bit in a policy's threshold read 26.1 as 66.1; both are clear errors now, and
neither they nor a save over a damaged record loses a blob or launders the damage."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from project_helpers import textured

from workbench.cli.main import main
from workbench.project import Project, ProjectError
from workbench.project.blobs import sidecar_for
from workbench.project.types import CropWindow, ViewInfo


def _station(path: Path, rng) -> Path:
    """Two runs, a result, an edited mask and a policy with threshold 26.1 on view 'front'."""
    with Project.create(path) as p:
        p.set_view(ViewInfo("front", np.arange(64, dtype=np.uint8).reshape(8, 8), CropWindow(-3, -2, 16, 12)))
        ids = p.add_samples(
            [textured(rng, 12, 16) for _ in range(4)], [{"view": "front", "label": "good"}] * 4
        )
        p.set_gt_mask(ids[0], np.ones((12, 16), np.uint8))
        r1 = p.add_run("patchcore", "front", {"k": 1}, {"w": rng.random((4, 4))})
        p.add_run("patchcore", "front", {"k": 2}, {"w": rng.random((4, 4))})
        p.add_result(r1, ids, np.arange(4.0), rng.random((4, 12, 16)))
        p.set_policy("default", {"run": r1, "threshold": 26.1})
        p.save()
    return path


def _flip(raw: bytes, bit: int) -> bytes:
    out = bytearray(raw)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _sidecar_files(path: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sidecar_for(path).iterdir() if f.name.endswith(".h5")}


@pytest.mark.parametrize("group", ["runs", "views"])
def test_a_flipped_bit_in_the_runs_or_views_group_header_is_an_error(tmp_path, rng, capsys, group):
    path = _station(tmp_path / "s.awb", rng)
    raw, blobs = path.read_bytes(), _sidecar_files(path)
    with h5py.File(path, "r") as f:
        info = h5py.h5o.get_info(f[group].id)
        start, size = info.addr, info.hdr.space.total  # the group's object header: where its links live
    outcomes = []
    for bit in range(start * 8, (start + size) * 8, 5):  # every 5th bit of the header
        path.write_bytes(_flip(raw, bit))
        try:
            with Project.open(path) as p:
                read = ([r.id for r in p.runs], sorted(p.views))
            outcomes.append("same" if read == (["run1", "run2"], ["front"]) else f"silent: {read}")
        except ProjectError as exc:
            outcomes.append(str(exc))
    assert len(outcomes) >= 200
    assert [o for o in outcomes if o != "same" and f"its group '{group}' cannot be read" not in o] == []
    # what the user saw: `info` said "runs: 0" with exit 0; now one line naming the damage, exit 1
    path.write_bytes(_flip(raw, (start + size // 2) * 8))
    assert main(["info", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"s.awb is damaged: its group '{group}' cannot be read" in err
    # a command that saves refuses too, and no blob was touched by any of it
    assert main(["label", str(path), "--sample", "2", "--label", "defective"]) == 1
    assert _sidecar_files(path) == blobs
    path.write_bytes(raw)
    with Project.open(path) as p:  # the bit put back, everything is there
        assert [r.id for r in p.runs] == ["run1", "run2"] and p.run_state("run2")["w"].shape == (4, 4)


def test_a_flipped_bit_in_a_policy_threshold_digit_is_caught(tmp_path, rng, capsys):
    path = _station(tmp_path / "s.awb", rng)
    raw = path.read_bytes()
    at = raw.find(b'"threshold": 26.1')
    assert at > 0 and raw.count(b"26.1") == 1
    digit = at + len(b'"threshold": ')
    path.write_bytes(_flip(raw, digit * 8 + 2))  # '2' (0x32) -> '6' (0x36)
    with h5py.File(path, "r") as f:  # HDF5 itself reads the changed value without complaint
        assert json.loads(f.attrs["policies"])["default"]["threshold"] == 66.1
    with pytest.raises(ProjectError, match="the station record .* does not match its checksum"):
        Project.open(path)
    assert main(["info", str(path)]) == 1
    assert "s.awb is damaged: the station record" in capsys.readouterr().err


def test_a_save_over_a_damaged_record_keeps_the_damage_visible_and_every_blob(tmp_path, rng):
    path = _station(tmp_path / "s.awb", rng)
    blobs = _sidecar_files(path)
    with h5py.File(path, "r") as f:
        chunk = f["gt_masks"]["1"].id.get_chunk_info(0)  # the edited mask's stored bytes
    path.write_bytes(_flip(path.read_bytes(), (chunk.byte_offset + chunk.size // 2) * 8 + 1))
    with Project.open(path) as p:  # the mask is read lazily: opening and editing other records work
        p.update_samples([2], label="defective")
        p.save()
    assert _sidecar_files(path) == blobs
    with Project.open(path) as p:
        assert p.sample(2).label == "defective"
        with pytest.raises(ProjectError, match="the edited mask of sample 1 (does not match|cannot be read)"):
            p.gt_mask(1)  # the save did not give the damaged mask a fresh checksum
        assert p.run_state("run1")["w"].shape == (4, 4)
