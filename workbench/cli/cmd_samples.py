"""`workbench samples|split`: list a project's samples; assign train/val/test by pass."""

from __future__ import annotations

import argparse
import json
import math
import sys

from workbench.cli.progress import terminal_progress
from workbench.core.splits import SplitRule
from workbench.jobs.splits import split_samples
from workbench.project import Project

FIELDS = ("id", "source", "pass", "view", "frame", "x", "y", "split", "label", "score", "width", "height")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "samples", help="list samples (id, source, pass, view, frame, x, y, split, label)"
    )
    p.add_argument("project", help="the project file (.awb)")
    p.add_argument("--json", action="store_true", help="one JSON object per sample and line")
    p.add_argument("--view", default=None, help="only this view")
    p.add_argument("--split", default=None, help="only this split (train, val, test, unassigned)")
    p.add_argument("--label", default=None, help="only this label (good, defective, unknown)")
    p.set_defaults(func=cmd_samples)

    p = subparsers.add_parser(
        "split", help="assign train/val/test by pass (seeded, stratified, normals-only train)"
    )
    p.add_argument("project", help="the project file (.awb)")
    p.add_argument(
        "--train", type=float, default=SplitRule.train, help="fraction of good passes for training"
    )
    p.add_argument("--val", type=float, default=SplitRule.val, help="fraction of good passes for validation")
    p.add_argument("--test", type=float, default=SplitRule.test, help="fraction of good passes for testing")
    p.add_argument("--seed", type=int, default=0, help="random seed of the split")
    p.add_argument("--view", default=None, help="only this view")
    p.add_argument(
        "--reshuffle-test", action="store_true", help="let passes already in test move (not advised)"
    )
    p.set_defaults(func=cmd_split)


def sample_record(s) -> dict:
    """The JSON-able record of a SampleInfo as the CLI prints it."""
    score = None if s.match_score is None or math.isnan(s.match_score) else round(float(s.match_score), 4)
    return {
        "id": s.id,
        "source": s.source,
        "pass": s.pass_index,
        "view": s.view,
        "frame": s.frame,
        "x": s.x,
        "y": s.y,
        "split": s.split,
        "label": s.label,
        "score": score,
        "width": s.width,
        "height": s.height,
        "synthetic": s.synthetic,
        "has_mask": s.has_mask,
        "meta": s.meta,
    }


def cmd_samples(args: argparse.Namespace) -> int:
    with Project.open(args.project) as project:
        samples = project.samples(view=args.view, split=args.split, label=args.label)
    records = [sample_record(s) for s in samples]
    try:
        if args.json:
            for r in records:
                print(json.dumps(r, ensure_ascii=False))
            return 0
        print("\t".join(FIELDS))
        for r in records:
            print("\t".join("" if r[f] is None else str(r[f]) for f in FIELDS))
    except BrokenPipeError:  # `workbench samples P | head` is normal use, not an error
        sys.stdout = None
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    rule = SplitRule(args.train, args.val, args.test, seed=args.seed, keep_test=not args.reshuffle_test)
    with Project.open(args.project) as project:
        with terminal_progress("split") as (progress, cancel):
            result = split_samples(project, rule, args.view, progress=progress, cancel=cancel)
        project.save()
    print(", ".join(f"{k} {n}" for k, n in sorted(result.counts.items())) + f" ({result.changed} changed)")
    return 0
