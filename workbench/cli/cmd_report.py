"""`workbench report`: write the evaluation report, one self-contained HTML page, to DIR/index.html."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.cli.progress import terminal_progress
from workbench.cli.verbs import add_verb
from workbench.jobs.report import write_report
from workbench.project import Project, ProjectBusyError, ProjectChangedError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_verb(
        subparsers,
        "report",
        cmd_report,
        help="write an HTML evaluation report (metrics, curves, worst cases, statistics, robustness)",
        description="Evaluate the runs (reusing stored results), measure robustness on augmented test copies, "
        "and write DIR/index.html with every figure embedded.",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="the folder to write index.html into")
    p.add_argument("--run", dest="runs", action="extend", nargs="+", metavar="ID", help="only these runs")
    p.add_argument("--policy", default=None, metavar="NAME", help="report verdicts under this stored policy")
    p.add_argument("--no-robustness", action="store_true", help="skip the augmented-copies robustness study")
    p.add_argument("--robustness-seed", type=int, default=0, help="seed of the augmentations (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def cmd_report(args: argparse.Namespace) -> int:
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise ValueError(f"--out {args.out} is a file; give a folder for the report")
    with Project.open(args.project) as project:
        with terminal_progress("report", quiet=args.quiet) as (progress, cancel):
            path = write_report(
                project,
                args.out,
                args.runs,
                args.policy,
                not args.no_robustness,
                args.robustness_seed,
                progress=progress,
                cancel=cancel,
            )
        if project.dirty:
            try:
                project.save()  # predictions and robustness results are reused by the next report
            except (ProjectBusyError, ProjectChangedError) as exc:  # a cache: the report still stands
                print(f"workbench report: warning: the predictions were not kept: {exc}", file=sys.stderr)
    print(path)
    return 0
