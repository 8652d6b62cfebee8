"""`workbench train`: one run per view from the train-split normals, scored on the test split, stored."""

from __future__ import annotations

import json

import numpy as np
import pytest
from evaluate_station import MODEL_PARAMS, build_station

from workbench.cli.main import main
from workbench.core.progress import Cancelled, CancelToken
from workbench.jobs.train import train_job
from workbench.project import Project


@pytest.fixture
def station(tmp_path):
    return build_station(
        tmp_path / "station.awb", models=(), n_train=4, val=(1, 1), test=(3, 3), synthetic_test=0
    )


def test_train_stores_a_run_and_test_results(station, capsys):
    params = [f"--param={k}={json.dumps(v)}" for k, v in MODEL_PARAMS["patchcore"].items() if k != "device"]
    assert (
        main(["train", str(station), "--model", "patchcore", "--seed", "3", "--device", "cpu", *params]) == 0
    )
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    with Project.open(station) as p:
        (run,) = p.runs
        assert run.id == out["runs"][0] and run.view == "front" and run.params["seed"] == 3
        assert (
            run.meta["n_train"] == 4
            and run.meta["train_seconds"] > 0
            and run.meta["inference_ms_per_image"] > 0
            and run.meta["peak_rss_bytes"] > 0
        )
        state = p.run_state(run.id)
        assert state["memory_bank_"].shape[1] == 32
        (result,) = p.results(run.id)
        scores = p.result_scores(result.id)
        labels = [p.sample(i).label for i in result.sample_ids]
        assert len(scores) == 6
        bad = np.array([lab == "defective" for lab in labels])
        assert scores[bad].mean() > scores[~bad].mean()
        roi = p.views["front"].roi
    maps = Project.open(station).result_maps(result.id)
    assert all(np.all(m[:10] == 0) for m in maps)  # rows 0..9 are outside the ROI dilated by 2 px
    assert roi is not None


def test_cancelled_training_leaves_the_project_unchanged(station):
    token = CancelToken()

    def progress(fraction, message=""):
        token.cancel()

    params = {"project": str(station), "model": "padim", "params": MODEL_PARAMS["padim"]}
    with pytest.raises(Cancelled):
        train_job(params, progress, token)
    with Project.open(station) as p:
        assert p.runs == []


def test_unknown_view_is_named(station):
    with pytest.raises(ValueError, match="unknown view 'rear'"):
        train_job(
            {"project": str(station), "model": "padim", "params": MODEL_PARAMS["padim"], "views": ["rear"]},
            lambda f, m="": None,
            CancelToken(),
        )


def test_a_run_records_the_schedule_its_model_chose_at_fit_time(station):
    from workbench.jobs.train import train_views

    params = dict(pretrained_teacher=False, max_iters=2, penalty_images=1, penalty_size=16)
    with Project.open(station) as p:
        out = train_views(p, "efficientad", params, device="cpu")
        run = p.run(out["runs"][0])
        # Left to 'auto' on a CPU: the cpu schedule's working size and rate, stored beside the params.
        assert run.params["schedule"] == "auto" and run.params["image_size"] is None
        assert run.meta["resolved"]["schedule"] == "cpu"
        assert list(run.meta["resolved"]["image_size"]) == [128, 128] and run.meta["resolved"]["lr"] == 1e-3


def _patchcore_args():
    return [f"--param={k}={json.dumps(v)}" for k, v in MODEL_PARAMS["patchcore"].items() if k != "device"]


def test_no_roi_trains_and_scores_the_whole_crop_and_says_so(station, capsys):
    assert (
        main(
            ["train", str(station), "--model", "patchcore", "--device", "cpu", "--no-roi", *_patchcore_args()]
        )
        == 0
    )
    capsys.readouterr()
    with Project.open(station) as p:
        (run,) = p.runs
        assert run.meta["masking"] == "none"
        assert p.run_state(run.id)["roi_"].all()  # the model learned from every patch
        (result,) = p.results(run.id)
        maps = p.result_maps(result.id)
    assert any(np.any(m[:10] > 0) for m in maps)  # pixels outside the view's ROI are scored too


def test_training_augmentation_adds_seeded_copies_and_is_recorded(station, capsys):
    from workbench.core.augment import TrainAugmentation

    args = ["--augment", "rotation", "--augment", "gaussian_noise", "--augment-copies", "2", "--seed", "4"]
    assert (
        main(["train", str(station), "--model", "patchcore", "--device", "cpu", *args, *_patchcore_args()])
        == 0
    )
    capsys.readouterr()
    with Project.open(station) as p:
        (run,) = p.runs
        aug = run.meta["train_augmentation"]
        assert aug == {
            "names": ["rotation", "gaussian_noise"],
            "p": 0.5,
            "copies": 2,
            "seed": 4,
            "n_images": 12,
        }
        assert run.meta["n_train"] == 4 and run.meta["masking"] == "roi"
        images = [p.sample_image(i) for i in run.meta["train_ids"]]
    # the recorded option reproduces the training images exactly, and the copies differ from the originals
    again = TrainAugmentation.from_dict(aug).apply(images)
    assert len(again) == 12 and all(np.array_equal(a, b) for a, b in zip(again[:4], images))
    assert np.array_equal(again[4], TrainAugmentation.from_dict(aug).apply(images)[4])
    assert sum(not np.array_equal(a, b) for a, b in zip(again[4:8], images)) >= 1
    with pytest.raises(SystemExit):
        main(["train", str(station), "--model", "patchcore", "--augment", "flip"])
