"""`workbench sweep P --model patchcore --model padim --seeds 0-4 [--grid KEY=V1,V2 ...] [--views ...]
[--budget-s S] [--preset seed001|fewshot|window] [--ray ADDRESS]`: many runs, resumable."""

from __future__ import annotations

import argparse
import json
import sys

from workbench.cli.cmd_train import parse_params
from workbench.cli.verbs import add_verb


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_verb(
        subparsers,
        "sweep",
        run,
        help="train every combination of models, parameters and seeds, then evaluate (resumable)",
        description="Every combination of --model, --grid values, --n-train, --window and --seeds becomes the "
        "runs a single `workbench train` would make (one per view), then the evaluation (mean ± std over seeds). "
        "The project is saved after every finished cell; run the same command again to continue an interrupted "
        "sweep. Cells run on this workstation (one per core or GPU) or, with --ray, on a Ray cluster.",
        project="project file",
    )
    p.add_argument("--model", action="append", default=[], help="registered model name (repeatable)")
    p.add_argument("--seeds", default=None, help="seeds, e.g. 0-4 or 0,3,7 (default 0; presets: 0-4)")
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="a model parameter and its values (repeatable; values are JSON when they parse; "
        "separate with ';' when values hold commas)",
    )
    p.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="a fixed model parameter"
    )
    p.add_argument(
        "--view",
        "--views",
        dest="views",
        nargs="+",
        action="extend",
        default=None,
        help="views (default: all)",
    )
    p.add_argument(
        "--budget-s", type=float, default=None, help="training time budget per cell, for models with one"
    )
    p.add_argument(
        "--preset", choices=("seed001", "fewshot", "window"), default=None, help="a protocol of the seeds"
    )
    p.add_argument(
        "--n-train", type=int, action="append", default=None, help="training normals per view (few-shot)"
    )
    p.add_argument("--window", action="append", default=None, help="crop window: share (0.5) or WxH pixels")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None)
    p.add_argument(
        "--workers", type=int, default=None, help="cells at a time on this workstation (default: cores/GPUs)"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads per cell (default: cores/workers here, 1 on Ray)",
    )
    p.add_argument(
        "--ray", metavar="ADDRESS", default=None, help="run the cells on this Ray cluster (host:port)"
    )
    p.add_argument("--plan", action="store_true", help="print the cells and exit")
    p.add_argument("--no-eval", action="store_true", help="train only; evaluate later with `workbench eval`")
    p.add_argument("--json", action="store_true", help="print the outcome as one JSON document")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def build_spec(args: argparse.Namespace, models_known: list[str]):
    from workbench.jobs.sweep_plan import SweepSpec, apply_preset, parse_grid, parse_seeds, parse_window

    seeds = parse_seeds(args.seeds) if args.seeds else None
    windows = [parse_window(w) for w in args.window] if args.window else None
    filled = apply_preset(args.preset, args.model, seeds, args.n_train, windows, models_known)
    return SweepSpec(
        models=filled["models"],
        seeds=filled["seeds"],
        grid=parse_grid(args.grid),
        params=parse_params(args.param),
        views=args.views,
        budget_s=args.budget_s,
        n_train=filled["n_train"],
        windows=filled["windows"],
        robustness=filled["robustness"],
        device=args.device,
        preset=args.preset,
    )


def _ms(v) -> str:
    return "n/a" if not v else f"{v['mean']:.4f} ± {v['std']:.4f}"


def run(args: argparse.Namespace) -> int:
    from workbench.cli.progress import terminal_progress
    from workbench.core.progress import Cancelled
    from workbench.jobs.sweep import make_executor, plan, resolve_spec, run_sweep
    from workbench.models import registry
    from workbench.project import Project

    spec = build_spec(args, registry.names())
    with Project.open(args.project, lock=not args.plan) as project:
        spec = resolve_spec(project, spec)
        if args.plan:
            cells, skipped = plan(project, spec)
            for c in cells:
                print(f"{c.index:4d}  {c.label}  views: {', '.join(c.views)}")
            for key, why in skipped.items():
                print(f"skip  {json.loads(key)['model']} n_train={json.loads(key)['n_train']}: {why}")
            print(f"{spec.id}: {len(cells)} cells ({len(skipped)} skipped)")
            return 0
        executor = make_executor(spec, args.workers, args.ray, args.threads)
        try:
            with terminal_progress(f"sweep {spec.id}", quiet=args.quiet or args.json) as (progress, cancel):
                out = run_sweep(project, spec, executor, progress, cancel, evaluate=not args.no_eval)
        except Cancelled:
            print(
                "workbench sweep: cancelled; every finished cell is saved; run the same command to continue",
                file=sys.stderr,
            )
            return 130
        finally:
            close = getattr(executor, "close", None)
            if close is not None:
                close()
    if args.json:
        print(json.dumps(out, indent=1, default=str))
        return 1 if out["failed"] else 0
    for row in out["summary"] or []:
        print(
            f"{row['view']}\t{row['group']}\tn={len(row['runs'])}\timg AUROC {_ms(row['image_auroc'])}\tpx AUROC {_ms(row['pixel_auroc'])}"
        )
    for key, why in out["failed"].items():
        print(f"failed: {key}: {why}", file=sys.stderr)
    print(
        json.dumps(
            {k: out[k] for k in ("id", "cells", "done", "ran", "executor")}
            | {"failed": len(out["failed"]), "skipped": len(out["skipped"]), "runs": len(out["runs"])}
        )
    )
    return 1 if out["failed"] else 0
