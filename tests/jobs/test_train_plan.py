"""`workbench train` plans each fit before it starts: the plan is printed, large images get the planner's
working size (recorded in the run), and a fit that would not fit in memory is refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.cli.main import main
from workbench.jobs.train import train_views
from workbench.project import Project
from workbench.project.types import CropWindow, ViewInfo

PARAMS = {"backbone": "resnet18", "pretrained": False, "embed_dim": 16, "device": "cpu"}


def _station(path, size=(720, 960), n_train=3):
    rng = np.random.default_rng(0)
    p = Project.create(path)
    src = p.add_source("synthetic", "test://large")
    p.set_view(
        ViewInfo(name="v", template=np.zeros((8, 8), np.uint8), crop=CropWindow(0, 0, size[1], size[0]))
    )
    images, infos = [], []
    for k in range(n_train + 2):
        img = np.clip(120 + rng.normal(0, 6, size), 0, 255).astype(np.uint8)
        split, label = ("train", "good") if k < n_train else ("test", "good" if k == n_train else "defective")
        if label == "defective":
            img[300:340, 400:440] = 255
        images.append(img)
        infos.append({"source": src, "pass_index": k, "view": "v", "split": split, "label": label})
    p.add_samples(images, infos)
    return p


def test_large_images_train_at_the_planned_size_and_the_run_records_the_plan(tmp_path):
    p = _station(tmp_path / "large.awb")
    events = []

    def progress(fraction, message="", **values):
        events.append(values)

    progress.structured = True
    out = train_views(p, "patchcore", PARAMS, progress=progress, budget_s=1e6)
    (run,) = p.runs
    assert run.id == out["runs"][0]
    h, w = run.params["image_size"]  # 720 x 960 is 90 x 120 = 10,800 cells: above the planner's cap
    assert h < 720 and abs(w / h - 960 / 720) < 0.05
    plan = run.meta["plan"]
    assert plan["chosen"] == {"image_size": [h, w]} and plan["fit_s"] > 0 and plan["peak_ram_bytes"] > 0
    texts = [e["plan"] for e in events if "plan" in e]
    assert (
        len(texts) == 1
        and f"at {w}x{h} on 3 images" in texts[0]
        and "chosen for images of 960x720" in texts[0]
    )
    maps = p.result_maps(out["results"][0])
    assert maps[0].shape == (720, 960)  # maps come back at the images' size
    p.close()


def test_cli_prints_the_plan_and_refuses_a_fit_that_would_not_fit(tmp_path, capsys, monkeypatch):
    path = tmp_path / "large.awb"
    _station(path, size=(96, 128)).save()
    params = [f"--param={k}={json.dumps(v)}" for k, v in PARAMS.items()]
    assert main(["train", str(path), "--model", "patchcore", *params]) == 0
    err = capsys.readouterr().err
    assert "view v: plan: patchcore at 128x96 on 3 images" in err
    # As if this machine had 100 MB free: refused before any work, with the estimate, nothing stored.
    import workbench.models.plan as plan

    monkeypatch.setattr(plan, "available_ram_bytes", lambda: 100 * 2**20)
    code = main(["train", str(path), "--model", "patchcore", *params, "--param=image_size=[96, 128]"])
    err = capsys.readouterr().err
    assert code != 0 and "needs about" in err and "is available" in err
    with Project.open(path) as p:
        assert len(p.runs) == 1


@pytest.mark.parametrize("budget", ["0", "-3", "x"])
def test_bad_budget_is_refused(tmp_path, capsys, budget):
    with pytest.raises(SystemExit):
        main(["train", str(tmp_path / "none.awb"), "--model", "patchcore", "--budget", budget])
    assert "--budget" in capsys.readouterr().err
