"""Synthesis job, CLI and miss-rate table on a small rendered demo station (real beads, real projects)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from workbench.cli.main import main as cli_main
from workbench.core.progress import Cancelled, CancelToken
from workbench.jobs.demo import build_demo_station
from workbench.jobs.miss_rate import miss_rate_table
from workbench.jobs.synthesize import synthesize
from workbench.metrics.policy import ThresholdPolicy
from workbench.project import Project
from workbench.synth.bead import Bead
from workbench.synth.bead_defects import BEAD_TYPES
from workbench.synth.masks import difference, iou


@pytest.fixture(scope="module")
def station(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo6")
    return Path(build_demo_station(out, passes=6, defect_rate=0.0, seed=1).project_path)


def _copy(station: Path, dest: Path) -> Path:
    shutil.copy(station, dest / station.name)
    side = station.with_name(station.name + ".d")
    if side.exists():
        shutil.copytree(side, dest / side.name)
    return dest / station.name


@pytest.fixture(scope="module")
def synthesized(station, tmp_path_factory):
    """A copy of the station with 15 synthetic defects (each bead type on each view), saved."""
    path = _copy(station, tmp_path_factory.mktemp("synth"))
    with Project.open(path) as p:
        before = {s.id for s in p.samples()}
        result = synthesize(p, count=15, seed=3)
        p.save()
    return path, before, result


def test_a_batch_spreads_over_types_and_views_with_exact_masks_in_val_and_test(synthesized):
    path, before, result = synthesized
    assert not result.failed, result.failed
    assert len(result.sample_ids) == 15
    assert result.counts == {f"{v}/{t}": 1 for v in ("front", "center", "back") for t in BEAD_TYPES}
    with Project.open(path) as p:
        new = [p.sample(i) for i in result.sample_ids]
        assert {s.id for s in p.samples()} == before | set(result.sample_ids)
        for s in new:
            assert s.split in ("val", "test") and s.label == "defective" and s.synthetic
            prov = s.meta["synthetic"]
            assert prov["type"] in BEAD_TYPES and prov["size"] in ("small", "medium", "large")
            assert prov["zone"] in p.views[s.view].zone_names
            src = p.sample(prov["source_sample"])
            assert src.view == s.view and src.split in ("val", "test") and not src.synthetic
            mask, raw = p.gt_mask(s.id), difference(p.sample_image(src.id), p.sample_image(s.id)) > 12
            assert mask is not None and mask.any()
            assert iou(mask, raw) >= 0.8, (s.id, prov["type"])
            assert prov["area_share"] == pytest.approx((mask > 0).mean(), abs=1e-5)
        assert {s.split for s in new} == {"val", "test"}
        # the size asked for is the size reached (a share of the sample) for nearly every defect
        reached = [s.meta["synthetic"]["size"] == s.meta["synthetic"]["target_size"] for s in new]
        assert sum(reached) >= 13, [
            (s.meta["synthetic"]["target_size"], s.meta["synthetic"]["size"]) for s in new
        ]
        # the bead found for each view is kept, so the next batch and the GUI see the same bead
        for v in p.views.values():
            assert len(Bead.from_dict(v.meta["bead"]).lines) >= 1


def test_the_same_seed_gives_the_same_defects(station, tmp_path, synthesized):
    path, _, first = synthesized
    with Project.open(_copy(station, tmp_path)) as p:
        again = synthesize(p, count=15, seed=3)
        with Project.open(path) as q:
            for a, b in zip(first.sample_ids, again.sample_ids, strict=True):
                assert q.sample(a).meta == p.sample(b).meta
                assert np.array_equal(q.gt_mask(a), p.gt_mask(b))


def test_cancel_leaves_the_project_unchanged(station, tmp_path):
    token = CancelToken()
    seen = []

    def progress(fraction, message=""):
        seen.append(fraction)
        if len(seen) == 3:  # after two defects are drawn
            token.cancel()

    with Project.open(_copy(station, tmp_path)) as p:
        ids = [s.id for s in p.samples()]
        with pytest.raises(Cancelled):
            synthesize(p, count=10, seed=0, progress=progress, cancel=token)
        assert [s.id for s in p.samples()] == ids
        assert all("bead" not in (v.meta or {}) for v in p.views.values())


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"count": 3, "types": ["crack"]}, ["crack", "missing"]),
        ({"count": 3, "views": ["roof"]}, ["roof", "front"]),
        ({"count": 0}, ["count", "0"]),
        ({"count": 3, "sizes": ["huge"]}, ["huge", "small"]),
        ({"count": 3, "preset": "table9"}, ["table9", "table1"]),
    ],
)
def test_bad_arguments_say_what_was_expected_and_change_nothing(station, tmp_path, kwargs, words):
    with Project.open(_copy(station, tmp_path)) as p:
        n = len(p.samples())
        with pytest.raises(ValueError) as err:
            synthesize(p, **kwargs)
        assert all(w in str(err.value) for w in words), str(err.value)
        assert len(p.samples()) == n


def test_cli_adds_and_saves_the_defects(station, tmp_path, capsys):
    path = _copy(station, tmp_path)
    argv = [
        "synth",
        str(path),
        "--count",
        "4",
        "--types",
        "hole",
        "missing",
        "--views",
        "back",
        "--seed",
        "2",
    ]
    assert cli_main([*argv, "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["added"] == 4 and out["counts"] == {"back/hole": 2, "back/missing": 2}
    with Project.open(path) as p:
        syn = [s for s in p.samples() if s.synthetic]
        assert len(syn) == 4 and {s.view for s in syn} == {"back"}
    assert cli_main(["synth", str(path), "--count", "2", "--views", "roof", "--quiet"]) != 0
    assert "roof" in capsys.readouterr().err


def _result(p: Project, view: str) -> tuple[str, list[int], np.ndarray, list[np.ndarray]]:
    """Fit a small untrained-backbone PaDiM on the view's train normals, score its val/test samples, store it."""
    from workbench.models import registry

    rgb = lambda s: np.ascontiguousarray(p.sample_image(s.id)[:, :, ::-1])  # noqa: E731
    train = [rgb(s) for s in p.samples(view=view, split="train")]
    model = registry.create("padim", backbone="resnet18", pretrained=False, n_features=32)
    model.fit(train, roi=p.views[view].roi)
    evals = [s for sp in ("val", "test") for s in p.samples(view=view, split=sp)]
    scores, maps = model.predict([rgb(s) for s in evals])
    state = {k: np.asarray(v) for k, v in model.state_dict().items()}
    run = p.add_run("padim", view, model.get_params(), state)
    ids = [s.id for s in evals]
    return p.add_result(run, ids, scores, maps), ids, scores, list(maps)


