"""The evaluation report: ``DIR/index.html``, one self-contained page (figures embedded as PNG data URIs).

Per view: seed 000's metric tables (mean ± std over seeds, validation in parentheses), every run,
operating points (seeds 002 and 003), the threshold policy, ROC/PR curves, score histograms with the
threshold, the worst false positives and negatives with heatmaps, size-aware misses, the detection
of synthetic defects per type and size ("what would this station miss?"), timings and memory, t-tests
with Benjamini-Hochberg, the knee chart (seed 001) and robustness drops. Every "n/a" carries its
reason as a footnote. The caller saves the project (evaluation may add results).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress, sub_progress
from workbench.jobs.evaluate import evaluate
from workbench.jobs.evaluate_data import EvaluationError
from workbench.jobs.evaluate_metrics import NA
from workbench.jobs.report import figures
from workbench.jobs.report.masking import masking_section
from workbench.jobs.report.page import cards, page
from workbench.jobs.report.rates import definitions, operating_table, policy_table, size_table
from workbench.jobs.report.sections import (
    IMAGE_COLS,
    PIXEL_COLS,
    SUBSET_COLS,
    img_tag,
    knee_section,
    models_table,
    robustness_table,
    run_table,
    seed_table,
    stats_tables,
    timing_table,
)
from workbench.jobs.report.sweep import sweep_sections
from workbench.jobs.report.synthetic import synthetic_section
from workbench.jobs.report.tables import esc
from workbench.jobs.robustness import robustness as run_robustness
from workbench.metrics.intervals import SMALL_VALIDATION_NORMALS

__all__ = ["write_report"]


def _threshold(record: dict) -> tuple[float, str]:
    pol = record.get("policy")
    if isinstance(pol, dict) and "threshold" in pol and pol.get("level") == "image":
        return float(pol["threshold"]), f"policy '{pol['name']}'"
    t = record["metrics"]["all"]["image_f1_threshold"]
    return (float("nan"), "") if isinstance(t, NA) else (float(t), "F1-max threshold")


def _first_per_group(records: list[dict]) -> list[dict]:
    seen: dict[str, dict] = {}
    for r in sorted(records, key=lambda r: (r["seed"] is None, r["seed"] or 0)):
        seen.setdefault(r["group"], r)
    return list(seen.values())


def _view_section(
    view: str, records: list[dict], stats: dict, robust: dict, policy: str | None, project, masking=None
) -> str:
    groups = list(dict.fromkeys(r["group"] for r in records))
    anchor = f"view-{view}"
    counts = records[0]["counts"]
    test, val = counts["test"], counts["val"]
    out = [f'<h2 id="{esc(anchor)}">View “{esc(view)}”</h2>']
    out.append(
        cards(
            [
                ("runs", str(len(records))),
                ("model configurations", str(len(groups))),
                ("test normal / defective", f"{test['normal']} / {test['defective']}"),
                ("of them synthetic", str(test["synthetic"])),
                (
                    "validation normal / defective",
                    (f"{val['normal']} / {val['defective']}" if val else "none")
                    + (
                        f"<br><span class='flag'>small validation: {val['normal'] if val else 0} normals "
                        f"(&lt; {SMALL_VALIDATION_NORMALS})</span>"
                        if not val or val["normal"] < SMALL_VALIDATION_NORMALS
                        else ""
                    ),
                ),
            ]
        )
    )
    out.append(models_table(records))
    out.append(f'<h3 id="{esc(anchor)}-metrics">Image-level metrics</h3>')
    out.append(
        seed_table(
            records,
            IMAGE_COLS,
            "Test split, mean ± std over seeds in %, validation in "
            "parentheses (seed 000, table 4). Precision, recall and FP share at each run's "
            "F1-max threshold. Best mean in bold.",
        )
    )
    out.append("<h3>Pixel-level metrics</h3>")
    out.append(
        seed_table(
            records,
            PIXEL_COLS,
            "Pixels inside the view's ROI, mean ± std over seeds in %, "
            "validation in parentheses (seed 000, table 6). AUPRO up to FPR 0.3, AUsPRO up to "
            "FPR 0.05; precision, recall, F1 and FP share at the IoU-maximizing threshold.",
        )
    )
    if any("real" in r["metrics"] for r in records):
        out.append("<h3>Real and synthetic defects apart</h3>")
        out.append(
            seed_table(
                records,
                SUBSET_COLS,
                "Real samples only (seed 000, tables 5 and 7), %.",
                with_val=False,
                where="real",
            )
        )
        out.append(
            seed_table(
                records,
                SUBSET_COLS,
                "Synthetic defects against all normal samples, %.",
                with_val=False,
                where="synthetic",
            )
        )
    out.append("<details open><summary>Every run</summary>" + run_table(records) + "</details>")
    out.append(f'<h3 id="{esc(anchor)}-ops">Operating points</h3>' + operating_table(records))
    if policy:
        out.append("<h3>Threshold policy</h3>" + policy_table(records, policy))
    if isinstance(masking, dict) and any(r["view"] == view for r in masking["rows"]):
        out.append(f'<h3 id="{esc(anchor)}-masking">Masked against unmasked runs</h3>')
        out.append(masking_section(masking, view))
    out.append(f'<h3 id="{esc(anchor)}-curves">ROC and precision-recall curves</h3>')
    out.append(
        img_tag(
            figures.roc_pr_figure(records, groups),
            f"ROC and PR curves of view {view}",
            "no run has both normal and defective test samples with finite scores",
        )
    )
    firsts = _first_per_group(records)
    thresholds = [_threshold(r) for r in firsts]
    out.append(
        "<h3>Score histograms</h3><p class='lead'>Test scores of normal and defective samples for the "
        "first seed of each model; the dashed line is the threshold the verdicts use.</p>"
    )
    out.append(
        img_tag(
            figures.histogram_figure(firsts, groups, thresholds),
            "score histograms",
            "every run has NaN scores",
        )
    )
    out.append(
        f'<h3 id="{esc(anchor)}-errors">Worst false positives and false negatives</h3>'
        "<p class='lead'>Anomaly map (jet, one colour scale per run) over the sample, GT defect outlined "
        "in green; first seed of each model, at the threshold above.</p>"
    )
    out.append('<div class="figs">')
    for r, (thr, _) in zip(firsts, thresholds):
        out.append(
            img_tag(
                figures.worst_grid_figure(r, project, thr),
                f"worst cases of {r['run']}",
                f"{r['run']}: no usable threshold or maps",
            )
        )
    out.append("</div>")
    out.append("<h3>Size-aware misses</h3>" + size_table(records))
    out.append(f'<h3 id="{esc(anchor)}-synthetic">What this station would miss</h3>')
    out.append(synthetic_section(records, firsts))
    out.append(f'<h3 id="{esc(anchor)}-timing">Timings and memory</h3>' + timing_table(records))
    out.append(f'<h3 id="{esc(anchor)}-stats">Statistics</h3>' + stats_tables(stats))
    out.append("<h3>Accuracy against inference time</h3>" + knee_section(stats, groups))
    out.append(f'<h3 id="{esc(anchor)}-robust">Robustness</h3>' + robustness_table(records, robust))
    return "".join(out)


def write_report(
    project,
    out_dir: str | os.PathLike,
    run_ids: list[str] | None = None,
    policy: str | None = None,
    robustness: bool | list[str] = True,
    robustness_seed: int = 0,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> Path:
    """Evaluate (reusing stored results), run robustness when asked, and write ``out_dir/index.html``.

    ``robustness``: True for every augmentation, a list of augmentation names, or False to skip.
    """
    names = list(robustness) if isinstance(robustness, list | tuple) else None
    evaluation = evaluate(
        project, run_ids, policy, keep_data=True, progress=sub_progress(progress, 0, 0.4), cancel=cancel
    )
    records = evaluation["runs"]
    robust: dict[str, Any] = {}
    for k, r in enumerate(records):
        if not robustness:
            robust[r["run"]] = NA("not computed: the report was written without robustness")
            continue
        part = sub_progress(progress, 0.4 + 0.4 * k / len(records), 0.4 + 0.4 * (k + 1) / len(records))
        try:
            robust[r["run"]] = run_robustness(
                project, r["run"], names, seed=robustness_seed, progress=part, cancel=cancel
            )
        except (EvaluationError, ValueError) as exc:
            robust[r["run"]] = NA(str(exc))
    progress(0.85, "writing figures")
    views = list(dict.fromkeys(r["view"] for r in records))
    body = []
    for view in views:
        cancel.raise_if_cancelled()
        vr = [r for r in records if r["view"] == view]
        body.append(
            _view_section(
                view, vr, evaluation["statistics"][view], robust, policy, project, evaluation.get("masking")
            )
        )
    masking = evaluation.get("masking")
    top = [
        '<h2 id="how">How this report counts</h2>'
        "<p class='lead'>Every rate comes with its 95 % interval in [brackets] and its count k/n; a red "
        "flag marks a threshold that rests on fewer normal samples than a defensible false-alarm rate needs."
        "</p>" + definitions()
    ]
    if isinstance(masking, dict):
        top.append('<h2 id="masking">Masking: ROI against the whole crop</h2>' + masking_section(masking))
    body = top + body
    nav = []
    for view in views:
        a = f"view-{view}"
        nav += (
            [
                ("how", "how it counts"),
                *([("masking", "masking")] if isinstance(evaluation.get("masking"), dict) else []),
                (a, view),
                (f"{a}-metrics", "metrics"),
                (f"{a}-curves", "curves"),
                (f"{a}-errors", "errors"),
                (f"{a}-stats", "statistics"),
                (f"{a}-robust", "robustness"),
            ]
            if len(views) == 1
            else [(a, view)]
        )
    body.append(sweep_sections(project, records, robust, nav))  # sweeps' own sections (jobs/report/sweep.py)
    subtitle = f"{esc(project.name)} · {len(records)} runs · {len(views)} view(s) · test split" + (
        f" · policy {esc(policy)}" if policy else ""
    )
    html = page(f"Evaluation report — {project.name}", subtitle, nav, "".join(body))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "index.html"
    tmp = out / ".index.html.tmp"
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, target)  # a reader never sees half a page
    progress(1.0, f"wrote {target}")
    return target
