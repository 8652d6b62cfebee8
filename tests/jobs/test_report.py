"""The HTML report: every section on a station with two models and three seeds, figures that decode, and
every "n/a" explained."""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path

import cv2
import numpy as np

from workbench.cli.main import main
from workbench.jobs.report import write_report
from workbench.project import Project

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate_station import station_copy  # noqa: E402

SECTIONS = (
    "Image-level metrics",
    "Pixel-level metrics",
    "Real and synthetic defects apart",
    "Every run",
    "Operating points",
    "Threshold policy",
    "ROC and precision-recall curves",
    "Score histograms",
    "Worst false positives and false negatives",
    "Size-aware misses",
    "Timings and memory",
    "Statistics",
    "Accuracy against inference time",
    "Robustness",
)


def _images(html: str) -> list[np.ndarray]:
    out = []
    for data in re.findall(r'src="data:image/png;base64,([^"]+)"', html):
        img = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)
        assert img is not None
        out.append(img)
    return out


def _check_footnotes(html: str) -> None:
    """Every n/a marker points at a footnote of its table, and no raw NaN reaches the page."""
    for wrap in re.findall(r'<div class="table-wrap">(.*?)</div>', html, flags=re.S):
        marks = {int(k) for k in re.findall(r'<span class="na">n/a<sup>(\d+)</sup>', wrap)}
        notes = re.findall(r"<li>(.*?)</li>", wrap)
        assert marks == set(range(1, len(notes) + 1)), (marks, notes)
        assert all(len(n) > 10 for n in notes)
    text = re.sub(r"<[^>]+>", " ", re.sub(r'src="[^"]+"', "", html))
    assert not re.search(r"\bnan\b", text, flags=re.I)


def test_report_has_every_section_for_two_models_and_three_seeds(tmp_path_factory, tmp_path):
    path = station_copy(tmp_path_factory, tmp_path / "p")
    with Project.open(path) as p:
        p.set_policy(
            "p1",
            {"schema": 1, "threshold": 2.0, "level": "image", "source": "manual", "params": {"run": "run1"}},
        )
        index = write_report(p, tmp_path / "out", policy="p1", robustness=["rotation"])
    html = index.read_text(encoding="utf-8")
    for title in SECTIONS:
        assert f">{title}<" in html, title
    assert html.count("padim <span class='dim'>×3</span>") >= 3
    assert "patchcore <span class='dim'>×3</span>" in html
    images = _images(html)
    # ROC/PR, histograms, one worst-case grid per model, knee chart
    assert len(images) == 5
    assert all(img.shape[1] >= 400 for img in images)
    assert "Rotation" in html and "Defocus" not in html
    assert "<b>knee</b>" in html
    assert "p (BH)" in html
    _check_footnotes(html)
    assert "(made for another run)" in html  # the policy's table says which runs it does not apply to
    # every policy rate has its interval and count, and the 3-normal validation is flagged
    policy_part = html.split(">Threshold policy<")[1].split("<h3")[0]
    assert policy_part.count("class='ci'") >= 4 and "small validation" in policy_part
    assert ">How this report counts<" in html and "Wilson score" in html


def test_report_command_without_robustness_explains_the_gap(tmp_path_factory, tmp_path, capsys):
    path = station_copy(tmp_path_factory, tmp_path / "p")
    out = tmp_path / "report"
    assert (
        main(["report", str(path), "--out", str(out), "--no-robustness", "--run", "run1", "run4", "--quiet"])
        == 0
    )
    assert capsys.readouterr().out.strip() == str(out / "index.html")
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "not computed: the report was written without robustness" in html
    # one seed per model: the paired tests cannot run and say so
    assert "paired t-tests need two models with at least 2 seeds" in html
    assert "one seed: padim, patchcore" in html
    _check_footnotes(html)


def test_report_sets_masked_and_unmasked_runs_side_by_side(tmp_path):
    from evaluate_station import MODEL_PARAMS, build_station

    from workbench.jobs.evaluate_policy import fit_run_policy
    from workbench.jobs.train import train_views

    path = build_station(tmp_path / "s.awb", models=(), n_train=6, val=(3, 2), test=(6, 6))
    with Project.open(path) as p:
        for seed in (0, 1):
            train_views(p, "patchcore", dict(MODEL_PARAMS["patchcore"]), seed=seed)
            train_views(p, "patchcore", dict(MODEL_PARAMS["patchcore"]), seed=seed, roi=False)
        p.set_policy("far", fit_run_policy(p, "run1", "far", 0.2).to_dict())
        index = write_report(p, tmp_path / "out", policy="far", robustness=False)
    html = index.read_text(encoding="utf-8")
    station = html.split(">Masking: ROI against the whole crop<")[1].split("<h2")[0]
    assert "train --no-roi" in station and "all models" in station and "→" in station
    assert ">Masked against unmasked runs<" in html  # and in the view's own section
    assert "patchcore (roi=true)" in html and "patchcore (roi=false)" in html
    ops = html.split(">Operating points<")[1].split("<h3")[0]
    assert ops.count("class='ci'") >= 8 and "small validation" in ops  # 3 normals behind the thresholds
    _check_footnotes(html)