def test_miss_rate_counts_detections_per_type_size_and_zone(synthesized, tmp_path):
    path, _, _ = synthesized
    work = _copy(path, tmp_path)
    with Project.open(work) as p:
        res, ids, scores, maps = _result(p, "front")
        normals = [k for k, i in enumerate(ids) if not p.sample(i).synthetic]
        syn = [k for k, i in enumerate(ids) if p.sample(i).synthetic]
        thr = float(scores[normals].max())  # no false alarm on the val/test normals
        table = miss_rate_table(p, res, threshold=thr)
        assert table["overall"]["n"] == len(syn) == 5
        hits = [bool(scores[k] >= thr) for k in syn]
        assert table["overall"]["detected"] == sum(hits)
        assert table["overall"]["miss_rate"] == pytest.approx(1 - sum(hits) / len(syn), abs=1e-4)
        assert set(table["by_type"]) == set(BEAD_TYPES)
        assert sum(r["n"] for r in table["rows"]) == len(syn)
        assert sum(r["n"] for r in table["by_zone"].values()) == len(syn)
        # pixel level: detected when the map reaches the threshold inside the defect's GT mask
        pix = miss_rate_table(p, res, threshold=thr, level="pixel")
        by_hand = sum(bool((maps[k][p.gt_mask(ids[k]) > 0] >= thr).any()) for k in syn)
        assert pix["overall"]["detected"] == by_hand
        # a stored policy gives the same table as its value
        p.set_policy("fa0", ThresholdPolicy(threshold=thr, source="manual").to_dict())
        pol = miss_rate_table(p, res, policy="fa0")
        assert pol["overall"] == table["overall"] and pol["threshold"] == {"policy": "fa0"}
        json.dumps(pol)
        with pytest.raises(ValueError, match="nope"):
            miss_rate_table(p, res, policy="nope")
        with pytest.raises(ValueError, match="res999"):
            miss_rate_table(p, "res999", threshold=thr)
        with pytest.raises(ValueError, match="level"):
            miss_rate_table(p, res, threshold=thr, level="region")


