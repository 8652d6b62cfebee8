"""Progress with the time left of each phase: a real tiny train job reports its fit and its test
predictions with their own count and estimate ('predict 3/8, left 0:01'), and so do evaluation's
predictions; the estimates are there once a phase has moved, fall as it goes and end at zero."""

from __future__ import annotations

import re

import pytest
from evaluate_station import MODEL_PARAMS, build_station

from workbench.cli.progress import format_values
from workbench.core.progress import Progress
from workbench.jobs.evaluate import evaluate
from workbench.jobs.runner import run_inline
from workbench.project import Project

PARAMS = {**MODEL_PARAMS["padim"], "batch_size": 1}  # one image per step: a report per image


@pytest.fixture
def station(tmp_path):
    return build_station(
        tmp_path / "station.awb", models=(), n_train=6, val=(2, 2), test=(4, 4), synthetic_test=0
    )


def phase(events, name):
    return [e for e in events if e.values.get("phase") == name]


def check_phase(events, total: int | None) -> None:
    """Each report after the phase has moved carries its time left; it falls and ends at 0."""
    moved = [e for e in events if (e.values.get("phase_fraction") or 0) > 0]
    assert moved, "the phase never reported any progress"
    etas = [e.values["phase_eta_s"] for e in moved]
    assert all(isinstance(t, float) and t >= 0 for t in etas)
    running = [t for e, t in zip(moved, etas, strict=True) if e.values["phase_fraction"] < 1]
    assert len(running) >= 3 and running[-1] < running[0]
    assert moved[-1].values["phase_fraction"] == 1.0 and etas[-1] == 0.0
    assert all(e.eta_s is not None for e in moved)  # the job's overall estimate too
    if total is not None:
        done = [e.values["phase_done"] for e in moved]
        assert all(e.values["phase_total"] == total for e in moved)
        assert done == sorted(done) and done[-1] == total


def test_a_train_job_reports_the_time_left_of_its_fit_and_of_its_test_predictions(station):
    events = []
    out = run_inline("train", {"project": str(station), "model": "padim", "params": PARAMS}, events.append)
    assert len(out["runs"]) == 1
    fit, predict = phase(events, "fit"), phase(events, "predict")
    check_phase(fit, None)
    check_phase(predict, 8)  # the test split: 4 good, 4 defective
    assert events.index(fit[-1]) < events.index(predict[0])  # the fit, then its predictions
    # what the terminal bar and the Train step show beside the overall estimate
    middle = next(e for e in predict if 0 < e.values["phase_done"] < 8)
    assert re.fullmatch(r"predict [1-7]/8, left \d+:\d\d", format_values(middle.values))
    assert re.fullmatch(r"fit \d+ %, left \d+:\d\d", format_values(fit[1].values))


def test_evaluation_reports_the_time_left_of_the_predictions_it_makes(station):
    run_inline("train", {"project": str(station), "model": "padim", "params": PARAMS})
    events = []
    with Project.open(station) as project:
        result = evaluate(project, None, progress=Progress(events.append))
    assert result["runs"]
    predict = phase(events, "predict")
    # the stored test scores are reused; the validation split (2 good, 2 defective) is predicted
    assert {e.values["phase_total"] for e in predict} == {4}
    check_phase(predict, 4)
    middle = next(e for e in predict if 0 < e.values["phase_done"] < 4)
    assert re.fullmatch(r"predict [1-3]/4, left \d+:\d\d", format_values(middle.values))
