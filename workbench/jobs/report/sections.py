"""The report's sections as HTML fragments, one view at a time, from an evaluation (and robustness) dict."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from workbench.jobs.evaluate_metrics import NA
from workbench.jobs.evaluate_stats import summarize
from workbench.jobs.report import figures
from workbench.jobs.report.tables import (
    Notes,
    best_flags,
    bold,
    esc,
    fixed,
    fixed_text,
    mean_std,
    number,
    table,
)

IMAGE_COLS = (
    ("image_auroc", "AUROC"),
    ("image_ap", "AU-PR"),
    ("image_precision", "Precision"),
    ("image_recall", "Recall"),
    ("image_f1", "F1-Score"),
    ("image_fp_share", "FP share"),
)
PIXEL_COLS = (
    ("pixel_auroc", "AUROC"),
    ("pixel_ap", "AU-PR"),
    ("aupro", "AUPRO"),
    ("auspro", "AUsPRO"),
    ("iou", "IoU"),
    ("pixel_precision", "Precision"),
    ("pixel_recall", "Recall"),
    ("pixel_f1", "F1-Score"),
    ("pixel_fp_share", "FP share"),
)
SUBSET_COLS = (
    ("image_auroc", "Image AUROC"),
    ("image_ap", "Image AU-PR"),
    ("image_f1", "Image F1"),
    ("pixel_auroc", "Pixel AUROC"),
    ("aupro", "AUPRO"),
    ("iou", "IoU"),
)
LOWER_IS_BETTER = {"image_fp_share", "pixel_fp_share"}  # fewer false alarms among the errors is not "better"


def img_tag(png: bytes | None, alt: str, why_missing: str) -> str:
    """An <img> with the PNG embedded as a data URI, or a visible note of why there is no figure."""
    if png is None:
        return f'<p class="na-block">No figure: {esc(why_missing)}</p>'
    data = base64.b64encode(png).decode("ascii")
    return f'<figure><img alt="{esc(alt)}" src="data:image/png;base64,{data}"></figure>'


def _groups(records: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in records:
        out.setdefault(r["group"], []).append(r)
    return out


def seed_table(records: list[dict], cols, caption: str, with_val: bool = True, where: str = "all") -> str:
    """Seed 000's layout: a row per model, mean ± std over seeds in %, validation in parentheses."""
    groups = _groups(records)
    notes = Notes()
    columns = {m: [summarize(rs, m, where) for rs in groups.values()] for m, _ in cols}
    vals = {m: [summarize(rs, m, "val") for rs in groups.values()] for m, _ in cols}
    flags = {m: best_flags(columns[m], m not in LOWER_IS_BETTER) for m, _ in cols}
    rows = []
    for gi, label in enumerate(groups):
        row = [f"{esc(label)} <span class='dim'>×{len(groups[label])}</span>"]
        for m, _ in cols:
            cell = bold(mean_std(columns[m][gi], notes), flags[m][gi] and m not in LOWER_IS_BETTER)
            v = vals[m][gi]
            if with_val and not (isinstance(v, NA) and "not computed on validation" in v.reason):
                cell += f'<br><span class="val">({mean_std(v, notes)})</span>'
            row.append(cell)
        rows.append(row)
    return table(["Model", *[c for _, c in cols]], rows, notes, caption)


def run_table(records: list[dict]) -> str:
    """One row per run: the headline metrics and the thresholds they were taken at."""
    notes = Notes()
    rows = []
    for r in records:
        m = r["metrics"]["all"]
        rows.append(
            [
                esc(r["run"]),
                esc(r["group"]),
                number(r["seed"], notes),
                number(m["image_auroc"], notes, pct=True),
                number(m["image_ap"], notes, pct=True),
                number(m["image_f1"], notes, pct=True),
                number(m["image_f1_threshold"], notes),
                number(m["pixel_auroc"], notes, pct=True),
                number(m["aupro"], notes, pct=True),
                number(m["auspro"], notes, pct=True),
                number(m["iou"], notes, pct=True),
                number(m["iou_threshold"], notes),
                str(r["predicted_now"]) if r["predicted_now"] else "stored",
            ]
        )
    header = [
        "Run",
        "Model",
        "Seed",
        "AUROC",
        "AU-PR",
        "F1-max",
        "F1 thr.",
        "Px AUROC",
        "AUPRO",
        "AUsPRO",
        "IoU-max",
        "IoU thr.",
        "Scores",
    ]
    cap = (
        "Every run on the test split (%). Thresholds: image F1-max and pixel IoU-max, found on the test "
        "split. 'Scores': stored, or the number of samples predicted now with the stored weights."
    )
    return table(header, rows, notes, cap, numeric_from=2)


