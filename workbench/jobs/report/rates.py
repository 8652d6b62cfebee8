"""The report's rate tables: every rate with its 95 % interval and the normals its threshold rests on.

Operating points (FPR/FNR at thresholds from normal images, seed 003; recall at a precision, seed 002),
the threshold policy applied to the test split (per run, defect type, zone and size class), size-aware
misses, and the definitions of verdicts, detections and intervals. A threshold resting on fewer than 20
normal samples carries a red "small validation" flag wherever it is shown.
"""

from __future__ import annotations

from typing import Any

from workbench.jobs.evaluate import DEFINITIONS
from workbench.jobs.evaluate_metrics import NA, PRECISIONS, TNRS
from workbench.jobs.report.tables import Notes, esc, number, table
from workbench.metrics.intervals import SMALL_VALIDATION_NORMALS


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def interval(ci: dict | None) -> str:
    """' [≤ 30.0]', ' [≥ 72.0]' or ' [4.9–25.1]' (%) from a Rate.to_dict(); '' without samples."""
    if not isinstance(ci, dict) or not ci.get("n"):
        return ""
    if ci["k"] == 0:
        text = f"≤ {_pct(ci['ci_high'])}"
    elif ci["k"] == ci["n"]:
        text = f"≥ {_pct(ci['ci_low'])}"
    else:
        text = f"{_pct(ci['ci_low'])}–{_pct(ci['ci_high'])}"
    return f" <span class='ci'>[{text}]</span>"


def rate_cell(value: Any, ci: dict | None, notes: Notes, compact: bool = False) -> str:
    """A rate in % with its 95 % interval and k/n (``compact``: those on a second line), or n/a."""
    cell = number(value, notes, pct=True)
    if isinstance(ci, dict) and ci.get("n"):
        cell += ("<br>" if compact else "") + interval(ci) + f" <span class='dim'>{ci['k']}/{ci['n']}</span>"
    return cell


def flag(rec: dict | None, short: bool = False) -> str:
    """The red small-validation flag of a record with ``small_validation`` ('small validation' alone
    when ``short``, the number being beside it), else ''."""
    if not isinstance(rec, dict) or not rec.get("small_validation"):
        return ""
    text = rec.get("small_validation_text") or f"small validation: < {SMALL_VALIDATION_NORMALS} normals"
    if short:
        return f" <span class='flag' title='{esc(text)}'>small validation</span>"
    return f" <span class='flag'>{esc(text)}</span>"


def normals_cell(rec: dict) -> str:
    n = rec.get("n_normals")
    where = rec.get("normals_from") or rec.get("threshold_from") or ""
    of = rec.get("n_normals_available")
    spread = f" (spread over {of})" if n is not None and of and of > n else ""
    base = "unknown" if n is None else f"{n} <span class='dim'>{esc(where)}{spread}</span>"
    return base + ("<br>" + flag(rec, short=True).strip() if flag(rec) else "")


def operating_table(records: list[dict]) -> str:
    """FPR/FNR at thresholds from normal validation images (seed 003) and recall at precision (seed 002)."""
    notes = Notes()
    rows = []
    for r in records:
        row = [esc(r["run"]), esc(r["group"]), number(r["seed"], notes)]
        rates = r["rates_at_tnr"]
        row.append(number(rates, notes) if isinstance(rates, NA) else normals_cell(rates[0]))
        for k in range(len(TNRS)):
            if isinstance(rates, NA):
                row += [number(rates, notes)] * 2
            else:
                e = rates[k]
                row += [rate_cell(e[m], e["intervals"][m], notes, compact=True) for m in ("fpr", "fnr")]
        rap = r["recall_at_precision"]
        for k in range(len(PRECISIONS)):
            if isinstance(rap, NA):
                row.append(number(rap, notes))
            else:
                e = rap[k]
                row.append(
                    rate_cell(e["recall"], e["intervals"]["recall"], notes, compact=True)
                    + f"<br><span class='dim'>P {number(e['precision'], notes, pct=True)}"
                    f"{interval(e['intervals']['precision'])}</span>"
                )
        rows.append(row)
    source = next(
        (r["rates_at_tnr"][0]["threshold_from"] for r in records if isinstance(r["rates_at_tnr"], list)),
        "validation",
    )
    header = ["Run", "Model", "Seed", "Normals"]
    for t in TNRS:
        header += [f"FPR @TNR {t:g}", f"FNR @TNR {t:g}"]
    header += [f"Recall @P≥{p:g}" for p in PRECISIONS]
    cap = (
        f"Test FPR/FNR (%) at thresholds set on the normal {source} images at each TNR (seed 003), with the "
        "95 % interval [brackets] and k/n; 'Normals' is how many normal images the thresholds rest on. Test "
        "recall (and precision) at the thresholds that reach each precision on the validation split (seed 002)."
    )
    return table(header, rows, notes, cap, numeric_from=3)


