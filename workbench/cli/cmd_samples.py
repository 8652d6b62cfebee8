"""`workbench samples|split|label`: list a project's samples; assign train/val/test by pass; label samples."""

from __future__ import annotations

import argparse
import json
import math
import sys

from workbench.cli.argtypes import fraction, seed
from workbench.cli.progress import terminal_progress
from workbench.cli.verbs import add_verb
from workbench.core.splits import SplitRule
from workbench.jobs.splits import split_samples
from workbench.project import Project
from workbench.project.types import LABELS, SPLITS

FIELDS = ("id", "source", "pass", "view", "frame", "x", "y", "split", "label", "score", "width", "height")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_verb(
        subparsers,
        "samples",
        cmd_samples,
        help="list samples (id, source, pass, view, frame, x, y, split, label)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per sample and line (with its pass's status: ok, partial or suspect, and why)",
    )
    p.add_argument(
        "--suspect", action="store_true", help="only samples of suspect or partial passes (see import-video)"
    )
    p.add_argument("--view", default=None, help="only this view")
    p.add_argument(
        "--split", default=None, choices=SPLITS, help="only this split (train, val, test, unassigned)"
    )
    p.add_argument("--label", default=None, choices=LABELS, help="only this label (good, defective, unknown)")

    p = add_verb(
        subparsers,
        "split",
        cmd_split,
        help="assign train/val/test by pass (seeded, stratified, normals-only train)",
    )
    p.add_argument(
        "--train", type=fraction, default=SplitRule.train, help="fraction of good passes for training"
    )
    p.add_argument(
        "--val", type=fraction, default=SplitRule.val, help="fraction of good passes for validation"
    )
    p.add_argument(
        "--test", type=fraction, default=SplitRule.test, help="fraction of good passes for testing"
    )
    p.add_argument("--seed", type=seed, default=0, help="random seed of the split")
    p.add_argument("--view", default=None, help="only this view")
    p.add_argument(
        "--reshuffle-test", action="store_true", help="let passes already in test move (not advised)"
    )
    p.add_argument(
        "--chronological",
        action="store_true",
        help="the earliest good passes train, the next validate, the latest test (instead of seeded shuffling)",
    )

    p = add_verb(
        subparsers,
        "label",
        cmd_label,
        help="label samples good, defective or unknown, chosen by pass or by id",
        description="Label the samples of the given passes (every view, or --view) or the given sample "
        "ids; e.g. the parts quality control rejected: workbench label P --pass 3 --pass 7 --label defective",
    )
    p.add_argument(
        "--label", required=True, choices=("good", "defective", "unknown"), help="the label to set"
    )
    p.add_argument(
        "--pass", dest="passes", type=int, action="append", default=[], metavar="N", help="a pass (repeat)"
    )
    p.add_argument(
        "--sample",
        dest="samples",
        type=int,
        action="append",
        default=[],
        metavar="ID",
        help="a sample id (repeat)",
    )
    p.add_argument("--view", default=None, help="only this view's samples of the passes")
    p.add_argument("--source", default=None, help="only passes of this source (default: every source)")


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
        # the import's verdict on the pass the sample came from: ok, partial or suspect (with reasons)
        "pass_status": s.meta.get("pass_status", "ok"),
        "suspect": s.meta.get("pass_status") == "suspect",
        "pass_reasons": list(s.meta.get("pass_reasons", [])),
        "meta": s.meta,
    }


def cmd_samples(args: argparse.Namespace) -> int:
    with Project.open(args.project) as project:
        if args.view is not None and args.view not in project.views:
            raise ValueError(
                f"project {project.name} has no view {args.view!r}; views: {', '.join(project.views) or 'none'}"
            )
        samples = project.samples(view=args.view, split=args.split, label=args.label)
    records = [sample_record(s) for s in samples]
    if args.suspect:
        records = [r for r in records if r["pass_status"] != "ok"]
    doubtful = sum(r["suspect"] for r in records)
    try:
        if args.json:
            for r in records:
                print(json.dumps(r, ensure_ascii=False))
            return 0
        print("\t".join(FIELDS))
        for r in records:
            print("\t".join("" if r[f] is None else str(r[f]) for f in FIELDS))
        if doubtful:
            print(f"{doubtful} samples come from suspect passes (see --json or --suspect)", file=sys.stderr)
    except BrokenPipeError:  # `workbench samples P | head` is normal use, not an error
        sys.stdout = None
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    rule = SplitRule(
        args.train, args.val, args.test, seed=args.seed, keep_test=not args.reshuffle_test,
        chronological=args.chronological,
    )  # fmt: skip
    with Project.open(args.project, lock=True) as project:
        with terminal_progress("split") as (progress, cancel):
            result = split_samples(project, rule, args.view, progress=progress, cancel=cancel)
        project.save()
    print(", ".join(f"{k} {n}" for k, n in sorted(result.counts.items())) + f" ({result.changed} changed)")
    for line in result.warnings():
        print(f"workbench split: warning: {line}", file=sys.stderr)
    return 0


def cmd_label(args: argparse.Namespace) -> int:
    if not args.passes and not args.samples:
        raise ValueError("label: name the samples with --pass N or --sample ID (repeat either)")
    with Project.open(args.project, lock=True) as project:
        if args.source is not None and args.source not in {s.id for s in project.sources}:
            known = ", ".join(s.id for s in project.sources) or "none"
            raise ValueError(f"project {project.name} has no source {args.source!r}; sources: {known}")
        views = sorted({s.view for s in project.samples()})
        if args.view is not None and args.view not in views:
            raise ValueError(
                f"project {project.name} has no samples of view {args.view!r}; views: {', '.join(views)}"
            )
        ids = list(args.samples)
        if args.passes:
            chosen = [
                s
                for s in project.samples(view=args.view)
                if s.pass_index in args.passes and args.source in (None, s.source)
            ]
            found = {s.pass_index for s in chosen}
            missing = sorted(set(args.passes) - found)
            if missing:
                raise ValueError(
                    f"no samples of pass {', '.join(map(str, missing))} in project {project.name}"
                )
            ids += [s.id for s in chosen]
        ids = list(dict.fromkeys(ids))
        project.update_samples(ids, label=args.label)
        project.save()
    print(f"labelled {len(ids)} samples {args.label}")
    return 0
