"""How a verb joins the `workbench` command: its parser, its handler and (for most) the project file."""

from __future__ import annotations

import argparse
from collections.abc import Callable

PROJECT_HELP = "the project file (.awb)"


def add_verb(
    subparsers: argparse._SubParsersAction,
    name: str,
    run: Callable[[argparse.Namespace], int],
    *,
    help: str,  # noqa: A002 - argparse's own word
    description: str | None = None,
    project: str | None = PROJECT_HELP,
) -> argparse.ArgumentParser:
    """The parser of ``workbench NAME``, which calls ``run(args)``; its first argument is the project file
    (``project`` is that argument's help; None: the verb takes no project)."""
    p = subparsers.add_parser(name, help=help, description=description)
    if project is not None:
        p.add_argument("project", help=project)
    p.set_defaults(func=run)
    return p
