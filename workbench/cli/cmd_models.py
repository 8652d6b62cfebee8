"""`workbench models [--json]`: list the registered anomaly models with their parameters and defaults."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list registered anomaly models and their parameters")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.models import registry

    infos = []
    for name in registry.names():
        try:
            infos.append(registry.describe(name))
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not hide the others
            infos.append({"name": name, "doc": f"(cannot load: {exc})", "params": {}})
    if args.json:
        print(json.dumps(infos, indent=2))
        return 0
    for info in infos:
        first = info["doc"].splitlines()[0] if info["doc"] else ""
        print(f"{info['name']}: {first}")
        for pname, p in info["params"].items():
            print(f"    {pname} = {p['default']!r}  ({p['type']})")
    return 0
