"""`workbench synth`: add seeded synthetic defects (with exact GT masks) to a project's val and test splits."""

from __future__ import annotations

import argparse
import json

from workbench.cli.argtypes import seed
from workbench.cli.progress import terminal_progress
from workbench.cli.verbs import add_verb
from workbench.jobs.synthesize import PRESETS, synthesize
from workbench.project import Project
from workbench.synth.defects import DEFECT_TYPES, SIZE_CLASSES


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_verb(
        subparsers,
        "synth",
        cmd_synth,
        help="add synthetic defects to val/test normals (saved in the project)",
    )
    p.add_argument(
        "--count", type=int, default=None, help="how many defects (spread over views, types, zones)"
    )
    p.add_argument(
        "--types",
        nargs="+",
        default=None,
        choices=DEFECT_TYPES,
        metavar="TYPE",
        help=f"defect types (default: the five bead types); any of {', '.join(DEFECT_TYPES)}",
    )
    p.add_argument("--views", nargs="+", default=None, metavar="VIEW", help="views (default: all)")
    p.add_argument(
        "--sizes",
        nargs="+",
        default=list(SIZE_CLASSES),
        choices=list(SIZE_CLASSES),
        metavar="SIZE",
        help="size classes to cycle through (small, medium, large)",
    )
    p.add_argument("--seed", type=seed, default=0, help="random seed (same seed, same defects)")
    p.add_argument(
        "--preset",
        choices=PRESETS,
        default=None,
        help="table1: seed 000's defects per type, view and zone (scaled to --count if given)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def cmd_synth(args: argparse.Namespace) -> int:
    with Project.open(args.project, lock=True) as project:
        with terminal_progress("synthesizing", quiet=args.quiet) as (progress, cancel):
            result = synthesize(
                project,
                count=args.count,
                types=args.types,
                views=args.views,
                seed=args.seed,
                preset=args.preset,
                sizes=args.sizes,
                progress=progress,
                cancel=cancel,
            )
        project.save()
    print(
        json.dumps(
            {
                "added": len(result.sample_ids),
                "counts": result.counts,
                "failed": len(result.failed),
                "beads_found": result.beads_found,
            }
        )
    )
    return 0
