"""The job runner: structured progress events (fraction, message, numbers, ETA) inline and from a child
process, old two-argument progress callables still working, and staged training equal to `train`."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from evaluate_station import MODEL_PARAMS, build_station

from workbench.core.progress import (
    Cancelled,
    CancelToken,
    Progress,
    ProgressEvent,
    report,
    sub_progress,
)
from workbench.jobs import staging
from workbench.jobs.runner import ChildRun, WorkerProcess, resolve, run_inline
from workbench.jobs.train import train_views
from workbench.project import Project

LOSSY = dict(pretrained_teacher=False, max_iters=3, penalty_images=1, penalty_size=16, device="cpu")


def test_structured_events_keep_numbers_through_sub_progress_and_plain_callables_still_work():
    events: list[ProgressEvent] = []
    clock = iter([0.0, 2.0, 4.0]).__next__
    parent = Progress(events.append, clock=clock)
    child = sub_progress(parent, 0.5, 1.0)
    report(child, 0.5, "iter 5/10 loss 0.25", loss=0.25, iteration=5)
    assert events[0].fraction == pytest.approx(0.75)
    assert events[0].values == {"loss": 0.25, "iteration": 5}
    assert events[0].elapsed_s == 2.0 and events[0].eta_s == pytest.approx(2.0 * 0.25 / 0.75)
    seen = []
    plain = sub_progress(lambda f, m="": seen.append((f, m)), 0.0, 0.5)
    report(plain, 1.0, "done", loss=0.1)  # a plain (fraction, message) callable never gets keywords
    assert seen == [(0.5, "done")]
    assert ProgressEvent.from_dict(events[0].to_dict()) == events[0]


def test_only_workbench_jobs_resolve():
    assert resolve("train").__name__ == "train_job"
    with pytest.raises(ValueError, match="unknown job"):
        resolve("os:system")


@pytest.fixture
def station(tmp_path):
    return build_station(
        tmp_path / "station.awb", models=(), n_train=4, val=(1, 1), test=(3, 3), synthetic_test=0
    )


def test_a_training_loss_arrives_as_numbers_inline(station):
    events: list[ProgressEvent] = []
    out = run_inline(
        "train",
        {"project": str(station), "model": "efficientad", "params": LOSSY},
        events.append,
        CancelToken(),
    )
    losses = [e for e in events if "loss" in e.values]
    assert losses and all(isinstance(e.values["loss"], float) and e.values["iteration"] >= 1 for e in losses)
    assert events[-1].fraction == 1.0 and events[-1].eta_s == 0.0
    assert len(out["runs"]) == 1


def test_staged_training_in_a_child_equals_training_on_the_project(station, tmp_path):
    job = {
        "model": "patchcore",
        "params": MODEL_PARAMS["patchcore"],
        "views": None,
        "seed": 1,
        "device": "cpu",
    }
    with Project.open(station) as p:
        stage = staging.stage_project(p, tmp_path / "stage")
    run = ChildRun(
        "train_staged", {"stage": str(stage.path), "out": str(tmp_path / "stage"), "job": job}
    ).start()
    msgs = []
    final = run.wait(msgs.append)
    assert final.kind == "done", final.error
    assert any(m.kind == "event" and m.event.fraction is not None for m in msgs)
    outputs = staging.read_outputs(final.result["outputs"])

    with Project.open(station) as p:
        staged_ids = staging.apply_outputs(p, outputs, stage.id_map, {"note": "staged"})
        direct_ids = train_views(p, "patchcore", MODEL_PARAMS["patchcore"], None, 1, "cpu")
        a, b = p.run(staged_ids["runs"][0]), p.run(direct_ids["runs"][0])
        assert a.params == b.params and a.view == b.view and a.meta["note"] == "staged"
        assert a.meta["train_ids"] == b.meta["train_ids"]  # ids given back their original numbers
        sa, sb = p.run_state(a.id), p.run_state(b.id)
        assert sa.keys() == sb.keys() and all(np.array_equal(sa[k], sb[k]) for k in sa)
        ra, rb = p.results(a.id)[0], p.results(b.id)[0]
        assert ra.sample_ids == rb.sample_ids
        np.testing.assert_array_equal(p.result_scores(ra.id), p.result_scores(rb.id))
        for ma, mb in zip(p.result_maps(ra.id), p.result_maps(rb.id)):
            np.testing.assert_array_equal(ma, mb)


def test_a_cancelled_child_says_so(station, tmp_path):
    with Project.open(station) as p:
        stage = staging.stage_project(p, tmp_path / "stage")
    job = {"model": "efficientad", "params": {**LOSSY, "max_iters": 100000}}
    run = ChildRun(
        "train_staged", {"stage": str(stage.path), "out": str(tmp_path / "stage"), "job": job}
    ).start()
    token = CancelToken()

    def on_message(m):
        if m.kind == "event" and "loss" in m.event.values:
            token.cancel()

    assert run.wait(on_message, token).kind == "cancelled"
    assert not (tmp_path / "stage" / staging.OUTPUTS_FILE).exists()
    with pytest.raises(Cancelled):
        CancelToken.raise_if_cancelled(token)


def test_a_worker_process_runs_jobs_one_after_another_and_says_lost_when_killed(station, tmp_path):
    with Project.open(station) as p:
        stage = staging.stage_project(p, tmp_path / "stage")
    job = {"model": "efficientad", "params": LOSSY}
    worker = WorkerProcess().start()
    try:
        pid = worker.pid
        for k in range(2):  # the same process, torch imported once
            (tmp_path / f"o{k}").mkdir()
            worker.submit(
                "train_staged", {"stage": str(stage.path), "out": str(tmp_path / f"o{k}"), "job": job}
            )
            msg = worker.wait()
            assert msg.kind == "done", msg.error
            assert worker.idle and worker.pid == pid
            assert (tmp_path / f"o{k}" / staging.OUTPUTS_FILE).exists()
        with pytest.raises(ValueError, match="unknown job"):
            worker.submit("os:system", {})
        long = {"model": "efficientad", "params": {**LOSSY, "max_iters": 100000}}
        worker.submit("train_staged", {"stage": str(stage.path), "out": str(tmp_path / "o2"), "job": long})
        with pytest.raises(RuntimeError, match="busy"):
            worker.submit("train_staged", {})

        def on_message(m):
            if m.kind == "event" and "loss" in m.event.values:
                os.kill(pid, signal.SIGKILL)

        assert worker.wait(on_message).kind == "lost"
        assert not worker.alive and not worker.idle
    finally:
        worker.stop()
