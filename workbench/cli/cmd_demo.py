"""`workbench demo`: render the demo station (video, templates, truth) and build its project."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.cli.argtypes import seed
from workbench.cli.verbs import add_verb


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(
        sub,
        "demo",
        run,
        help="render a demo station: video, templates, truth and a project",
        description="Render a video of car underbodies with sealant beads passing a fixed camera, with "
        "exact ground truth, and build a station project from it (template matching, labels, splits).",
        project=None,
    )
    p.add_argument(
        "--out", type=Path, default=Path("demo_station"), help="output folder (default: ./demo_station)"
    )
    p.add_argument("--passes", type=int, default=40, help="number of part passes (default 40)")
    p.add_argument(
        "--defect-rate",
        type=float,
        default=0.1,
        help="fraction of passes with a bead defect, 0..1 (default 0.1)",
    )
    p.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    p.add_argument("--width", type=int, default=848, help="frame width in px (default 848)")
    p.add_argument("--height", type=int, default=480, help="frame height in px (default 480)")
    p.add_argument("--fps", type=float, default=25.0, help="frames per second (default 25)")
    p.add_argument("--contact-sheet", type=Path, default=None, help="also write a contact sheet PNG here")
    p.add_argument(
        "--overwrite", action="store_true", help="replace the demo in --out (only a folder the demo made)"
    )


def run(args: argparse.Namespace) -> int:
    from workbench.cli.overwrite import check_demo_target, check_image_target
    from workbench.cli.progress import terminal_progress
    from workbench.jobs.demo import build_demo_station

    check_demo_target(args.out, args.overwrite)
    if args.contact_sheet:
        check_image_target(args.contact_sheet, args.overwrite, "--contact-sheet")
    with terminal_progress("demo station") as (progress, cancel):
        result = build_demo_station(
            args.out,
            passes=args.passes,
            defect_rate=args.defect_rate,
            seed=args.seed,
            width=args.width,
            height=args.height,
            fps=args.fps,
            progress=progress,
            cancel=cancel,
        )
    if args.contact_sheet:
        from workbench.synth.demo import contact_sheet

        contact_sheet(args.out, args.contact_sheet)
    print(f"video      {result.video}")
    print(f"templates  {Path(result.out_dir) / 'templates'}")
    print(f"truth      {result.truth_path}")
    print(
        f"project    {result.project_path}  ({result.samples} samples from {result.passes_found} passes; "
        f"best frame within +-1 of the truth for {100 * result.frame_within_1:.0f} % of pass views)"
    )
    if result.unmatched:
        print(f"unmatched  {len(result.unmatched)} pass views had no match above the threshold")
    return 0
