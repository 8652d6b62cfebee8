"""`workbench eval`: every metric per run and view on the test split (a table, or JSON with --json), and
how many synthetic test defects each run detects at its threshold policy (``miss_rates`` in the JSON)."""

from __future__ import annotations

import argparse
import json
import math
import sys

from workbench.cli.progress import terminal_progress
from workbench.cli.verbs import add_verb
from workbench.jobs.evaluate import evaluate, to_json
from workbench.jobs.evaluate_metrics import NA
from workbench.jobs.evaluate_rates import INTERVAL_NOTE
from workbench.metrics.intervals import Rate, interval_text
from workbench.metrics.policy import DETECTION_DEFINITION, VERDICT_DEFINITION
from workbench.project import Project, ProjectBusyError, ProjectChangedError

COLUMNS = (
    ("image_auroc", "img AUROC"),
    ("image_ap", "img AP"),
    ("image_f1", "img F1"),
    ("pixel_auroc", "px AUROC"),
    ("pixel_ap", "px AP"),
    ("aupro", "AUPRO"),
    ("iou", "IoU"),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_verb(
        subparsers,
        "eval",
        cmd_eval,
        help="evaluate runs on the test split (predicts with stored weights when no result is stored)",
        description="Evaluate runs on the test split: image and pixel metrics, operating points, size-aware "
        "misses, timings, statistics over seeds. Runs without stored test scores are predicted with their "
        "stored weights (never re-trained) and the results are saved in the project.",
    )
    p.add_argument("--run", dest="runs", action="extend", nargs="+", metavar="ID", help="only these runs")
    p.add_argument(
        "--policy",
        default=None,
        metavar="NAME",
        help="also report TP/FP/TN/FN under this policy, and count the synthetic test defects it detects",
    )
    p.add_argument("--json", action="store_true", help="print the whole evaluation as one JSON document")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _cell(v) -> str:
    if isinstance(v, NA):
        return "n/a"
    if isinstance(v, int | float) and math.isfinite(v):
        return f"{v:.4f}"
    return "n/a"


def _interval(d: dict | None) -> str:
    """'(<= 0.30)' or '(0.05-0.25)' from a Rate.to_dict(), '' when there is none."""
    if not isinstance(d, dict) or not d.get("n"):
        return ""
    r = Rate(d["k"], d["n"], d["ci_low"], d["ci_high"], d["ci_method"], d["ci_level"])
    return f" ({interval_text(r)})"


def _flag(rec: dict) -> str:
    text = rec.get("small_validation_text") or ""
    n = rec.get("n_normals")
    base = f"threshold rests on {n} normal {rec.get('normals_from', '')} samples" if n is not None else ""
    return "; ".join(x for x in (base, text.upper() if text else "") if x)


def _misses(run: str, mr) -> str:
    """One line: the run's synthetic test defects detected per type at its policy, or why there are none."""
    if not isinstance(mr, dict):
        return f"synthetic defects on {run}: n/a ({mr.reason if isinstance(mr, NA) else 'not evaluated'})"
    o, pol = mr["overall"], mr["policy"]
    by_type = "  ".join(
        f"{t} {v['detected']}/{v['n']}{_interval(v.get('detection_interval'))}"
        for t, v in mr["by_type"].items()
    )
    where = f"policy {pol['name']}" if pol["name"] else "a threshold fitted on normals"
    flag = _flag(pol)
    rate = f"{o['detection_rate']:.2f}" if o["n"] else "n/a"
    return (
        f"synthetic defects on {run}: detected {o['detected']}/{o['n']} at {where} "
        f"({pol['level']} {pol['threshold']:.4g}), detection rate {rate}{_interval(o.get('detection_interval'))}"
        f"  {by_type}" + (f"  [{flag}]" if flag else "")
    )


def _change(c: dict) -> str:
    pct = c["change_pct"]
    rel = f"{pct:+.1f} %" if isinstance(pct, float) else "n/a"
    m, u = c["masked"], c["unmasked"]
    return f"{u:.3g} -> {m:.3g} ({rel})" if m is not None and u is not None else "n/a"


def _print_masking(masking) -> None:
    """Masked against unmasked runs (seed 000): FN and FP without the ROI -> with it, and the change."""
    if not isinstance(masking, dict):
        return
    print(f"masking (view ROI against --no-roi; {masking['threshold']}, mean over seeds):")
    for row in masking["rows"]:
        print(
            f"  {row['model']} on {row['view']}: FN {_change(row['fn'])}  FP {_change(row['fp'])}  "
            f"errors {_change(row['errors'])}"
        )
    o = masking["overall"]
    sizes = "  ".join(f"{b} {_change(c)}" for b, c in o["fn_by_size"].items())
    print(f"  overall: FN {_change(o['fn'])}  FP {_change(o['fp'])}  FN by size: {sizes}")


def cmd_eval(args: argparse.Namespace) -> int:
    with Project.open(args.project) as project:
        with terminal_progress("eval", quiet=args.quiet or args.json) as (progress, cancel):
            result = evaluate(project, args.runs, args.policy, progress=progress, cancel=cancel)
        if project.dirty:
            try:
                project.save()  # keep the predictions so the next evaluation reuses them
            except (ProjectBusyError, ProjectChangedError) as exc:  # a cache: the evaluation still stands
                print(f"workbench eval: warning: the predictions were not kept: {exc}", file=sys.stderr)
    for r in result["runs"]:  # on stderr, so that --json output stays one document
        for w in r.get("warnings", []):
            print(f"workbench eval: warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps(to_json(result), indent=1, ensure_ascii=False))
        return 0
    header = ["run", "model", "view", "seed", *[c for _, c in COLUMNS]]
    print("\t".join(header))
    reasons: list[str] = []
    for r in result["runs"]:
        m = r["metrics"]["all"]
        cells = [r["run"], r["model"], r["view"], str(r["seed"]), *[_cell(m[k]) for k, _ in COLUMNS]]
        print("\t".join(cells))
        reasons += [f"{r['run']} {k}: {m[k].reason}" for k, _ in COLUMNS if isinstance(m[k], NA)]
    skipped: list[str] = []
    for r in result["runs"]:
        pol = r.get("policy")
        if pol is None:
            continue
        if "na" in pol:
            if "was fitted on" in pol["na"].reason:
                skipped.append(r["run"])
            else:
                print(f"policy {pol['name']} on {r['run']}: n/a ({pol['na'].reason})")
            continue
        ci = pol.get("intervals", {})
        rates = "  ".join(
            f"{k} {_cell(pol[k])}{_interval(ci.get(k))}" for k in ("precision", "recall", "fpr", "fnr")
        )
        flag = _flag(pol)
        print(
            f"policy {pol['name']} on {r['run']}: TP {pol['tp']} FP {pol['fp']} TN {pol['tn']} FN {pol['fn']}  "
            f"{rates}" + (f"  [{flag}]" if flag else "")
        )
    if skipped:
        print(f"policy {args.policy}: not applied to {', '.join(skipped)} (fitted on another run's scores)")
    for r in result["runs"]:
        print(_misses(r["run"], r.get("miss_rates")))
    _print_masking(result.get("masking"))
    if any(isinstance(r.get("policy"), dict) and "tp" in r["policy"] for r in result["runs"]) or any(
        isinstance(r.get("miss_rates"), dict) for r in result["runs"]
    ):
        print(f"intervals: {INTERVAL_NOTE}, in parentheses; {VERDICT_DEFINITION}")
        print(DETECTION_DEFINITION)
    for line in dict.fromkeys(reasons):
        print(f"n/a: {line}")
    return 0