@pytest.fixture(scope="module")
def trained(synthesized, tmp_path_factory):
    """The synthesized station with a PaDiM run on view 'front' and its stored val/test result, saved."""
    path = _copy(synthesized[0], tmp_path_factory.mktemp("trained"))
    with Project.open(path) as p:
        res, ids, _, _ = _result(p, "front")
        p.save()
        scores = np.asarray(p.result_scores(res), np.float64)
        samples = [p.sample(i) for i in ids]
        run = p.runs[-1].id
    return path, run, samples, scores


def test_eval_reports_which_synthetic_test_defects_the_run_detects_at_its_policy(trained, tmp_path, capsys):
    _, run, samples, scores = trained
    path = _copy(trained[0], tmp_path)
    val_normals = [x for s, x in zip(samples, scores) if s.split == "val" and s.label == "good"]
    test_syn = [
        (s.meta["synthetic"], x) for s, x in zip(samples, scores) if s.split == "test" and s.synthetic
    ]
    assert test_syn and val_normals

    def by_type(hits) -> dict:
        out: dict = {}
        for (syn, _), hit in zip(test_syn, hits):
            d, n = out.get(syn["type"], (0, 0))
            out[syn["type"]] = (d + hit, n + 1)
        return out

    # no policy in the project: a threshold at a 1 % false-alarm rate on the normal validation scores,
    # i.e. above every one of these few
    assert cli_main(["eval", str(path), "--json", "--quiet"]) == 0
    mr = json.loads(capsys.readouterr().out)["runs"][0]["miss_rates"]
    assert mr["split"] == "test" and mr["policy"]["name"] is None and mr["policy"]["level"] == "image"
    assert mr["policy"]["threshold"] > max(val_normals)
    hits = [bool(x > max(val_normals)) for _, x in test_syn]
    assert mr["overall"]["n"] == len(test_syn) and mr["overall"]["detected"] == sum(hits)
    assert {t: (v["detected"], v["n"]) for t, v in mr["by_type"].items()} == by_type(hits)
    assert sum(r["n"] for r in mr["rows"]) == len(test_syn)
    assert set(mr["by_size"]) <= {"small", "medium", "large"}

    # a policy made for this run is the one in use; one made for another run is not
    cut = float(np.median([x for _, x in test_syn]))
    with Project.open(path) as p:
        p.set_policy("mine", ThresholdPolicy(threshold=cut, source="manual", params={"run": run}).to_dict())
        p.set_policy(
            "theirs", ThresholdPolicy(threshold=-1e9, source="manual", params={"run": "run99"}).to_dict()
        )
        p.save()
    assert cli_main(["eval", str(path), "--quiet"]) == 0
    hits = [bool(x >= cut) for _, x in test_syn]
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("synthetic defects"))
    assert f"detected {sum(hits)}/{len(test_syn)} at policy mine" in line
    assert cli_main(["eval", str(path), "--json", "--quiet", "--policy", "mine"]) == 0
    mr = json.loads(capsys.readouterr().out)["runs"][0]["miss_rates"]
    assert mr["policy"]["name"] == "mine" and mr["policy"]["threshold"] == pytest.approx(cut)
    assert {t: (v["detected"], v["n"]) for t, v in mr["by_type"].items()} == by_type(hits)


def test_report_shows_the_synthetic_detection_table_and_chart(trained, tmp_path):
    import base64
    import re

    import cv2

    from workbench.jobs.report import write_report

    _, _, samples, scores = trained
    with Project.open(_copy(trained[0], tmp_path)) as p:
        html = write_report(p, tmp_path / "out", robustness=False).read_text(encoding="utf-8")
    part = html.split('id="view-front-synthetic">What this station would miss</h3>')[1].split("<h3")[0]
    val_normals = [x for s, x in zip(samples, scores) if s.split == "val" and s.label == "good"]
    test_syn = [x for s, x in zip(samples, scores) if s.split == "test" and s.synthetic]
    hit = sum(x > max(val_normals) for x in test_syn)
    row = re.search(r"<b>all types</b></td>(.*?)</tr>", part).group(1)
    assert f"{hit} / {len(test_syn)} <span class='dim'>" in row.split("</td>")[-2]
    assert "false-alarm rate" in part
    pngs = re.findall(r'src="data:image/png;base64,([^"]+)"', part)
    assert len(pngs) == 1
    img = cv2.imdecode(np.frombuffer(base64.b64decode(pngs[0]), np.uint8), cv2.IMREAD_COLOR)
    assert img is not None and img.shape[1] >= 300
