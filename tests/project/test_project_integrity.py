"""Damage is reported, never read as a different station: record checksums, strict reads, blob content
hashes, names confined to the sidecar, and saves that delete no blob a record or a live session needs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from project_helpers import textured

from workbench.project import Project, ProjectError
from workbench.project.blobs import sidecar_for
from workbench.project.integrity import DamagedError
from workbench.project.mainfile import write_state

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "project"


def _station(path: Path, rng) -> Project:
    p = Project.create(path)
    ids = p.add_samples([textured(rng, 12, 16) for _ in range(4)], [{"view": "v", "label": "good"}] * 4)
    p.set_gt_mask(ids[0], np.ones((12, 16), np.uint8))
    r1 = p.add_run("m", "v", {"k": 1}, {"w": rng.random((4, 4))})
    p.add_run("m", "v", {"k": 2}, {"w": rng.random((4, 4))})
    p.add_result(r1, ids, np.arange(4.0), rng.random((4, 12, 16)))
    p.set_policy("default", {"run": r1, "threshold": 26.1})
    p.save()
    return p


def _blob_files(path: Path) -> set[str]:
    sidecar = sidecar_for(path)
    return {f.name for f in sidecar.iterdir() if f.name.endswith(".h5")} if sidecar.exists() else set()


def test_a_flipped_digit_in_a_policy_is_caught_on_open(tmp_path, rng):
    p = _station(tmp_path / "s.awb", rng)
    p.close()
    with h5py.File(p.path, "r+") as f:
        f.attrs["policies"] = f.attrs["policies"].replace("26.1", "66.1")  # what a flipped bit did
    with pytest.raises(
        DamagedError, match=r"s.awb is damaged: the station record .* does not match its checksum"
    ):
        Project.open(p.path)


@pytest.mark.parametrize("group", ["views", "runs", "results", "gt_masks", "samples"])
def test_a_group_that_cannot_be_read_is_an_error_not_an_empty_default(tmp_path, rng, group):
    p = _station(tmp_path / "s.awb", rng)
    p.close()
    blobs = _blob_files(p.path)
    with h5py.File(p.path, "r+") as f:
        del f[group]
    with pytest.raises(DamagedError, match=f"s.awb is damaged: its group '{group}' cannot be read"):
        Project.open(p.path)
    assert _blob_files(p.path) == blobs


def test_a_lost_run_is_caught_even_when_its_group_reads(tmp_path, rng):
    p = _station(tmp_path / "s.awb", rng)
    p.close()
    with h5py.File(p.path, "r+") as f:
        del f["runs"]["run2"]
    with pytest.raises(DamagedError, match="the list of runs: 1 missing .first: run2"):
        Project.open(p.path)


def test_changed_scores_template_and_sample_table_are_caught(tmp_path, rng):
    p = _station(tmp_path / "s.awb", rng)
    p.close()
    edits = {
        "the record of result res1": lambda f: f["results"]["res1"]["scores"].__setitem__(0, 9.0),
        "the sample table": lambda f: f["samples"]["table"].__setitem__(5, ord("x")),
        "the record of run run1": lambda f: f["runs"]["run1"].attrs.__setitem__("params", '{"k": 3}'),
    }
    for what, edit in edits.items():
        copy = tmp_path / "copy.awb"
        shutil.copyfile(p.path, copy)
        with h5py.File(copy, "r+") as f:
            edit(f)
        with pytest.raises(DamagedError, match=what):
            Project.open(copy)


def test_an_edited_mask_is_checked_when_read(tmp_path, rng):
    p = _station(tmp_path / "s.awb", rng)
    p.close()
    with h5py.File(p.path, "r+") as f:
        f["gt_masks"]["1"][0, 0] = 0
    with Project.open(p.path) as q:
        with pytest.raises(DamagedError, match="the edited mask of sample 1 does not match its checksum"):
            q.gt_mask(1)


def test_a_blob_replaced_by_another_valid_blob_is_refused(tmp_path, rng):
    p = _station(tmp_path / "s.awb", rng)
    blob1, blob2 = p._state.run_blobs["run1"], p._state.run_blobs["run2"]
    p.close()
    sidecar = sidecar_for(p.path)
    shutil.copyfile(sidecar / f"{blob2}.h5", sidecar / f"{blob1}.h5")  # run2's weights under run1's name
    with Project.open(p.path) as q:
        q.run_state("run2")
        with pytest.raises(DamagedError, match=f"the weights of run run1 is damaged: data file {blob1}.h5"):
            q.run_state("run1")


def test_changed_image_and_map_bytes_name_the_sample_and_the_result(tmp_path, rng):
    p = _station(tmp_path / "s.awb", rng)
    img, maps = p._state.refs[3].blob, p._state.map_blobs["res1"]
    p.close()
    sidecar = sidecar_for(p.path)
    with h5py.File(sidecar / f"{img}.h5", "r+") as f:
        f["images"]["0"][2, 0, 0, 0] ^= 1
    with h5py.File(sidecar / f"{maps}.h5", "r+") as f:
        f["maps"]["all"][1, 3, 3] += 1
    with Project.open(p.path) as q:
        q.sample_image(1)
        with pytest.raises(DamagedError, match=f"the image of sample 3 is damaged: data file {img}.h5"):
            q.sample_image(3)
        q.result_maps("res1", [1])
        with pytest.raises(DamagedError, match="the maps of result res1 is damaged"):
            q.result_maps("res1")
        with pytest.raises(DamagedError):
            q.pack(tmp_path / "packed.awb")  # damage is not copied on
    assert not (tmp_path / "packed.awb").exists()


def test_a_schema_1_blob_is_checked_whole(tmp_path):
    copy = tmp_path / "v1.awb"
    shutil.copyfile(FIXTURES / "v1.awb", copy)
    with h5py.File(copy, "r+") as f:
        name = next(n for n in f["blobs"] if n.startswith("img-"))
        f["blobs"][name]["images"]["0"][1, 5, 5, 0] ^= 4
    with Project.open(copy) as p:
        with pytest.raises(DamagedError, match=f"data file {name}.h5 does not match"):
            p.sample_image(1)
    with Project.open(FIXTURES / "v1.awb") as p:  # the untouched fixture checks out
        assert p.sample_image(2).shape == (24, 32, 3)


def test_a_blob_name_that_leaves_the_sidecar_is_refused(tmp_path, rng):
    p = _station(tmp_path / "s.awb", rng)
    p._state.run_blobs["run1"] = "../../outside"
    crafted = tmp_path / "crafted.awb"
    with h5py.File(crafted, "w") as f, p._old_masks() as masks:
        write_state(f, p._state, masks)  # checksums made by the writer: only the name is wrong
    p.close()
    with pytest.raises(ProjectError, match="'../../outside', which is not a plain data-file name"):
        Project.open(crafted)


def test_a_save_keeps_blobs_another_live_session_wrote(tmp_path, rng, monkeypatch):
    from workbench.project import samples_api

    monkeypatch.setattr(samples_api, "PENDING_LIMIT_BYTES", 0)
    p = _station(tmp_path / "s.awb", rng)
    p.close()
    a = Project.open(p.path)
    a.add_samples([textured(rng, 9, 9)], [{}])  # a blob on disk that only session a knows
    b = Project.open(p.path)
    b.set_meta("edited", True)
    b.save()
    assert len(_blob_files(p.path)) == 4 + 1  # images, 2 runs, maps and a's new images
    b.close()
    a.close()


def test_blobs_left_by_a_dead_writer_are_collected(tmp_path, rng):
    p = _station(tmp_path / "s.awb", rng)
    sidecar = sidecar_for(p.path)
    orphan = sidecar / ("img-" + "ab" * 16 + ".h5")
    orphan.write_bytes(b"left by a killed writer")
    (sidecar / ".claims-999999999-deadbeef").write_text(orphan.stem + "\n")
    p.set_meta("x", 1)
    p.save()
    assert not orphan.exists() and not (sidecar / ".claims-999999999-deadbeef").exists()
    p.close()


def test_records_keep_their_checksums_across_saves_and_edits(tmp_path, rng):
    p = _station(tmp_path / "s.awb", rng)
    p.set_gt_mask(2, np.ones((12, 16), np.uint8))
    p.save()
    p.update_samples([3], label="defective")
    p.save()
    p.close()
    with Project.open(p.path) as q:
        assert q.sample(3).label == "defective" and q.gt_mask(1).any() and q.gt_mask(2).any()
        with h5py.File(p.path, "r") as f:
            records = json.loads(f.attrs["records"])
    assert {"/", "samples", "runs/run1", "runs/run2", "results/res1", "gt_masks/1", "gt_masks/2"} <= set(
        records
    )


@pytest.mark.parametrize("attr", ["keys", "leaves"])
def test_invalid_text_in_a_blob_is_reported_as_damage(tmp_path, rng, attr):
    p = _station(tmp_path / "s.awb", rng)
    blob = p._state.run_blobs["run1"]
    p.close()
    with h5py.File(sidecar_for(p.path) / f"{blob}.h5", "r+") as f:
        f.attrs[attr] = np.bytes_(b'["w\xb9"]')  # a flipped bit that leaves no valid UTF-8
    with Project.open(p.path) as q:
        with pytest.raises(ProjectError, match="run run1 .*damaged"):
            q.run_state("run1")


def test_invalid_text_in_the_main_file_is_reported_as_damage(tmp_path, rng):
    p = _station(tmp_path / "s.awb", rng)
    p.close()
    with h5py.File(p.path, "r+") as f:
        f.attrs["meta"] = np.bytes_(b'{"line": "L\xb9"}')
    with pytest.raises(DamagedError, match="the station record .* does not match its checksum"):
        Project.open(p.path)
