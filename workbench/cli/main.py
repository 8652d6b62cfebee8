"""The `workbench` command: one sub-command module per verb, discovered from this package.

Each module ``workbench/cli/cmd_<name>.py`` defines ``register(subparsers)`` which adds its
parser(s) and sets ``func=handler`` via ``parser.set_defaults``. A handler takes the parsed
arguments and returns an exit code. Errors the user can fix raise :class:`CliError` (or
``ValueError``/``OSError``/``workbench.project`` errors), which become one line on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from workbench import __version__
from workbench.core.command import run_command


class CliError(Exception):
    """An error the user can act on; printed as one line without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Offline workbench for visual anomaly detection on production lines.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    import workbench.cli as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            module = importlib.import_module(f"workbench.cli.{info.name}")
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_command(
        build_parser(),
        argv,
        stopped_note="; nothing was saved",
        error_hint=" (run with --debug for details)",
        # Libraries that log chatter at INFO (the theme loader) stay quiet unless --debug.
        quiet_loggers=("qdarkstyle", "matplotlib", "PIL", "h5py", "onnx_ir", "onnxscript", "torch.onnx"),
    )


if __name__ == "__main__":
    sys.exit(main())
