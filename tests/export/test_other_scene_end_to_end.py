"""End to end from the CLI on a video the workbench did not render: new project, template cut from the video,
import, train (PatchCore on the packaged EfficientNet-Lite0), export, line run; boards missing a dot are NG."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from other_scene import render, template  # noqa: E402

from workbench.cli.main import main  # noqa: E402
from workbench.core.masks import roi_for  # noqa: E402
from workbench.models import registry  # noqa: E402
from workbench.project import Project  # noqa: E402


def run_cli(args: list[str], capsys) -> str:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    assert code == 0, captured.err[-3000:]
    return captured.out


@pytest.mark.slow
def test_other_scene_from_video_to_line_verdicts(tmp_path, capsys):
    video = tmp_path / "boards.mp4"
    truth = render(video, passes=10, defect_every=4, seed=1)
    cv2.imwrite(str(tmp_path / "grid.png"), cv2.cvtColor(template(video, truth[0]), cv2.COLOR_RGB2BGR))
    project = tmp_path / "boards.awb"
    run_cli(["new", project], capsys)
    run_cli(
        [
            "import-video",
            project,
            video,
            "--template",
            f"grid={tmp_path / 'grid.png'}",
            "--presence-high",
            "4",
            "--presence-low",
            "2",
        ],
        capsys,
    )

    with Project.open(project) as p:
        samples = p.samples(view="grid")
        assert len(samples) == len(truth)
        good = [s for s in samples if not truth[s.pass_index]["defect"]]
        bad = [s for s in samples if truth[s.pass_index]["defect"]]
        p.update_samples([s.id for s in good[:5]], split="train", label="good")
        p.update_samples([s.id for s in good[5:7]], split="val", label="good")
        p.update_samples([s.id for s in good[7:] + bad], split="test")
        p.update_samples([s.id for s in good[7:]], label="good")
        p.update_samples([s.id for s in bad], label="defective")
        v = p.views["grid"]
        # The ROI a user paints: the board under the template, not the belt in the window's margin.
        v.roi = np.zeros((v.crop.h, v.crop.w), np.uint8)
        v.roi[-v.crop.y : -v.crop.y + v.template.shape[0], -v.crop.x : -v.crop.x + v.template.shape[1]] = 255
        p.set_view(v)
        images = [p.sample_image(s.id) for s in good[:5]]
        roi = roi_for(v.roi, v.roi_margin, v.crop.h, v.crop.w)
        model = registry.create("patchcore", backbone="efficientnet_lite0", coreset_ratio=0.25, device="cpu")
        model.fit(images, roi=roi)
        p.add_run("patchcore", "grid", model.get_params(), model.state_dict(), {})
        p.save()

    bundle = tmp_path / "bundle"
    out = run_cli(["export", project, "--out", bundle, "--accept-small-validation"], capsys)
    assert "parity ok" in out
    lines = run_cli(["run", bundle, "--source", video, "--device", "cpu"], capsys).splitlines()
    results = [json.loads(x) for x in lines if x.startswith("{")]
    assert len(results) == len(truth)
    with Project.open(project) as p:
        split = {s.pass_index: s.split for s in p.samples(view="grid")}
    # Validation normals set the threshold one float step above the highest of them, so that one
    # sample's verdict is float noise; every other pass must come out as the truth says.
    checked = [i for i in range(len(truth)) if split[i] != "val"]
    assert [results[i]["verdict"] == "NG" for i in checked] == [truth[i]["defect"] for i in checked]
    assert sum(truth[i]["defect"] for i in checked) == 2
