"""The report's masking section (seed 000's central ablation): runs trained with the view's ROI against
runs trained on the whole crop (``train --no-roi``), their false negatives and false positives and the
change, per model and view, per size class, and over the station."""

from __future__ import annotations

from typing import Any

from workbench.jobs.evaluate_masking import SIZES
from workbench.jobs.evaluate_metrics import NA
from workbench.jobs.report.tables import Notes, esc, table


def change_cell(c: dict, notes: Notes) -> str:
    """'unmasked → masked (−33.9 %)', the change red when masking made it worse."""
    u, m, pct = c["unmasked"], c["masked"], c["change_pct"]
    if u is None or m is None:
        return notes.mark("one side has no value")
    base = f"{u:.3g} → {m:.3g}"
    if isinstance(pct, NA):
        return f"{base} {notes.mark(pct.reason)}"
    cls = "bad" if pct > 0 else "good" if pct < 0 else "dim"
    return f"{base} <span class='{cls}'>({pct:+.1f} %)</span>"


def _auroc(v: Any) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def masking_section(masking: Any, view: str | None = None) -> str:
    """The table of ``evaluate(...)["masking"]`` (one view's rows, or every row and the totals)."""
    if isinstance(masking, NA) or masking is None:
        reason = masking.reason if isinstance(masking, NA) else "not evaluated"
        return f"<p class='na-block'>Masking: n/a — {esc(reason)}</p>"
    notes = Notes()
    rows = []
    for row in masking["rows"]:
        if view is not None and row["view"] != view:
            continue
        rows.append(
            [
                esc(row.get("configuration", row["model"])),
                esc(row["view"]),
                f"{len(row['masked_runs'])} / {len(row['unmasked_runs'])}",
                f"{_auroc(row['image_auroc']['unmasked'])} → {_auroc(row['image_auroc']['masked'])}",
                change_cell(row["fn"], notes),
                change_cell(row["fp"], notes),
                change_cell(row["errors"], notes),
                *(change_cell(row["fn_by_size"][b], notes) for b in SIZES),
            ]
        )
    if not rows:
        return "<p class='na-block'>Masking: no model of this view was trained both with and without its ROI.</p>"
    if view is None:
        o = masking["overall"]
        rows.append(
            ["<b>all models</b>", "all", "", "", *(change_cell(o[k], notes) for k in ("fn", "fp", "errors")),
             *(change_cell(o["fn_by_size"][b], notes) for b in SIZES)]
        )  # fmt: skip
    cap = (
        f"Masked (view ROI) against unmasked (whole crop, <code>train --no-roi</code>) runs of the same model "
        f"configuration: {esc(masking['threshold'])}, mean over seeds; unmasked → masked and the change "
        "(seed 000: masking cut FN by 33.9 % and FP by 34.6 %). FN by defect-area tertile (small / medium / "
        "large). Runs: masked / unmasked."
    )
    header = [
        "Model",
        "View",
        "Runs",
        "Image AUROC (%)",
        "FN",
        "FP",
        "Errors",
        "FN small",
        "FN medium",
        "FN large",
    ]
    out = table(header, rows, notes, cap, numeric_from=2)
    if view is None:
        share = masking["overall"]["fn_share_by_size"]
        parts = []
        for b in SIZES:
            u, m = share[b]["unmasked"], share[b]["masked"]
            if u is not None and m is not None:
                parts.append(f"{b} {100 * u:.1f} % → {100 * m:.1f} %")
        if parts:
            out += f"<p class='lead'>Share of the false negatives by size class, unmasked → masked: {'; '.join(parts)}.</p>"
    return out