def policy_table(records: list[dict], name: str) -> str:
    """The policy's counts and rates per run, each rate with its interval, and the normals behind it."""
    notes = Notes()
    rows, elsewhere = [], []
    for r in records:
        p = r.get("policy", {})
        if "na" in p and "was fitted on" in p["na"].reason:
            elsewhere.append(r["run"])  # a threshold belongs to its run: nothing to show for the others
            continue
        if "na" in p:
            rows.append([esc(r["run"]), esc(r["group"]), *([number(p["na"], notes)] * 10)])
            continue
        thr = number(p["threshold"], notes)
        if p.get("size_thresholds"):
            thr = "<br>".join(f"{c} {number(t, notes)}" for c, t in p["size_thresholds"].items())
        rows.append(
            [
                esc(r["run"]),
                esc(r["group"]),
                thr,
                normals_cell(p),
                *(str(p[k]) for k in ("tp", "fp", "tn", "fn")),
                *(rate_cell(p[k], p["intervals"][k], notes) for k in ("precision", "recall", "fpr", "fnr")),
            ]
        )
    header = [
        "Run",
        "Model",
        "Threshold",
        "Normals",
        "TP",
        "FP",
        "TN",
        "FN",
        "Precision",
        "Recall",
        "FPR",
        "FNR",
    ]
    cap = (
        f"Threshold policy '{esc(name)}' applied to the stored test scores: verdict counts and rates (%) with "
        f"their 95 % interval [brackets] and k/n. 'Normals': how many normal samples the threshold rests on "
        f"(flagged below {SMALL_VALIDATION_NORMALS})."
        + (f" Not applied to {esc(', '.join(elsewhere))} (made for another run)." if elsewhere else "")
    )
    if not rows:
        return (
            f"<p class='na-block'>Policy '{esc(name)}' was made for another run; it applies to no run of "
            f"this view ({esc(', '.join(elsewhere))}).</p>"
        )
    return table(header, rows, notes, cap, numeric_from=2) + breakdown_table(records)


def breakdown_table(records: list[dict]) -> str:
    """Recall per defect type, zone and size class, and FPR per zone (pixel level), with intervals."""
    notes = Notes()
    rows = []
    for r in records:
        p = r.get("policy", {})
        if "na" in p or "by_type" not in p:
            continue
        parts = [("type", p["by_type"])]
        by_size = p.get("by_size")
        parts.append(("size", by_size["classes"] if isinstance(by_size, dict) else by_size))
        parts.append(("zone", p.get("by_zone")))
        for kind, groups in parts:
            if isinstance(groups, NA) or not groups:
                continue
            for key, e in groups.items():
                ci = e.get("intervals", {})
                rows.append(
                    [
                        esc(r["run"]),
                        kind,
                        esc(key),
                        rate_cell(e["recall"], ci.get("recall"), notes) if e.get("n") else "–",
                        rate_cell(e["fpr"], ci.get("fpr"), notes) if "fpr" in e else "–",
                    ]
                )
    if not rows:
        return ""
    cap = (
        "The same verdicts per defect type, defect size class (seed 000's tertiles) and zone: recall over "
        "the defects of each group (%, 95 % interval, k/n); at pixel level each zone's FPR is the share of "
        "normal samples with a flagged region in that zone."
    )
    return table(["Run", "By", "Group", "Recall", "FPR"], rows, notes, cap, numeric_from=3)


def size_table(records: list[dict]) -> str:
    """Missed defectives per area tertile of the view (seed 000), at each run's image F1-max threshold."""
    notes = Notes()
    rows = []
    edges = None
    for r in records:
        sm = r["size_misses"]
        if isinstance(sm, NA):
            rows.append(
                [esc(r["run"]), esc(r["group"]), number(r["seed"], notes), *([number(sm, notes)] * 4)]
            )
            continue
        edges = sm["edges"]
        bins = sm["bins"]
        cells = [
            f"{bins[b]['missed']} / {bins[b]['total']}{interval(bins[b].get('miss_rate_interval'))}"
            for b in ("small", "medium", "large")
        ]
        total = sum(bins[b]["missed"] for b in bins), sum(bins[b]["total"] for b in bins)
        rows.append(
            [esc(r["run"]), esc(r["group"]), number(r["seed"], notes), *cells, f"{total[0]} / {total[1]}"]
        )
    cap = "Missed / defective test images per defect-area tertile"
    if edges:
        cap += f" (small ≤ {100 * edges[0]:.2f} % of the image < medium ≤ {100 * edges[1]:.2f} % < large)"
    cap += ", verdicts at each run's image F1-max threshold; [95 % interval of the miss rate, %]."
    return table(
        ["Run", "Model", "Seed", "Small", "Medium", "Large", "All"], rows, notes, cap, numeric_from=2
    )


def definitions() -> str:
    """How the report counts: verdicts, detections, intervals and the small-validation flag."""
    items = []
    for k, v in DEFINITIONS.items():
        term = k.replace("_", " ")
        text = v[len(term) + 1 :].strip() if v.lower().startswith(term + ":") else v
        items.append(f"<li><b>{esc(term.capitalize())}</b>: {esc(text)}</li>")
    return f"<ul class='defs'>{''.join(items)}</ul>"
