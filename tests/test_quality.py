"""Quality gates: layer contracts (import-linter), lint (ruff), Qt-free layers import without Qt."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed; run scripts/setup.sh (it installs the 'test' extra)")
    return found


def test_layer_contracts_hold():
    result = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout.lower() or "kept" in result.stdout.lower()


def test_ruff_finds_nothing():
    result = subprocess.run(
        [_tool("ruff"), "check", "workbench", "tests", "benchmarks", "plugins"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


QT_FREE = ["core", "io", "synth", "models", "metrics", "project", "export", "jobs", "cli"]


def test_qt_free_layers_import_with_qt_absent():
    # A meta-path finder that makes every Qt binding unimportable, as on a machine without the 'gui' extra.
    script = textwrap.dedent(
        f"""
        import importlib, pkgutil, sys
        BLOCKED = ("PySide6", "pyqtgraph", "qdarkstyle", "superqt", "PyQt5", "PyQt6", "shiboken6")
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"{{name}} blocked for this test")
                return None
        sys.meta_path.insert(0, Block())
        import workbench
        count = 0
        for layer in {QT_FREE!r}:
            pkg = importlib.import_module("workbench." + layer)
            for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
                importlib.import_module(info.name)
                count += 1
        leaked = [m for m in sys.modules if m.split(".")[0] in BLOCKED]
        assert not leaked, leaked
        print("imported", count)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert int(result.stdout.split()[-1]) > 5


def test_core_layer_does_not_pull_torch_or_h5py():
    script = (
        "import sys, importlib, pkgutil, workbench.core as c\n"
        "[importlib.import_module(i.name) for i in pkgutil.walk_packages(c.__path__, 'workbench.core.')]\n"
        "bad = [m for m in ('torch', 'h5py', 'PySide6') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