def timing_table(records: list[dict]) -> str:
    notes = Notes()
    rows = []
    for r in records:
        t = r["timings"]
        infer = fixed(t["inference_ms_per_image"], notes)
        if "inference_note" in t:
            infer += "<sup>*</sup>"
        rows.append(
            [
                esc(r["run"]),
                esc(r["group"]),
                number(r["seed"], notes),
                fixed(t["train_seconds"], notes),
                infer,
                fixed(t["peak_memory_mb"], notes, 0),
                esc(t.get("device", "")) or "–",
            ]
        )
    cap = (
        "Training time, inference time per image and peak memory from each run's record. "
        "<sup>*</sup> measured while this evaluation predicted the test split (batches of 8)."
    )
    return table(
        ["Run", "Model", "Seed", "Train (s)", "Inference (ms/img)", "Peak memory (MB)", "Device"],
        rows,
        notes,
        cap,
        numeric_from=2,
    )


def stats_tables(stats: dict[str, Any]) -> str:
    """Paired (over seeds) and Welch t-tests with Benjamini-Hochberg corrected p-values, one row per pair."""
    notes = Notes()
    rows = []
    seeds: list = []
    left: set[str] = set()
    one: set[str] = set()
    for metric, tests in stats["tests"].items():
        one |= set(tests.get("one_seed", []))
        paired, welch = tests["paired"], tests["welch"]
        seeds = tests.get("paired_seeds") or seeds
        left |= set(tests.get("welch_left_out", []))
        if isinstance(paired, NA) and isinstance(welch, NA):
            row = [esc(metric), "", "", "", notes.mark(paired.reason), "", "", "", notes.mark(welch.reason)]
            rows.append(row + ["", "", ""])
            continue
        pairs = {(c["a"], c["b"]) for c in (paired if isinstance(paired, list) else [])}
        pairs |= {(c["a"], c["b"]) for c in (welch if isinstance(welch, list) else [])}
        for a, b in sorted(pairs):
            row = [esc(metric), esc(a), esc(b)]
            for res in (paired, welch):
                c = (
                    next((c for c in res if (c["a"], c["b"]) == (a, b)), None)
                    if isinstance(res, list)
                    else None
                )
                if c is None:
                    row += [notes.mark(res.reason if isinstance(res, NA) else "pair not tested")] + [""] * 3
                    continue
                if res is paired:
                    row.insert(3, fixed(100 * c["mean_diff"], notes, 2))
                row += [
                    number(c["t"], notes, digits=3),
                    _p(c["p"]),
                    _p(c["p_bh"]),
                    "<b>yes</b>" if c["significant"] else "no",
                ]
            if len(row) == 10:  # the paired test was n/a: take the difference from the Welch row
                c = next(c for c in welch if (c["a"], c["b"]) == (a, b))
                row.insert(3, fixed(100 * c["mean_diff"], notes, 2))
            rows.append(row)
    cap = (
        "Two-sided t-tests between every two models, Benjamini-Hochberg corrected over the pairs of each "
        "metric and test (α = 0.05). Paired over seeds as in seed 000"
        + (f" (seeds {', '.join(map(str, seeds))})" if seeds else "")
        + "; Welch over runs as in seed 003. Differences in AUROC points."
        + (f" One seed (left out of the paired tests): {', '.join(sorted(one))}." if one else "")
        + (f" Left out of Welch (fewer than 2 runs): {', '.join(sorted(left))}." if left else "")
    )
    header = [
        "Metric",
        "A",
        "B",
        "Mean A−B",
        "Paired t",
        "p",
        "p (BH)",
        "Sig.",
        "Welch t",
        "p",
        "p (BH)",
        "Sig.",
    ]
    return table(header, rows, notes, cap, numeric_from=3)


def _p(p: float) -> str:
    return "&lt; 1e-6" if p < 1e-6 else f"{p:.3g}"


