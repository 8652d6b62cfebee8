"""`workbench policy`: fit a threshold policy for a run on the validation split and store it (or list them)."""

from __future__ import annotations

import argparse
import json
import sys

from workbench.cli.argtypes import finite_float, non_negative_int
from workbench.cli.progress import terminal_progress
from workbench.cli.verbs import add_verb
from workbench.jobs.evaluate_policy import SOURCES, default_policy_name, fit_run_policy, normals_behind
from workbench.metrics.intervals import small_validation_text
from workbench.project import Project


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_verb(
        subparsers,
        "policy",
        cmd_policy,
        help="fit a threshold policy on the validation split and store it in the project",
        description="Fit a threshold policy for one run on its validation split (never the test split) and "
        "store it apart from the run. Without --run, list the stored policies. Apply one with "
        "`workbench eval P --policy NAME`.",
    )
    p.add_argument(
        "--run", default=None, metavar="ID", help="the run whose validation scores set the threshold"
    )
    p.add_argument(
        "--source",
        choices=list(SOURCES),
        default="far",
        help="far: false-alarm rate on validation normals <= target (default 0.01); precision: highest "
        "recall at precision >= target (default 0.95); f1: F1-optimal; iou: IoU-optimal (pixels)",
    )
    p.add_argument("--target", type=finite_float, default=None, help="the target of 'far' or 'precision'")
    p.add_argument(
        "--level",
        choices=("image", "pixel"),
        default=None,
        help="threshold image scores (default) or anomaly-map pixels (default for iou)",
    )
    p.add_argument(
        "--min-area", type=non_negative_int, default=0, help="pixel level: smallest defect area in pixels"
    )
    p.add_argument(
        "--kind",
        choices=("threshold", "size"),
        default="threshold",
        help="threshold: one value per view (and zone); size: one pixel-level value per defect size class "
        "(small/medium/large by the view's defect-area tertiles, seed 000)",
    )
    p.add_argument("--name", default=None, help="the policy's name (default e.g. run3-far0.01)")
    p.add_argument("--json", action="store_true", help="print the stored policy (or all policies) as JSON")


def cmd_policy(args: argparse.Namespace) -> int:
    with Project.open(args.project, lock=args.run is not None) as project:
        if args.run is None:
            policies = project.policies
            if args.json:
                print(json.dumps(policies, indent=1))
            for name, pol in sorted(policies.items()):
                if not args.json:
                    params = pol.get("params", {})
                    view = params.get("view") or next(iter(params.get("runs", {}) or {}), None)
                    n, where = normals_behind(project, pol, view) if view else (None, "unknown")
                    rests = f"{n} normal {where} samples" if n is not None else "unknown normals"
                    small = small_validation_text(n) if n is not None else "small validation: unknown normals"
                    print(
                        f"{name}\trun {params.get('run', '-')}\t{pol.get('level')}\t{pol.get('source')}\t"
                        f"threshold {pol.get('threshold'):.6g}\t{rests}"
                        + (f"\t{small.upper()}" if small else "")
                    )
            if not policies and not args.json:
                print("no threshold policies; fit one with --run ID --source far|precision|f1|iou")
            return 0
        with terminal_progress("policy", quiet=args.json) as (progress, cancel):
            policy = fit_run_policy(
                project,
                args.run,
                args.source,
                args.target,
                args.level,
                args.min_area,
                progress=progress,
                cancel=cancel,
                kind=args.kind,
            )
        target = policy.params.get("max_fpr", policy.params.get("min_precision"))
        name = args.name or default_policy_name(args.run, args.source, target) + (
            "-size" if args.kind == "size" else ""
        )
        project.set_policy(name, policy.to_dict())
        project.save()
    if args.json:
        print(json.dumps({name: policy.to_dict()}, indent=1))
    else:
        values = (
            ", ".join(f"{c} {t:.6g}" for c, t in policy.per_size[policy.params["view"]].items())
            if policy.per_size
            else f"threshold {policy.threshold:.6g}"
        )
        print(
            f"stored policy '{name}': {policy.level} {values} for {args.run} "
            f"({args.source}, fitted on {policy.params['n_val']} validation samples, "
            f"{policy.params['n_normals']} of them normal)"
        )
        small = small_validation_text(policy.params["n_normals"])
        if small:
            print(
                f"warning: {small}: its false-alarm rate is uncertain (see the 95 % intervals in workbench eval)",
                file=sys.stderr,
            )
    return 0
