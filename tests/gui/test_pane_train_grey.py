"""A monochrome station in the window: a grey copy of real data (magnetic_tile from ../shared/data, as
1-channel 8-bit PNGs) imported as a dataset, opened, planned and trained through the Train step, which
adds a scored run. Skipped when the shared data is absent."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from workbench.cli.main import main

SIZE = (48, 64)  # (H, W)
COUNTS = {"train/good": 6, "test/good": 3, "test/break": 3}
TINY = {"backbone": "resnet18", "pretrained": False, "n_features": 20}


def magnetic_tile() -> Path:
    root = Path(__file__).resolve().parents[2]
    return Path(os.environ.get("WORKBENCH_DATA", root / ".." / "shared" / "data")) / "magnetic_tile"


@pytest.fixture
def grey_station(tmp_path) -> Path:
    source = magnetic_tile()
    if not (source / "train" / "good").is_dir():
        pytest.skip("magnetic_tile is not in ../shared/data (set WORKBENCH_DATA to its parent folder)")
    data = tmp_path / "grey"
    for folder, n in COUNTS.items():
        (data / folder).mkdir(parents=True)
        for path in sorted((source / folder).glob("*.jpg"))[:n]:
            grey = cv2.resize(
                cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), SIZE[::-1], interpolation=cv2.INTER_AREA
            )
            assert cv2.imwrite(str(data / folder / f"{path.stem}.png"), grey)  # one channel, 8 bits
    project = tmp_path / "grey.awb"
    assert main(["new", str(project)]) == 0
    assert main(["import-dataset", str(project), str(data), "--view", "v"]) == 0
    return project


@pytest.mark.realdata
def test_a_grey_station_is_planned_and_trained_through_the_train_step(window, grey_station, qtbot):
    from workbench.project import Project

    with Project.open(grey_station) as p:
        assert all(p.sample_image(s.id).shape == SIZE for s in p.samples())  # stored as one channel
    window._close_confirmed = True
    window.open_project(str(grey_station))
    qtbot.waitUntil(lambda: window.model.snapshot is not None, timeout=20000)
    qtbot.waitUntil(window.is_ready, timeout=20000)
    window.show_pane("train")
    pane = window.analysis_panes["train"]
    qtbot.waitUntil(lambda: pane.model_combo.count() > 0, timeout=120000)
    pane.model_combo.setCurrentText("padim")
    for key, value in TINY.items():
        pane.form.set_value(key, value)
    qtbot.waitUntil(lambda: bool(pane.plans) and not pane._plan_timer.isActive(), timeout=120000)
    qtbot.waitUntil(lambda: pane.plan.text() != "Planning …", timeout=120000)
    (plan,) = pane.plans
    assert plan["view"] == "v" and plan["n_train"] == 6 and plan["n_predict"] == 6
    assert tuple(plan["working_size"]) == SIZE and pane.train_button.isEnabled()
    with qtbot.waitSignal(pane.trained, timeout=300000) as done:
        pane.start()
    (rid,) = done.args[0]["runs"]
    snap = window.model.snapshot
    (run,) = [r for r in snap.runs if r.id == rid]
    assert run.model == "padim" and run.view == "v" and run.meta["n_train"] == 6
    (result,) = [r for r in snap.results if r.run == rid]
    assert len(result.sample_ids) == 6
    qtbot.waitUntil(lambda: "image AUROC" in pane.result.text(), timeout=60000)
    auroc = float(pane.result.text().split("image AUROC ")[1].split(" ")[0])
    assert 0.0 <= auroc <= 1.0 and np.isfinite(auroc)
