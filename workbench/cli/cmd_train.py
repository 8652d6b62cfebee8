"""`workbench train P --model NAME [--view V] [--param KEY=VALUE ...] [--seed S] [--device D] [--no-roi]
[--augment NAME ...] [--budget MINUTES]`: one run per view, each planned before its fit."""

from __future__ import annotations

import argparse
import json

from workbench.cli.argtypes import positive_float, seed
from workbench.cli.verbs import add_verb
from workbench.core.augment import AUGMENTATIONS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_verb(
        subparsers,
        "train",
        run,
        help="train a model per view on the train split and score the test split",
        project="project file",
    )
    p.add_argument("--model", required=True, help="registered model name (see `workbench models`)")
    p.add_argument("--view", action="append", default=None, help="view to train (repeatable; default: all)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model parameter; VALUE is JSON when it parses (0.1, [480, 848], true), else a string",
    )
    p.add_argument("--seed", type=seed, default=None)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None)
    p.add_argument(
        "--no-roi",
        action="store_true",
        help="train and score on the whole crop, not the view's ROI (seed 000's unmasked runs, for comparison)",
    )
    p.add_argument(
        "--augment",
        action="append",
        default=None,
        choices=list(AUGMENTATIONS),
        metavar="NAME",
        help=f"training-time augmentation (repeat): {', '.join(AUGMENTATIONS)}; adds augmented copies of "
        "the training images (seed 003: rotation and gaussian_noise)",
    )
    p.add_argument(
        "--augment-p", type=float, default=0.5, help="probability of each augmentation (default 0.5)"
    )
    p.add_argument(
        "--augment-copies", type=int, default=1, help="augmented copies of each training image (default 1)"
    )
    p.add_argument(
        "--budget",
        type=positive_float,
        default=10.0,
        metavar="MINUTES",
        help="time budget per view (fit and test predictions; default 10): the plan printed before each fit "
        "picks the working size of large images and a trained model's training time to fit it",
    )


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
        "roi": not args.no_roi,
        "budget_s": 60.0 * args.budget,
        "augment": None
        if not args.augment
        else {"names": args.augment, "p": args.augment_p, "copies": args.augment_copies},
    }
    with terminal_progress(f"train {args.model}") as (progress, cancel):
        out = train_job(job, progress, cancel)
    print(json.dumps(out))
    return 0
