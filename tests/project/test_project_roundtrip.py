"""Every part of the project API reads back equal after save and open."""

from __future__ import annotations

import math

import numpy as np
import pytest
from project_helpers import textured

from workbench.project import SCHEMA_VERSION, Project, ProjectError


def test_create_writes_a_valid_empty_project_at_once(tmp_path):
    path = tmp_path / "new.awb"
    p = Project.create(path)
    assert path.is_file() and not p.dirty
    assert (p.name, p.path, p.schema_version) == ("new", path, SCHEMA_VERSION)
    with Project.open(path) as q:
        assert q.samples() == [] and q.runs == [] and q.policies == {} and q.views == {}
        assert q.summary()["samples"] == 0
    assert not (tmp_path / "new.awb.d").exists()  # no bulky data, no sidecar folder


def test_create_refuses_to_overwrite_unless_asked(tmp_path):
    path = tmp_path / "p.awb"
    Project.create(path).close()
    with pytest.raises(ProjectError, match="already exists"):
        Project.create(path)
    Project.create(path, overwrite=True).close()


def test_meta_sources_views_policies_round_trip(project, view):
    project.set_meta("line", "L1")
    project.set_meta("shift", {"hours": [6, 14]})
    src = project.add_source("video", "/v.mp4", {"fps": 25})
    assert src == "src1" and project.dirty
    project.update_source(src, meta={"fps": 30})
    project.set_view(view)
    project.set_policy("strict", {"run": "run1", "value": np.float32(0.5), "min_area": 10})
    project.set_policy("loose", {"value": 0.9})
    project.remove_policy("loose")
    project.save()
    assert not project.dirty
    with Project.open(project.path) as q:
        assert q.meta == {"line": "L1", "shift": {"hours": [6, 14]}}
        assert [(s.id, s.kind, s.uri, s.meta) for s in q.sources] == [
            ("src1", "video", "/v.mp4", {"fps": 30})
        ]
        v = q.views["front"]
        assert np.array_equal(v.template, view.template) and np.array_equal(v.roi, view.roi)
        assert np.array_equal(v.zones, view.zones) and v.zone_names == ["a", "b"]
        assert (v.crop, v.match_threshold, v.roi_margin) == (view.crop, 0.7, 2)
        assert v.template_origin == (5, 10, 20) and v.meta == {"k": [1, 2]}
        assert q.policies == {"strict": {"run": "run1", "value": 0.5, "min_area": 10}}
        q.remove_view("front")
        assert q.views == {} and q.dirty


def test_samples_round_trip_with_images_masks_and_filters(project, rng):
    src = project.add_source("folder", "/imgs")
    images = [textured(rng, 20, 30) for _ in range(3)] + [textured(rng, 12, 16, channels=1)]
    mask = np.zeros((20, 30), bool)
    mask[3:6, 4:9] = True
    infos = [
        dict(
            source=src,
            view="front",
            pass_index=i,
            frame=7 * i,
            x=i,
            y=i + 1,
            split="train",
            label="good",
            match_score=0.8,
            meta={"i": i},
        )
        for i in range(3)
    ]
    infos.append(dict(view="back", split="test", label="defective", synthetic=True))
    ids = project.add_samples(images, infos, [None, mask, None, None])
    assert ids == [1, 2, 3, 4]
    project.save()
    with Project.open(project.path) as q:
        assert [s.id for s in q.samples(view="front")] == [1, 2, 3]
        assert [s.id for s in q.samples(split="test", label="defective")] == [4]
        assert [s.id for s in q.samples(source=src)] == [1, 2, 3]
        s2 = q.sample(2)
        assert (s2.frame, s2.x, s2.y, s2.height, s2.width, s2.has_mask, s2.meta) == (
            7,
            1,
            2,
            20,
            30,
            True,
            {"i": 1},
        )
        assert s2.match_score == pytest.approx(0.8)
        s4 = q.sample(4)
        assert s4.synthetic and math.isnan(s4.match_score) and (s4.pass_index, s4.source) == (-1, "")
        for sid, img in zip(ids, images):
            out = q.sample_image(sid)
            assert out.dtype == np.uint8 and np.array_equal(out, img)
        assert np.array_equal(q.gt_mask(2), mask.astype(np.uint8) * 255)
        assert q.gt_mask(1) is None


def test_gt_mask_edits_and_sample_updates_persist(project, rng):
    ids = project.add_samples(
        [textured(rng, 10, 10) for _ in range(3)],
        [{"view": "v"}] * 3,
        [np.full((10, 10), 255, np.uint8), None, None],
    )
    edited = np.zeros((10, 10), np.uint8)
    edited[2:4, 2:4] = 1
    project.set_gt_mask(ids[1], edited)
    project.set_gt_mask(ids[0], None)
    project.update_samples(ids[1:], split="val", label="defective", meta={"by": "op"})
    project.save()
    with Project.open(project.path) as q:
        assert q.gt_mask(ids[0]) is None and not q.sample(ids[0]).has_mask
        assert np.array_equal(q.gt_mask(ids[1]), edited * 255) and q.sample(ids[1]).has_mask
        assert [(s.split, s.label, s.meta) for s in q.samples()[1:]] == [
            ("val", "defective", {"by": "op"})
        ] * 2
        q.set_policy("p", {})  # an unrelated save must carry the edited mask over unchanged
        q.save()
    with Project.open(project.path) as q:
        assert np.array_equal(q.gt_mask(ids[1]), edited * 255)


