"""The line runtime stands alone: every workbench.line module and the `workbench-line` command import with
torch, torchvision, h5py, scipy, scikit-learn and Qt made unimportable (as on a line PC)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BLOCKER = textwrap.dedent(
    """
    import sys
    BLOCKED = ("torch", "torchvision", "h5py", "scipy", "sklearn", "matplotlib", "PySide6", "pyqtgraph",
               "qdarkstyle", "superqt", "shiboken6")
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} blocked: a line PC does not have it")
            return None
    sys.meta_path.insert(0, Block())
    """
)


def test_every_line_module_imports_without_the_workstation_packages():
    script = BLOCKER + textwrap.dedent(
        """
        import importlib, pkgutil
        import workbench.line as pkg
        names = [i.name for i in pkgutil.walk_packages(pkg.__path__, "workbench.line.")]
        for name in names:
            importlib.import_module(name)
        from workbench.line.cli import build_parser
        build_parser().parse_args(["run", "b", "--source", "v.mp4"])
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        assert not leaked, leaked
        print(len(names))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert int(result.stdout.split()[-1]) >= 6  # bundle, cli, inspect, runtime, sinks, verdict


def test_the_line_command_answers_without_torch():
    script = BLOCKER + "from workbench.line.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    result = subprocess.run(
        [sys.executable, "-c", script, "run", "no-such-bundle", "--source", "x.mp4"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "bundle folder not found: no-such-bundle" in result.stderr
    assert "Traceback" not in result.stderr
