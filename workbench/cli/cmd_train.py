"""`workbench train P --model NAME [--view V] [--param KEY=VALUE ...] [--seed S] [--device D]`: one run per view."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train a model per view on the train split and score the test split"
    )
    p.add_argument("project", help="project file")
    p.add_argument("--model", required=True, help="registered model name (see `workbench models`)")
    p.add_argument("--view", action="append", default=None, help="view to train (repeatable; default: all)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model parameter; VALUE is JSON when it parses (0.1, [480, 848], true), else a string",
    )
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None)
    p.set_defaults(func=run)


def parse_params(items: list[str]) -> dict:
    params = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--param: expected KEY=VALUE; found {item!r}")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def run(args: argparse.Namespace) -> int:
    from workbench.cli.progress import terminal_progress
    from workbench.jobs.train import train_job

    job = {
        "project": args.project,
        "model": args.model,
        "params": parse_params(args.param),
        "views": args.view,
        "seed": args.seed,
        "device": args.device,
    }
    with terminal_progress(f"train {args.model}") as (progress, cancel):
        out = train_job(job, progress, cancel)
    print(json.dumps(out))
    return 0
