"""Bad files and bad places give one clear ProjectError and leave every file as it was."""

from __future__ import annotations

import hashlib
import os
import shutil

import h5py
import numpy as np
import pytest
from project_helpers import textured

from workbench.project import SCHEMA_VERSION, Project, ProjectError


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _saved_project(tmp_path, rng) -> Project:
    p = Project.create(tmp_path / "s.awb")
    p.add_samples([textured(rng, 16, 16) for _ in range(2)], [{}] * 2)
    p.set_policy("p", {"value": 1})
    p.save()
    return p


def test_a_file_that_is_not_hdf5_is_refused(tmp_path):
    path = tmp_path / "notes.awb"
    path.write_text("hello")
    with pytest.raises(ProjectError, match="notes.awb is not a workbench project"):
        Project.open(path)
    assert path.read_text() == "hello"


def test_a_foreign_hdf5_file_is_refused(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
    before = _digest(path)
    with pytest.raises(ProjectError, match="not a workbench project .no 'format' attribute"):
        Project.open(path)
    assert _digest(path) == before


def test_a_truncated_file_is_refused(tmp_path, rng):
    p = _saved_project(tmp_path, rng)
    p.close()
    data = p.path.read_bytes()
    cut = tmp_path / "cut.awb"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ProjectError, match="cut.awb is damaged or truncated"):
        Project.open(cut)
    assert cut.read_bytes() == data[: len(data) // 2]


def test_a_file_of_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "future.awb"
    Project.create(path).close()
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = 7
    before = _digest(path)
    with pytest.raises(
        ProjectError, match=rf"made by a newer workbench \(schema 7\); this one reads up to {SCHEMA_VERSION}"
    ):
        Project.open(path)
    assert _digest(path) == before


def test_a_missing_file_and_a_folder_are_refused(tmp_path):
    with pytest.raises(ProjectError, match="does not exist"):
        Project.open(tmp_path / "nothing.awb")
    with pytest.raises(ProjectError, match="is a folder"):
        Project.open(tmp_path)


def test_a_missing_sidecar_blob_is_named(tmp_path, rng):
    p = _saved_project(tmp_path, rng)
    p.close()
    blob = next((tmp_path / "s.awb.d").iterdir())
    blob.rename(tmp_path / "elsewhere.h5")
    before = _digest(p.path)
    with pytest.raises(ProjectError, match=f"missing from .*s.awb.d .first: {blob.name}"):
        Project.open(p.path)
    assert _digest(p.path) == before
    (tmp_path / "elsewhere.h5").rename(blob)
    with Project.open(p.path) as q:
        assert len(q.samples()) == 2


def test_a_damaged_blob_fails_only_when_its_data_is_read(tmp_path, rng):
    p = _saved_project(tmp_path, rng)
    p.close()
    blob = next((tmp_path / "s.awb.d").iterdir())
    blob.write_bytes(b"garbage" * 10)
    with Project.open(p.path) as q:
        assert len(q.samples()) == 2
        with pytest.raises(ProjectError, match="is damaged"):
            q.sample_image(1)


def test_save_into_a_vanished_folder_keeps_the_edits(tmp_path, rng):
    folder = tmp_path / "line"
    folder.mkdir()
    p = Project.create(folder / "s.awb")
    p.set_policy("t", {"value": 0.3})
    folder.rename(tmp_path / "moved")
    with pytest.raises(ProjectError, match="does not exist"):
        p.save()
    assert p.dirty and p.policies == {"t": {"value": 0.3}}
    (tmp_path / "moved").rename(folder)
    p.save()
    with Project.open(folder / "s.awb") as q:
        assert q.policies == {"t": {"value": 0.3}}


def test_save_as_under_a_file_is_refused_and_keeps_the_edits(tmp_path, rng):
    p = _saved_project(tmp_path, rng)
    p.set_policy("p", {"value": 2})
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(ProjectError, match="is a file, expected a folder"):
        p.save_as(blocker / "copy.awb")
    assert p.dirty and p.path == tmp_path / "s.awb"
    with pytest.raises(ProjectError, match="is a file"):
        Project.create(blocker / "new.awb")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores file permissions")
def test_save_into_a_read_only_folder_keeps_the_edits(tmp_path, rng):
    p = _saved_project(tmp_path, rng)
    before = _digest(p.path)
    p.set_policy("p", {"value": 2})
    os.chmod(tmp_path, 0o555)
    try:
        with pytest.raises(ProjectError, match="read-only"):
            p.save()
        with pytest.raises(ProjectError):
            p.add_samples([textured(rng, 8, 8)], [{}])
    finally:
        os.chmod(tmp_path, 0o755)
    assert p.dirty and _digest(p.path) == before
    p.save()


def test_bad_input_is_refused_with_what_was_expected(project, rng, view):
    with pytest.raises(
        ProjectError, match=r"sample 1 of the batch: expected a uint8 image .* found a float32"
    ):
        project.add_samples([textured(rng, 8, 8), np.zeros((8, 8), np.float32)], [{}, {}])
    with pytest.raises(ProjectError, match="expected one info per image"):
        project.add_samples([textured(rng, 8, 8)], [])
    with pytest.raises(ProjectError, match="split must be one of"):
        project.add_samples([textured(rng, 8, 8)], [{"split": "training"}])
    with pytest.raises(ProjectError, match="unknown field.*colour"):
        project.add_samples([textured(rng, 8, 8)], [{"colour": 1}])
    with pytest.raises(ProjectError, match="unknown source 'src9'"):
        project.add_samples([textured(rng, 8, 8)], [{"source": "src9"}])
    with pytest.raises(ProjectError, match=r"expected a mask of shape \(8, 8\).*found shape \(4, 4\)"):
        project.add_samples([textured(rng, 8, 8)], [{}], [np.zeros((4, 4), np.uint8)])
    with pytest.raises(ProjectError, match="plain JSON"):
        project.set_policy("p", {"f": object()})
    with pytest.raises(ProjectError, match="no run 'run1'"):
        project.add_result("run1", [], np.zeros(0), None)
    view.roi = np.zeros((5, 5), np.uint8)
    with pytest.raises(ProjectError, match="ROI mask: expected uint8 of shape"):
        project.set_view(view)
    ids = project.add_samples([textured(rng, 8, 8)], [{}])
    with pytest.raises(ProjectError, match="cannot set height"):
        project.update_samples(ids, height=3)
    rid = project.add_run("m", "v", {}, {"w": np.zeros(2)})
    with pytest.raises(ProjectError, match=r"expected 1 scores"):
        project.add_result(rid, ids, np.zeros(2), None)
    with pytest.raises(ProjectError, match="numeric numpy array"):
        project.add_run("m", "v", {}, {"w": np.array(["a"], dtype=object)})
    assert len(project.samples()) == 1  # nothing half-added


def test_a_closed_project_refuses_edits(project):
    project.close()
    with pytest.raises(ProjectError, match="is closed"):
        project.set_policy("p", {})


def test_packed_fixture_copy_opens_after_the_sidecar_is_gone(tmp_path, rng):
    p = _saved_project(tmp_path, rng)
    out = p.pack(tmp_path / "one.awb")
    p.close()
    shutil.rmtree(tmp_path / "s.awb.d")
    with Project.open(out) as q:
        assert q.packed and q.sample_image(1).shape == (16, 16, 3)
