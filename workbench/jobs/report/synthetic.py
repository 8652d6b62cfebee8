"""The report's "what would this station miss?" section: detection of synthetic defects per type and size.

Each run's ``miss_rates`` record (see :func:`workbench.jobs.miss_rate.run_miss_rates`): a table of
detected / total per defect type and size class under the threshold policy in use for the run, and a
bar chart of the detection rates of the first seed of each model.
"""

from __future__ import annotations

from workbench.jobs.evaluate_metrics import NA
from workbench.jobs.report import figures
from workbench.jobs.report.rates import flag, interval
from workbench.jobs.report.sections import img_tag
from workbench.jobs.report.tables import Notes, esc, table
from workbench.metrics.intervals import rate
from workbench.metrics.policy import DETECTION_DEFINITION

SIZES = ("small", "medium", "large")


def _cells(record: dict) -> dict[tuple[str, str], list[int]]:
    """{(type, size): [detected, n]} summed over zones, sizes and types ('all' margins included)."""
    out: dict[tuple[str, str], list[int]] = {}
    for row in record["rows"]:
        for key in ((row["type"], row["size"]), (row["type"], "all"), ("all", row["size"]), ("all", "all")):
            cell = out.setdefault((str(key[0]), str(key[1])), [0, 0])
            cell[0] += row["detected"]
            cell[1] += row["n"]
    return out


def _cell(counts: list[int] | None) -> str:
    if not counts or not counts[1]:
        return "<span class='dim'>–</span>"
    d, n = counts
    return f"{d} / {n} <span class='dim'>({100 * d / n:.0f} %)</span>{interval(rate(d, n).to_dict())}"


def miss_table(records: list[dict]) -> str:
    """Detected / total synthetic test defects per run, defect type and size class, with the policy used."""
    notes = Notes()
    rows, policies = [], []
    for r in records:
        mr = r.get("miss_rates")
        if mr is None:
            continue
        if isinstance(mr, NA):
            rows.append([esc(r["run"]), esc(r["group"]), "", notes.mark(mr.reason), "", "", ""])
            continue
        cells = _cells(mr)
        types = sorted({t for t, _ in cells if t != "all"}) + ["all"]
        for t in types:
            label = "<b>all types</b>" if t == "all" else esc(t)
            row = [esc(r["run"]), esc(r["group"]), label]
            row += [_cell(cells.get((t, s))) for s in (*SIZES, "all")]
            rows.append(row)
        pol = mr["policy"]
        what = f"policy '{esc(pol['name'])}'" if pol["name"] else "a threshold"
        policies.append(
            f"{esc(r['run'])}: {what}, {esc(pol['level'])} level, threshold {pol['threshold']:.4g} "
            f"({esc(pol['why'])}){flag(pol)}"
        )
    if not rows:
        return "<p class='na-block'>No run was evaluated on synthetic defects.</p>"
    cap = (
        "Synthetic test defects detected / total (detection rate, [95 % interval, %]) per defect type and "
        "achieved size class (share of the view), under each run's threshold policy. "
        + esc(DETECTION_DEFINITION[0].upper() + DETECTION_DEFINITION[1:])
        + ". "
        + "; ".join(policies)
        + "."
    )
    return table(
        ["Run", "Model", "Defect type", *[s.capitalize() for s in SIZES], "All"], rows, notes, cap, 3
    )


def synthetic_section(records: list[dict], firsts: list[dict]) -> str:
    """The section's HTML: a lead, the table of every run and the bar chart of ``firsts``."""
    panels = [
        (f"{r['run']} · {r['group']} · seed {r['seed']}", _cells(r["miss_rates"]))
        for r in firsts
        if isinstance(r.get("miss_rates"), dict)
    ]
    lead = (
        "<p class='lead'>What this station would miss before real defects exist: the share of synthetic "
        "defects on the test split that each run flags at its threshold policy (the project's policy made "
        "for the run, else a threshold at a 1 % false-alarm rate on normal validation images). The numbers "
        "above the bars count the defects.</p>"
    )
    return (
        lead
        + miss_table(records)
        + img_tag(
            figures.detection_figure(panels, SIZES),
            "detection of synthetic defects",
            "no run has synthetic test defects",
        )
    )