def knee_section(stats: dict[str, Any], groups: list[str]) -> str:
    knee = stats["knee"]
    if isinstance(knee, NA):
        return f"<p class='na-block'>Knee point: n/a — {esc(knee.reason)}</p>"
    left = knee.get("left_out", [])
    png = figures.knee_figure(knee, stats["groups"], groups)
    notes = Notes()
    rows = [
        [
            esc(p["label"]),
            number(p["image_auroc"], notes, pct=True),
            fixed(p["inference_ms"], notes),
            "yes" if p["label"] in knee["front"] else "no",
            "<b>knee</b>" if p["label"] == knee["knee"] else "",
        ]
        for p in knee["points"]
    ]
    tab = table(
        ["Model", "Image AUROC (%)", "Inference (ms/img)", "On Pareto front", ""],
        rows,
        notes,
        "The knee is the front's run farthest above the line from the fastest to the most accurate "
        f"(seed 001's balanced, no-preference choice), among the models {esc(knee.get('rule', ''))}.",
    )
    if left:
        tab += (
            "<p class='na-block'>Left out of the front and the knee: "
            + "; ".join(f"<b>{esc(e['label'])}</b> ({esc(e['reason'])})" for e in left)
            + ".</p>"
        )
    return f'<div class="two-col"><div>{img_tag(png, "knee chart", "")}</div><div>{tab}</div></div>'


def robustness_table(records: list[dict], robust: dict[str, Any]) -> str:
    """Mean drop (baseline − augmented, AUROC points) per model and augmentation, image and pixel."""
    groups = _groups(records)
    names: list[tuple[str, str]] = []
    for r in records:
        rb = robust.get(r["run"])
        if isinstance(rb, dict):
            names = [(a["name"], a["label"]) for a in rb["augmentations"]]
            break
    notes = Notes()
    rows = []
    for label, rs in groups.items():
        for level in ("image", "pixel"):
            row = [f"{esc(label)}", level]
            base = [robust.get(r["run"]) for r in rs]
            bvals = [b["baseline"][f"{level}_auroc"] for b in base if isinstance(b, dict)]
            row.append(_mean_cell(bvals, notes, [b for b in base if isinstance(b, NA)]))
            for name, _ in names:
                vals = []
                for b in base:
                    if isinstance(b, dict):
                        vals += [a[f"{level}_drop"] for a in b["augmentations"] if a["name"] == name]
                row.append(_mean_cell(vals, notes, [b for b in base if isinstance(b, NA)], drop=True))
            rows.append(row)
    if not names:
        reasons = {b.reason for b in robust.values() if isinstance(b, NA)} or {"not computed"}
        return f"<p class='na-block'>Robustness: n/a — {esc('; '.join(sorted(reasons)))}</p>"
    cap = (
        "Clean test AUROC and its drop under each augmentation (AUROC points, mean ± std over seeds; "
        "positive = worse). Every test image augmented once, seeded; masks and ROI follow rotations."
    )
    return table(
        ["Model", "Level", "Clean AUROC", *[lbl for _, lbl in names]], rows, notes, cap, numeric_from=2
    )


def _mean_cell(values: list, notes: Notes, missing: list, drop: bool = False) -> str:
    good = [float(v) for v in values if isinstance(v, int | float)]
    if not good:
        reasons = [v.reason for v in values if isinstance(v, NA)] + [m.reason for m in missing]
        return notes.mark(reasons[0] if reasons else "not computed")
    m, s = 100 * float(np.mean(good)), 100 * (float(np.std(good, ddof=1)) if len(good) > 1 else 0.0)
    cls = " class='bad'" if drop and m > 1.0 else ""
    sign = "+" if drop and round(m, 1) > 0 else ""
    return f"<span{cls}>{sign}{fixed_text(m, 1)} ± {fixed_text(s, 1)}</span>"


def models_table(records: list[dict]) -> str:
    """Each model configuration with its runs, seeds and parameters (seed 000, table 3)."""
    notes = Notes()
    rows = []
    for label, rs in _groups(records).items():
        params = {k: v for k, v in rs[0]["params"].items() if k not in ("seed", "device")}
        shown = ", ".join(f"{k}={v}" for k, v in params.items() if v is not None)
        rows.append(
            [
                esc(label),
                esc(", ".join(r["run"] for r in rs)),
                esc(", ".join(str(r["seed"]) for r in rs)),
                f"<span class='params'>{esc(shown)}</span>",
            ]
        )
    return table(
        ["Model", "Runs", "Seeds", "Parameters"], rows, notes, "Model configurations.", numeric_from=9
    )
