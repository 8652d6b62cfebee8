"""Running a command line's handler: logging, exit codes and one line per error.

Shared by the `workbench` and the torch-free `workbench-line` programs, so that both answer a bad input,
Ctrl+C and a cancelled job the same way.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from workbench.core.progress import Cancelled


def run_command(
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    *,
    stopped_note: str = "",
    error_hint: str = "",
    quiet_loggers: Sequence[str] = (),
) -> int:
    """Parse ``argv``, run the chosen handler (``args.func``) and return the exit code.

    A handler's exception becomes one line ``PROG COMMAND: error: MESSAGE`` followed by ``error_hint`` (exit 1;
    the traceback with --debug); Ctrl+C or a cancelled job print ``PROG: interrupted`` (or ``cancelled``)
    followed by ``stopped_note`` (exit 130). ``quiet_loggers``: libraries that chatter at INFO, kept at
    WARNING unless --debug.
    """
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s" if args.debug else "%(message)s",
    )
    for name in quiet_loggers:
        logging.getLogger(name).setLevel(logging.DEBUG if args.debug else logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted{stopped_note}", file=sys.stderr)
        return 130
    except Cancelled:
        print(f"{parser.prog}: cancelled{stopped_note}", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a command turns every error into one line
        if args.debug:
            raise
        message = str(exc) or type(exc).__name__
        print(f"{parser.prog} {args.command}: error: {message}{error_hint}", file=sys.stderr)
        return 1