def test_sample_ids_are_never_reused(project, rng):
    ids = project.add_samples([textured(rng, 8, 8)] * 3, [{}] * 3)
    project.remove_samples(ids[1:])
    project.save()
    with Project.open(project.path) as q:
        assert [s.id for s in q.samples()] == [ids[0]]
        assert q.add_samples([textured(rng, 8, 8)], [{}]) == [ids[-1] + 1]
        with pytest.raises(ProjectError, match="no sample with id 2"):
            q.sample_image(2)


def test_runs_and_results_round_trip(project, rng):
    ids = project.add_samples([textured(rng, 16, 16) for _ in range(3)], [{}] * 3)
    state = {
        "backbone/layer.1": rng.standard_normal((64, 128)).astype(np.float32),
        "memory_bank": np.arange(12, dtype=np.int64).reshape(3, 4),
        "scalar": np.array(3.5),
        "flag": np.array([True, False]),
    }
    rid = project.add_run("padim", "front", {"backbone": "resnet18", "dims": [1, 2]}, state, {"seconds": 3.0})
    project.update_run(rid, meta={"seconds": 4.0, "note": "ok"})
    maps = rng.random((3, 16, 16)).astype(np.float32) * 5
    res1 = project.add_result(rid, ids, np.array([0.1, 0.2, 0.3]), maps, {"split": "test"})
    ragged = [rng.random((16, 16)), rng.random((8, 12))]
    res2 = project.add_result(rid, ids[:2], np.array([1.0, 2.0]), ragged)
    res3 = project.add_result(rid, ids[:1], np.array([5.0]), None)
    project.save()
    with Project.open(project.path) as q:
        run = q.run(rid)
        assert (run.model, run.view, run.params, run.meta) == (
            "padim",
            "front",
            {"backbone": "resnet18", "dims": [1, 2]},
            {"seconds": 4.0, "note": "ok"},
        )
        back = q.run_state(rid)
        assert set(back) == set(state)
        for k, v in state.items():
            assert back[k].dtype == v.dtype and np.array_equal(back[k], v)
        assert [r.id for r in q.results()] == [res1, res2, res3] and q.results(run_id="run9") == []
        r1 = q.results()[0]
        assert (r1.run, r1.sample_ids, r1.meta) == (rid, ids, {"split": "test"})
        assert q.result_scores(res1).dtype == np.float32
        assert np.allclose(q.result_scores(res1), [0.1, 0.2, 0.3])
        got = q.result_maps(res1)
        assert np.array_equal(np.stack(got), maps.astype(np.float16).astype(np.float32))
        sub = q.result_maps(res2, sample_ids=[ids[1]])
        assert sub[0].shape == (8, 12) and np.allclose(sub[0], ragged[1], atol=1e-3)
        with pytest.raises(ProjectError, match="no anomaly maps"):
            q.result_maps(res3)
        with pytest.raises(ProjectError, match="no map for sample"):
            q.result_maps(res2, sample_ids=[ids[2]])
        q.remove_result(res3)
        q.remove_run(rid)  # its results go with it
        assert q.runs == [] and q.results() == []
        q.save()
        assert q.add_run("padim", "front", {}, {}) == "run2"


def test_returned_records_are_copies(project, view, rng):
    project.set_view(view)
    project.add_samples([textured(rng, 8, 8)], [{"meta": {"a": 1}}])
    project.views["front"].template[:] = 0
    project.sample(1).meta["a"] = 2
    project.policies["x"] = {}
    assert project.views["front"].template.any()
    assert project.sample(1).meta == {"a": 1} and project.policies == {}


def test_summary_counts_per_view_split_and_label(project, rng):
    project.add_samples(
        [textured(rng, 8, 8)] * 3,
        [dict(view="a", split="train", label="good")] * 2 + [dict(view="b", split="test", label="defective")],
    )
    project.set_policy("p", {})
    s = project.summary()
    assert s["samples"] == 3 and s["policies"] == ["p"]
    assert s["per_view"]["a"] == {"samples": 2, "split": {"train": 2}, "label": {"good": 2}, "with_mask": 0}
    assert s["per_view"]["b"]["label"] == {"defective": 1}


def test_identical_batches_are_stored_once(project, rng):
    batch = [textured(rng, 32, 32) for _ in range(4)]
    project.add_samples(batch, [{}] * 4)
    project.add_samples(batch, [{}] * 4)
    project.save()
    assert len(list((project.path.parent / "station.awb.d").iterdir())) == 1
    assert len(project.samples()) == 8
