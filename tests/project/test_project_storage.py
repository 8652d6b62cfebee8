"""Sidecar blobs, packing, save_as, garbage collection, lazy opening and the stored schema fixtures."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from project_helpers import textured

from workbench.cli.main import main as cli_main
from workbench.project import FORMAT, SCHEMA_VERSION, Project, ProjectError, samples_api
from workbench.project.blobs import BlobStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "project"
sys.path.insert(0, str(FIXTURES))
from make_fixtures import expected  # noqa: E402


def _blobs(project_path: Path) -> set[str]:
    sidecar = project_path.with_name(project_path.name + ".d")
    # dot files are the bookkeeping of live sessions (claims), not data
    return {p.name for p in sidecar.iterdir() if not p.name.startswith(".")} if sidecar.exists() else set()


def _full_project(path: Path, rng) -> Project:
    p = Project.create(path)
    ids = p.add_samples(
        [textured(rng, 16, 20) for _ in range(3)],
        [{"view": "v"}] * 3,
        [None, np.ones((16, 20), np.uint8), None],
    )
    p.set_gt_mask(ids[2], np.ones((16, 20), np.uint8))
    rid = p.add_run("m", "v", {"a": 1}, {"w": rng.random((5, 5))})
    p.add_result(rid, ids, np.arange(3), rng.random((3, 16, 20)))
    p.set_policy("p", {"v": 1})
    p.save()
    return p


def _rows(p: Project) -> list[dict]:
    # NaN match scores never compare equal; compare them as text
    return [{**dataclasses.asdict(s), "match_score": repr(s.match_score)} for s in p.samples()]


def _same_content(a: Project, b: Project) -> None:
    assert _rows(a) == _rows(b) and a.policies == b.policies and a.meta == b.meta
    for s in a.samples():
        assert np.array_equal(a.sample_image(s.id), b.sample_image(s.id))
        ma, mb = a.gt_mask(s.id), b.gt_mask(s.id)
        assert (ma is None and mb is None) or np.array_equal(ma, mb)
    for r in a.runs:
        assert {k: v.tolist() for k, v in a.run_state(r.id).items()} == {
            k: v.tolist() for k, v in b.run_state(r.id).items()
        }
    for r in a.results():
        assert np.array_equal(np.stack(a.result_maps(r.id)), np.stack(b.result_maps(r.id)))


def test_images_weights_and_maps_live_in_the_sidecar(tmp_path, rng):
    p = _full_project(tmp_path / "s.awb", rng)
    kinds = sorted(name.split("-")[0] for name in _blobs(p.path))
    assert kinds == ["img", "map", "run"]
    with h5py.File(p.path, "r") as f:
        assert f.attrs["format"] == FORMAT and f.attrs["schema_version"] == SCHEMA_VERSION
        assert "blobs" not in f and json.loads(f.attrs["policies"]) == {"p": {"v": 1}}


def test_unreferenced_blobs_are_collected_after_a_successful_save(tmp_path, rng, monkeypatch):
    p = _full_project(tmp_path / "s.awb", rng)
    before = _blobs(p.path)
    monkeypatch.setattr(samples_api, "PENDING_LIMIT_BYTES", 0)  # every call goes to disk at once
    extra = p.add_samples([textured(rng, 9, 9)], [{}])
    assert len(_blobs(p.path)) == len(before) + 1  # on disk now, referenced only from the next save
    p.remove_samples(extra)
    p.remove_run("run1")
    (p.path.parent / "s.awb.d" / "notes.txt").write_text("a user's file is never deleted")
    p.save()
    assert _blobs(p.path) == {n for n in before if n.startswith("img")} | {"notes.txt"}
    with Project.open(p.path) as q:
        assert len(q.samples()) == 3 and q.runs == []


def test_frames_added_one_by_one_reach_the_disk_as_one_batch(tmp_path, rng):
    p = Project.create(tmp_path / "s.awb")
    frames = [textured(rng, 12, 12) for _ in range(10)]
    ids = [p.add_samples([f], [{"frame": i}])[0] for i, f in enumerate(frames)]
    frames[0][:] = 0  # the caller reuses its buffer: the project kept its own copy
    assert p.sample_image(ids[1]).tolist() == frames[1].tolist()  # readable before any save
    p.remove_samples(ids[5:])
    p.save()
    assert len(_blobs(p.path)) == 1
    with Project.open(p.path) as q:
        assert [q.sample(i).frame for i in ids[:5]] == [0, 1, 2, 3, 4]
        assert q.sample_image(ids[0]).any() and np.array_equal(q.sample_image(ids[4]), frames[4])


def test_stale_temporary_blobs_of_dead_writers_are_removed(tmp_path, rng):
    p = _full_project(tmp_path / "s.awb", rng)
    stale = tmp_path / "s.awb.d" / "img-abc.h5.tmp-999999999-deadbeef"
    stale.write_bytes(b"half")
    p.set_policy("q", {})
    p.save()
    assert not stale.exists()


def test_pack_writes_one_file_that_opens_and_saves_again(tmp_path, rng):
    p = _full_project(tmp_path / "s.awb", rng)
    out = tmp_path / "share" / "packed.awb"
    out.parent.mkdir()
    p.pack(out)
    assert not (out.parent / "packed.awb.d").exists()
    with Project.open(out) as q:
        assert q.packed
        _same_content(p, q)
        q.set_policy("new", {"v": 2})
        q.save()  # the first save of a packed file moves its blobs out into a sidecar
        assert not q.packed and _blobs(out) == _blobs(p.path)
    p.set_policy("new", {"v": 2})
    with Project.open(out) as q:
        _same_content(p, q)
    with pytest.raises(ProjectError, match="onto itself"):
        p.pack(p.path)


def test_save_as_puts_the_sidecar_next_to_the_new_file(tmp_path, rng):
    (tmp_path / "a").mkdir()
    p = _full_project(tmp_path / "a" / "s.awb", rng)
    new = tmp_path / "b" / "copy.awb"
    new.parent.mkdir()
    added = p.add_samples([textured(rng, 9, 9)], [{}])
    p.save_as(new)
    assert p.path == new and p.name == "copy" and not p.dirty
    assert len(_blobs(new)) == 4 and len(_blobs(tmp_path / "a" / "s.awb")) == 3  # the old one is unchanged
    with Project.open(tmp_path / "a" / "s.awb") as old, Project.open(new) as q:
        assert len(old.samples()) == 3 and len(q.samples()) == 4
        assert np.array_equal(q.gt_mask(3), np.full((16, 20), 255, np.uint8))
        assert q.sample_image(added[0]).shape == (9, 9, 3)


def test_open_reads_metadata_only(tmp_path, rng, monkeypatch):
    p = _full_project(tmp_path / "s.awb", rng)
    p.close()
    opened: list[str] = []
    real = h5py.File

    def spy(name, *args, **kwargs):
        opened.append(Path(name).name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(h5py, "File", spy)
    q = Project.open(p.path)
    q.samples(view="v")
    q.summary()
    assert q.runs and q.results() and q.policies
    assert all(not name.endswith(".h5") for name in opened), opened  # no blob was touched
    assert q.sample_image(1).shape == (16, 20, 3)
    assert any(name.startswith("img-") for name in opened)
    q.close()


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("v*.awb")), ids=lambda p: p.name)
def test_every_stored_schema_version_opens(fixture, tmp_path):
    e = expected()
    with Project.open(fixture) as p:
        assert p.schema_version == int(fixture.stem[1:])
        assert p.meta == {"station": "fixture line 1"}
        assert [(s.id, s.kind) for s in p.sources] == [("src1", "folder")]
        v = p.views["lower front"]
        assert np.array_equal(v.template, e["template"]) and np.array_equal(v.zones, e["zones"])
        assert v.zone_names == ["left", "right"] and v.template_origin == (12, 40, 50)
        samples = p.samples()
        assert [s.split for s in samples] == ["train", "val", "test", "unassigned"]
        for s, img in zip(samples, e["images"]):
            assert np.array_equal(p.sample_image(s.id), img)
        assert [s.has_mask for s in samples] == [False, True, True, False]
        assert np.array_equal(p.gt_mask(samples[1].id), e["mask"])
        state = p.run_state("run1")
        assert all(np.array_equal(state[k], w) for k, w in e["weights"].items())
        assert np.array_equal(np.stack(p.result_maps("res1")), e["maps"].astype(np.float32))
        assert p.policies == {"default": e["policy"]}
        p.save_as(tmp_path / "upgraded.awb")  # an old file becomes current at its next save
    with Project.open(tmp_path / "upgraded.awb") as p:
        assert p.schema_version == SCHEMA_VERSION and len(p.samples()) == 4


def test_a_fixture_exists_for_the_current_schema():
    assert (FIXTURES / f"v{SCHEMA_VERSION}.awb").is_file()
    assert (FIXTURES / f"v{SCHEMA_VERSION}.awb").stat().st_size < 64_000


def test_cli_new_info_and_pack(tmp_path, capsys, rng):
    path = tmp_path / "line.awb"
    assert cli_main(["new", str(path)]) == 0
    assert cli_main(["new", str(path)]) == 1
    assert "already exists" in capsys.readouterr().err
    with Project.open(path) as p:
        p.add_samples([textured(rng, 8, 8)], [{"view": "front", "split": "train", "label": "good"}])
        p.save()
    assert cli_main(["info", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["samples"] == 1 and summary["per_view"]["front"]["split"] == {"train": 1}
    assert cli_main(["info", str(path)]) == 0
    assert "front: 1 (train 1; good 1; 0 with mask)" in capsys.readouterr().out
    assert cli_main(["pack", str(path), "--out", str(tmp_path / "one.awb")]) == 0
    with Project.open(tmp_path / "one.awb") as q:
        assert q.packed and q.sample_image(1).shape == (8, 8, 3)
    (tmp_path / "bad.awb").write_text("x")
    capsys.readouterr()
    assert cli_main(["info", str(tmp_path / "bad.awb")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not a workbench project" in err


def test_blob_store_reports_a_missing_blob_by_name(tmp_path):
    store = BlobStore(tmp_path / "x.awb")
    with pytest.raises(ProjectError, match=f"img-{'0' * 32}.h5 is missing"):
        store.group(f"img-{'0' * 32}")
    with pytest.raises(ProjectError, match="not a plain data-file name"):
        store.group("../img-" + "0" * 32)


def test_old_schemas_are_migrated_in_memory_and_upgraded_at_save(tmp_path, monkeypatch):
    from workbench.project import mainfile, project, schema

    future = SCHEMA_VERSION + 1

    def migrate_to_future(f):
        meta = json.loads(f.attrs["meta"])
        f.attrs["meta"] = json.dumps({**meta, "migrated": True})

    for module in (schema, project, mainfile):
        monkeypatch.setattr(module, "SCHEMA_VERSION", future)
    monkeypatch.setitem(schema.MIGRATIONS, SCHEMA_VERSION, migrate_to_future)
    fixture = FIXTURES / "v1.awb"
    before = fixture.read_bytes()
    with Project.open(fixture) as p:
        assert p.schema_version == 1 and p.meta["migrated"] is True
        assert np.array_equal(p.gt_mask(2), expected()["mask"])  # edited mask taken from the migrated copy
        p.save_as(tmp_path / "future.awb")
        assert p.schema_version == future
    assert fixture.read_bytes() == before  # opening an old file never changes it
    with h5py.File(tmp_path / "future.awb", "r") as f:
        assert f.attrs["schema_version"] == future
    with Project.open(tmp_path / "future.awb") as p:
        assert p.meta["migrated"] is True and len(p.samples()) == 4
