"""`workbench export P --out DIR [--run ID ...]`: write a verified line bundle (ONNX, manifest, templates, parity)."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.cli.verbs import add_verb
from workbench.line.verdict import FUSION_RULES, MISSING_RULES


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(
        sub,
        "export",
        run,
        help="export a station's trained runs as a line bundle (ONNX + JSON + PNG), parity-checked",
        description="Export the newest run of every view (or the runs given with --run) as ONNX graphs with "
        "a JSON manifest, the templates and masks, and check that onnxruntime and torch agree on the test split.",
        project=None,
    )
    p.add_argument("project", type=Path, help="station project file (.awb)")
    p.add_argument(
        "--out", type=Path, required=True, help="bundle folder to write (replaced if it is a bundle)"
    )
    p.add_argument(
        "--run",
        dest="runs",
        action="append",
        default=None,
        metavar="ID",
        help="run to export (repeat, one per view)",
    )
    p.add_argument(
        "--policy",
        dest="policies",
        action="append",
        default=None,
        metavar="NAME",
        help="threshold policy of the project to ship (repeat, one per exported run); it must have been made "
        "for the exported run of its view (default: the policy made for each run, 'default' first; a run "
        "without one gets a threshold fitted on its good validation samples)",
    )
    p.add_argument(
        "--fusion",
        choices=FUSION_RULES,
        default="any",
        help="part verdict from views (default: NG if any view is NG)",
    )
    p.add_argument(
        "--missing",
        choices=MISSING_RULES,
        default="ng",
        help="a view not found in a pass counts as (default ng)",
    )
    p.add_argument(
        "--accept-small-validation",
        action="store_true",
        help="export even when a view's threshold rests on fewer than 5 normal samples (flagged in the manifest)",
    )
    p.add_argument(
        "--no-parity-gate",
        action="store_true",
        help="write the bundle even if parity fails (marked in the manifest)",
    )


def run(args: argparse.Namespace) -> int:
    from workbench.cli.progress import terminal_progress
    from workbench.jobs.export import export_station

    if not args.project.is_file():
        raise FileNotFoundError(f"project file not found: {args.project}")
    with terminal_progress("export") as (progress, cancel):
        result = export_station(
            args.project, args.out, run_ids=args.runs, policies=args.policies, fusion=args.fusion,
            missing=args.missing, strict=not args.no_parity_gate, progress=progress, cancel=cancel,
            accept_small_validation=args.accept_small_validation,
        )  # fmt: skip
    print(f"bundle   {result.path}")
    for v in result.manifest["views"]:
        e = result.parity["views"][v["name"]]
        status = "ok" if e["passed"] else "FAILED"
        print(
            f"view     {v['name']}: {v['model']} ({v['run']['id']}), {v['exporter']} exporter, parity {status} "
            f"on {e['samples']} samples (max map diff {e.get('relative_diff', 0):.2e} of range, "
            f"{e.get('verdicts_identical', 0)}/{e['samples']} verdicts identical)"
        )
    for v in result.manifest["views"]:
        print(f"policy   {v['name']}: {v['policy_note']}")
    return 0 if result.parity["passed"] else 3
