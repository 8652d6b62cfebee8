"""The planner: predictions that grow as the fit does, working sizes chosen for large images (and said),
trained models held to the budget, and fits that would not fit in memory refused with a size that would."""

from __future__ import annotations

import pytest

from workbench.models.plan import MAX_CELLS, PlanError, plan_fit, plan_train

SMALL = dict(backbone="resnet18", pretrained=False, embed_dim=64, device="cpu")
GB = 2**30


def test_patchcore_plan_grows_with_images_and_size():
    base = plan_fit("patchcore", SMALL, 20, (128, 128, 3), n_predict=10)
    more = plan_fit("patchcore", SMALL, 200, (128, 128, 3), n_predict=10)
    larger = plan_fit("patchcore", SMALL, 20, (256, 256, 3), n_predict=10)
    assert base.working_size == (128, 128) and base.fit_s > 0 and base.predict_s > 0
    assert more.fit_s > base.fit_s and more.peak_ram_bytes > base.peak_ram_bytes
    # 4x the pixels: more CPU per image (wall seconds depend on the load when each size was probed)
    assert larger.fit_cpu_s > base.fit_cpu_s and larger.peak_ram_bytes > base.peak_ram_bytes
    assert larger.predict_cpu_s > base.predict_cpu_s
    padim_params = dict(backbone="resnet18", pretrained=False, n_features=20, device="cpu")
    padim = plan_fit("padim", padim_params, 20, (128, 128, 3), n_predict=10)
    assert padim.peak_ram_bytes > 0 and padim.fit_s > 0
    assert "plan: patchcore at 128x128 on 20 images" in base.describe()


def test_grey_images_count_their_rgb_copies():
    rgb = plan_fit("patchcore", SMALL, 200, (256, 256, 3))
    grey = plan_fit("patchcore", SMALL, 200, (256, 256))
    assert grey.peak_ram_bytes > rgb.peak_ram_bytes  # 1 byte read + 3 converted > 3 bytes


