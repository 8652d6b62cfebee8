"""`workbench run DIR --source SRC`: line mode; one JSON result per part on stdout (and MQTT), NG images, zone alerts.

The same command as the line PC's `workbench-line run` (:mod:`workbench.line.cli`)."""

from __future__ import annotations

import argparse

from workbench.cli.verbs import add_verb
from workbench.line.cli import RUN_DESCRIPTION, RUN_HELP, add_run_arguments, run


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(sub, "run", run, help=RUN_HELP, description=RUN_DESCRIPTION, project=None)
    add_run_arguments(p)
