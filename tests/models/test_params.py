"""Parameter specs: constructors from one declaration, every value checked before any work, in one line."""

from __future__ import annotations

import pytest

from workbench.models import registry
from workbench.models.params import ParamError


@pytest.mark.parametrize(
    ("model", "params", "words"),
    [
        ("patchcore", {"patch_size": "abc"}, "patch_size='abc': expected an odd integer"),
        ("patchcore", {"sigma": float("nan")}, "sigma=nan: expected a finite number"),
        (
            "patchcore",
            {"image_size": [20000, 20000]},
            "image_size=[20000, 20000]: expected (height, width) of 16",
        ),
        ("padim", {"layers": ["layer9"]}, "layers=['layer9']: expected a non-empty list"),
        ("simplenet", {"noise_low": 0.5, "noise_high": 0.1}, "noise_low=0.5, noise_high=0.1"),
        ("draem", {"pool_size": 4}, "pool_size=4: expected an odd integer"),
        ("efficientad", {"quantiles": [0.9, 0.9]}, "quantiles=[0.9, 0.9]"),
        ("stfpm", {"device": "tpu"}, "device='tpu'"),
        ("stfpm", {"schedule": "gpu"}, "schedule='gpu': expected one of 'auto', 'paper', 'cpu'"),
        ("stfpm", {"lr": -1}, "lr=-1: expected a finite number > 0 or None"),
    ],
)
def test_a_bad_value_is_refused_at_create_naming_it(model, params, words):
    with pytest.raises(ValueError) as err:
        registry.create(model, **params)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_a_bad_value_set_after_create_is_refused_by_fit_before_any_work():
    model = registry.create("patchcore", device="cpu")
    model.patch_size = 4
    calls = []
    with pytest.raises(ParamError, match="patch_size=4"):
        model.fit([], progress=lambda *a, **k: calls.append(a))  # checked before the images, too
    assert calls == []


def test_constructors_and_describe_come_from_the_spec():
    cls = registry.get("padim")
    assert list(cls.param_defaults()) == list(cls.params)
    info = registry.describe("padim")["params"]["n_features"]
    assert info["default"] == 100 and info["type"] == "int" and "integer" in info["expects"]
    with pytest.raises(TypeError, match="no parameter 'n_feature'"):
        cls(n_feature=3)


def test_parameters_a_model_dropped_are_ignored_when_an_old_run_is_rebuilt():
    model = registry.create("patchcore", nn_search="auto", nn_probe=0.1, device="cpu")
    assert "nn_search" not in model.get_params()