def test_large_images_get_a_smaller_working_size_and_the_plan_says_so():
    shape = (1200, 1600, 3)  # 150 x 200 = 30,000 cells per image at stride 8, above MAX_CELLS
    plan = plan_train("patchcore", SMALL, 50, shape, n_predict=20, budget_s=1e6, available=64 * GB)
    h, w = plan.params["image_size"]
    assert plan.chosen == {"image_size": [h, w]}
    assert h < 1200 and abs(w / h - 1600 / 1200) < 0.05
    assert (h // 8) * (w // 8) <= MAX_CELLS
    assert any("chosen for images of 1600x1200" in n for n in plan.notes)
    # Small images keep their own size: nothing chosen.
    small = plan_train("patchcore", SMALL, 50, (200, 300, 3), n_predict=20, budget_s=1e6, available=64 * GB)
    assert small.chosen == {} and small.working_size == (200, 300)


def test_images_of_several_sizes_get_one_working_size():
    shapes = [(200, 300, 3)] * 5 + [(210, 290, 3)] * 2
    plan = plan_train("patchcore", SMALL, 7, shapes, budget_s=1e6, available=64 * GB)
    assert plan.chosen["image_size"] == [200, 304] or plan.chosen["image_size"] == [200, 300]
    assert any("2 sizes" in n for n in plan.notes)


def test_a_tight_time_budget_picks_a_smaller_size():
    from workbench.models.plan import _candidates

    roomy = plan_train("patchcore", SMALL, 100, (400, 400, 3), n_predict=50, budget_s=1e6, available=64 * GB)
    tight_budget = roomy.free_total_s / 6  # sizes are chosen by the time on this machine when free
    tight = plan_train(
        "patchcore", SMALL, 100, (400, 400, 3), n_predict=50, budget_s=tight_budget, available=64 * GB
    )
    assert tight.working_size[0] < roomy.working_size[0]
    assert tight.free_total_s <= tight_budget or tight.working_size == _candidates((400, 400))[-1]


def test_explicit_size_that_does_not_fit_memory_is_refused_with_one_that_would():
    params = dict(SMALL, image_size=[1024, 1024])
    need = plan_fit("patchcore", params, 100, (1024, 1024, 3)).peak_ram_bytes
    with pytest.raises(PlanError) as err:
        plan_train("patchcore", params, 100, (1024, 1024, 3), budget_s=1e6, available=int(need * 0.8))
    msg = str(err.value)
    assert "needs about" in msg and "is available" in msg and "image_size=[" in msg


def test_trained_model_is_held_to_the_budget():
    params = dict(
        backbone="resnet18", layers=["layer1", "layer2"], pretrained=False, image_size=[48, 64],
        max_iters=100_000, train_batch=2, device="cpu",
    )  # fmt: skip
    free = plan_fit("stfpm", params, 10, (48, 64, 3), n_predict=4)
    assert free.fit_s > 60  # 100,000 iterations
    plan = plan_train("stfpm", params, 10, (48, 64, 3), n_predict=4, budget_s=30.0, available=64 * GB)
    assert 0 < plan.chosen["time_budget_s"] <= 30.0
    assert plan.fit_s < free.fit_s and any("time_budget_s" in n for n in plan.notes)
    assert plan.peak_ram_bytes > 0


def test_a_recipe_that_fits_on_a_free_machine_is_not_cut_because_the_machine_is_busy(monkeypatch):
    """The training cap is decided by the time on this machine when free (the step's CPU seconds), like
    the working size: a probe slowed tenfold in wall time by other work does not shorten the recipe."""
    import workbench.models.probe as probe_mod

    real = probe_mod.probe_trained

    def busy(*args, **kwargs):
        out = real(*args, **kwargs)
        return {**out, "step_s": 10 * max(out["step_s"], out["step_cpu_s"])}  # wall 10x: a loaded machine

    params = dict(
        backbone="resnet18", layers=["layer1", "layer2"], pretrained=False, image_size=[48, 64],
        max_iters=40, train_batch=2, device="cpu",
    )  # fmt: skip
    quiet = plan_fit("stfpm", params, 10, (48, 64, 3), n_predict=4)
    assert quiet.free_total_s is not None and quiet.free_total_s > 0
    monkeypatch.setattr(probe_mod, "probe_trained", busy)
    loaded = plan_fit("stfpm", params, 10, (48, 64, 3), n_predict=4)
    budget = 3 * quiet.free_total_s  # fits when free, not at ten times the wall time
    assert loaded.total_s > budget >= loaded.free_total_s
    plan = plan_train("stfpm", params, 10, (48, 64, 3), n_predict=4, budget_s=budget, available=64 * GB)
    assert "time_budget_s" not in plan.chosen  # the 40 iterations run in full
    assert any("at the machine's load now" in n for n in plan.notes)


# -- the time model: measured at the real working size, CPU seconds turned into wall seconds by the load --
def test_one_thread_gets_the_share_of_a_core_the_load_leaves():
    from workbench.models.speed import serial_share

    assert serial_share(0.0, 2) == 1.0 and serial_share(1.0, 2) == 1.0  # a free core
    assert serial_share(3.0, 2) == pytest.approx(0.5)  # 4 runnable threads on 2 cores
    assert serial_share(19.0, 2) == pytest.approx(0.1)


def test_the_planning_process_does_not_count_as_other_work(monkeypatch):
    from workbench.models import speed

    monkeypatch.setattr(speed, "load_now", lambda: 1.3)  # the planner's own probe, nothing else
    assert speed.others_load() == pytest.approx(0.3) and speed.serial_share(speed.others_load(), 2) == 1.0
    monkeypatch.setattr(speed, "load_now", lambda: 0.4)
    assert speed.others_load() == 0.0
    monkeypatch.setattr(speed, "load_now", lambda: None)  # no load average (Windows)
    assert speed.others_load() is None and speed.serial_share(None, 2) == 1.0


def test_wall_time_is_cpu_time_at_the_parallelism_the_work_gets():
    from workbench.models.plan import _timing

    # probed forward as measured; one-thread work slowed by the load; threaded work at the probe's parallelism
    cpu, wall, free = _timing(10.0, 6.0, 4.0, 3.0, 1.5, load=0.0)
    assert cpu == pytest.approx(17.0) and wall == pytest.approx(6.0 + 4.0 + 2.0)
    from workbench.models.plan import THREAD_EFFICIENCY
    from workbench.models.speed import cores, threads

    assert free == pytest.approx(13.0 / (THREAD_EFFICIENCY * threads()) + 4.0)
    _, busy, free_busy = _timing(10.0, 6.0, 4.0, 3.0, 1.5, load=7.0)  # 8 runnable threads on the cores
    assert free_busy == free  # the free machine's time does not depend on the load now

    assert busy == pytest.approx(6.0 + 4.0 / min(1.0, cores() / 8.0) + 2.0)


def test_the_forward_is_probed_at_the_working_size_itself():
    from workbench.models import speed

    # the plan's own probe (SMALL's batch of 4, sigma 4): the same measurement, cached
    small = speed.probe_patch_forward("resnet18", ("layer2", "layer3"), 3, 64, (64, 96, 3), (64, 96), 4)
    large = speed.probe_patch_forward("resnet18", ("layer2", "layer3"), 3, 64, (192, 256, 3), (192, 256), 4)
    assert small["cells"] == 8 * 12 and large["cells"] == 24 * 32
    assert (
        small["embed_cpu"] > 0
        and large["embed_cpu"] > 0
        and small["embed_wall"] > 0
        and small["parallelism"] > 0
    )
    assert {key[5] for key in speed._probes} >= {(64, 96), (192, 256)}
    plan = plan_fit("patchcore", SMALL, 30, (192, 256, 3), n_predict=10)
    assert plan.fit_cpu_s >= 30 * large["embed_cpu"] * 0.999 and plan.predict_cpu_s > 10 * large["embed_cpu"]
    assert plan.fit_s > 0 and (plan.load is None or plan.load >= 0)


def test_memory_only_plans_probe_nothing_and_sizes_above_the_cell_cap_are_not_timed(monkeypatch):
    import math

    from workbench.models import plan as planner
    from workbench.models import speed

    speed.forget()
    mem = plan_fit("patchcore", SMALL, 20, (256, 320, 3), timed=False)
    assert math.isnan(mem.fit_s) and mem.peak_ram_bytes > 0 and not speed._probes
    assert mem.peak_ram_bytes == plan_fit("patchcore", SMALL, 20, (256, 320, 3)).peak_ram_bytes
    speed.forget()
    monkeypatch.setattr(planner, "MAX_CELLS", 600)  # a small cap: the first size under it is small
    plan = plan_train("patchcore", SMALL, 20, (1200, 1600, 3), budget_s=1e6, available=64 * GB)
    probed = {key[5] for key in speed._probes}
    assert probed == {plan.working_size}  # the first size under the cap fits: only it was measured


def test_predicted_cpu_follows_a_real_fit():
    import time

    import numpy as np

    from workbench.models import registry

    rng = np.random.default_rng(0)
    images = [np.clip(rng.normal(128, 30, (192, 256, 3)), 0, 255).astype(np.uint8) for _ in range(24)]
    plan = plan_fit("patchcore", SMALL, len(images), images[0].shape, n_predict=8)
    model = registry.create("patchcore", **SMALL)
    c = time.process_time()
    model.fit(images)
    fit_cpu = time.process_time() - c
    c = time.process_time()
    model.predict(images[:8])
    predict_cpu = time.process_time() - c
    # CPU seconds (not wall): within 3x either way on any machine, busy or not
    assert 1 / 3 < plan.fit_cpu_s / fit_cpu < 3, (plan.fit_cpu_s, fit_cpu)
    assert 1 / 3 < plan.predict_cpu_s / predict_cpu < 3, (plan.predict_cpu_s, predict_cpu)


def test_a_fit_that_would_not_fit_is_not_probed():
    from workbench.models import speed

    speed.forget()
    params = dict(SMALL, image_size=[4096, 4096], batch_size=16)
    plan = plan_fit("patchcore", params, 50, (4096, 4096, 3), available=2**30)
    assert not plan.fits_memory and not speed._probes and "not timed" in plan.describe()
