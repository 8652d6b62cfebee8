"""Training recipes (``schedule``): 'auto' picks the CPU recipe without CUDA, explicit values win, and the
recipe a fit used travels with its state, so a reloaded run computes what the fitted one did."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.models import registry
from workbench.models.checks import tiny_images, tiny_roi
from workbench.models.trained import TrainedModel

torch.set_num_threads(2)

SCHEDULED = [n for n in registry.names() if getattr(registry.get(n), "schedules", None)]


def test_the_trained_models_with_cpu_recipes():
    assert {"efficientad", "draem", "fastflow", "memseg", "reverse_distillation", "stfpm"} <= set(SCHEDULED)
    for name in SCHEDULED:
        assert issubclass(registry.get(name), TrainedModel)
        assert set(registry.get(name).schedules) == {"paper", "cpu"}


@pytest.mark.parametrize("name", SCHEDULED)
def test_auto_is_the_cpu_recipe_without_cuda_and_explicit_values_win(name):
    cls = registry.get(name)
    cpu = cls(device="cpu").resolved()
    assert cpu["schedule"] == "cpu"
    assert {k: v for k, v in cpu.items() if k != "schedule"} == cls.schedules["cpu"]
    paper = cls(device="cpu", schedule="paper").resolved()
    assert {k: v for k, v in paper.items() if k != "schedule"} == cls.schedules["paper"]
    explicit = cls(device="cpu", schedule="paper", image_size=(64, 96), lr=0.02).resolved()
    assert explicit["image_size"] == (64, 96) and explicit["lr"] == 0.02
    # Every value a recipe sets is a parameter whose default (None) defers to the recipe.
    defaults = cls.param_defaults()
    for recipe in cls.schedules.values():
        assert all(k in defaults and defaults[k] is None for k in recipe)


def test_cpu_recipe_counts_iterations_not_seconds():
    # A fixed amount of work: the same fit on a quiet and on a busy machine.
    for name in SCHEDULED:
        if name == "efficientad":
            continue  # its CPU schedule is a time budget (see its module doc)
        model = registry.get(name)(device="cpu")
        assert model._time_budget() is None
        assert model._max_iters(14) == model.schedules["cpu"]["max_iters"]


def test_draem_reloads_the_recipe_it_was_fitted_with():
    from workbench.models.draem import Draem

    kw = dict(image_size=(48, 64), textures=2, max_iters=2, train_batch=2, device="cpu")
    fitted = Draem(schedule="cpu", **kw).fit(tiny_images(3), roi=tiny_roi())
    state = fitted.state_dict()
    assert int(state["schedule_"]) == list(Draem.schedules).index("cpu")
    # Loaded where the parameters say 'paper' (e.g. on a GPU machine): the fitted widths and pooling.
    loaded = Draem(schedule="paper", **kw).load_state_dict(state)
    assert loaded.resolved()["schedule"] == "cpu"
    assert loaded.setting("pool_size") == Draem.schedules["cpu"]["pool_size"]
    test = tiny_images(2, seed=5)
    np.testing.assert_allclose(loaded.predict(test)[1], fitted.predict(test)[1], atol=1e-6)


def test_draem_cpu_recipe_trains_in_a_fraction_of_the_papers_memory():
    from workbench.models.probe import probe_trained

    cpu = probe_trained("draem", {"device": "cpu"})
    assert cpu["working_size"] == tuple(registry.get("draem").schedules["cpu"]["image_size"])
    # The paper's recipe needs 11-12 GB at 256 x 256 (widths 128/64, batch 8); the CPU recipe's step
    # (weights, gradients, Adam moments and the backward's activations) stays under 1 GB.
    assert cpu["train_bytes"] < 2**30


# Small networks for the recipes' fits below (the recipes' working sizes, a few iterations).
RECIPE_FITS = {
    "fastflow": dict(backbone="resnet18", layers=("layer1", "layer2"), pretrained=False, flow_steps=2),
    "memseg": dict(pretrained=False, memory_size=2, texture_count=2, perlin_scale=3, perlin_min_scale=1),
    "reverse_distillation": dict(backbone="resnet18", pretrained=False, embed_channels=16),
    "stfpm": dict(backbone="resnet18", layers=("layer1", "layer2"), pretrained=False),
}


@pytest.mark.parametrize("name", sorted(RECIPE_FITS))
def test_a_cpu_recipe_fit_works_at_its_size_and_reloads_as_fitted(name):
    cls = registry.get(name)
    kw = dict(RECIPE_FITS[name], device="cpu")
    fitted = cls(schedule="cpu", max_iters=3, train_batch=2, **kw).fit(tiny_images(3), roi=tiny_roi())
    assert tuple(int(v) for v in fitted.image_size_) == cls.schedules["cpu"]["image_size"]
    assert len(fitted.history_) == 3
    # Loaded where the parameters say 'paper' (256 x 256): the fitted recipe, the same maps.
    loaded = cls(schedule="paper", **kw).load_state_dict(fitted.state_dict())
    assert loaded.resolved()["schedule"] == "cpu"
    test = tiny_images(2, seed=5)
    np.testing.assert_allclose(loaded.predict(test)[1], fitted.predict(test)[1], atol=1e-6)


def test_fastflow_run_saved_before_recipes_loads_at_its_own_size():
    # Such a state has no 'schedule_': its flows' LayerNorms are built for the size it was fitted at,
    # not for the recipe's.
    from workbench.models.fastflow import FastFlow

    kw = dict(RECIPE_FITS["fastflow"], device="cpu")
    fitted = FastFlow(image_size=(64, 96), max_iters=2, train_batch=2, **kw).fit(
        tiny_images(3), roi=tiny_roi()
    )
    state = {k: v for k, v in fitted.state_dict().items() if k != "schedule_"}
    loaded = FastFlow(**kw).load_state_dict(state)
    test = tiny_images(2, seed=5)
    np.testing.assert_allclose(loaded.predict(test)[1], fitted.predict(test)[1], atol=1e-6)
