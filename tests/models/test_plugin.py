"""An external package registers a model through the `workbench.models` entry point and passes the battery."""

from __future__ import annotations

import importlib
import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.models import registry
from workbench.models.checks import CHECKS, check_model

PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "example_model"


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory):
    target = tmp_path_factory.mktemp("plugin_site")
    # Build from a copy: setuptools writes build/ and *.egg-info next to the sources.
    source = tmp_path_factory.mktemp("plugin_src") / "example_model"
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--target",
        str(target),
        str(source),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"pip could not install the example plugin: {done.stderr[-2000:]}")
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    yield target
    sys.path.remove(str(target))
    sys.modules.pop("workbench_example_model", None)
    importlib.invalidate_caches()


def test_plugin_entry_point_is_seen(installed_plugin):
    eps = importlib.metadata.entry_points(group="workbench.models")
    assert "pixelstats" in {ep.name for ep in eps}
    assert "pixelstats" in registry.names()
    info = registry.describe("pixelstats")
    assert info["params"]["blur"]["default"] == 1.0
    assert "Pixel statistics" in info["doc"]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_plugin_passes_the_checks_export_included(installed_plugin, check):
    check_model("pixelstats", [check])


def test_unknown_model_and_parameter_are_named():
    with pytest.raises(ValueError, match="registered models"):
        registry.create("no_such_model")
    with pytest.raises(ValueError, match="coreset"):
        registry.create("patchcore", coreset=0.1)
