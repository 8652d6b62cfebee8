"""`workbench new|info|pack`: create a project, print what it holds, write one self-contained file."""

from __future__ import annotations

import argparse
import json

from workbench.cli.verbs import add_verb
from workbench.project import Project


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_verb(
        subparsers,
        "new",
        cmd_new,
        help="create an empty project file (.awb)",
        project="the project file to create, e.g. station.awb",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing project of that name (never another file)",
    )

    p = add_verb(subparsers, "info", cmd_info, help="print what a project holds")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")

    p = add_verb(subparsers, "pack", cmd_pack, help="write one self-contained project file (for sharing)")
    p.add_argument("--out", required=True, help="the single file to write")
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing project at --out (never another file)"
    )


def cmd_new(args: argparse.Namespace) -> int:
    with Project.create(args.project, overwrite=args.overwrite) as project:
        print(f"created {project.path}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    with Project.open(args.project) as project:
        summary = project.summary()
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        print(format_summary(summary))
    return 0


def cmd_pack(args: argparse.Namespace) -> int:
    with Project.open(args.project) as project:
        out = project.pack(args.out, overwrite=args.overwrite)
    print(f"packed {args.project} into {out}")
    return 0


def format_summary(s: dict) -> str:
    """The summary as a few readable lines."""
    lines = [
        f"project {s['name']}  ({s['path']})",
        f"  schema {s['schema_version']}{', packed' if s['packed'] else ''}, created {s['created'] or 'unknown'}",
        f"  sources: {len(s['sources'])}   views: {', '.join(s['views']) or 'none'}",
        f"  samples: {s['samples']}",
    ]
    for view, v in s["per_view"].items():
        splits = ", ".join(f"{k} {n}" for k, n in sorted(v["split"].items()))
        labels = ", ".join(f"{k} {n}" for k, n in sorted(v["label"].items()))
        lines.append(
            f"    {view or '(no view)'}: {v['samples']} ({splits}; {labels}; {v['with_mask']} with mask)"
        )
    lines.append(f"  runs: {len(s['runs'])}   results: {len(s['results'])}")
    for r in s["runs"]:
        lines.append(f"    {r['id']}: {r['model']} on {r['view']}")
    lines.append(f"  policies: {', '.join(s['policies']) or 'none'}")
    return "\n".join(lines)
