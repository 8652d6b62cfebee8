"""The metrics the window shows of new runs: each run's image AUROC, AP and best F1 on its stored test
scores, with its timings, computed on the I/O thread and written as one line per run."""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.gui.runs import sig


def run_metrics(project: Any, run_ids: list[str]) -> list[dict]:
    """Each run's image AUROC, AP and best F1 on its stored test scores, with its timings (I/O thread)."""
    from workbench.jobs.evaluate_data import ensure_split
    from workbench.metrics import auroc, average_precision, f1_max

    rows = []
    for rid in run_ids:
        run = project.run(rid)
        row: dict[str, Any] = {
            "run": rid,
            "view": run.view,
            "train_seconds": run.meta.get("train_seconds"),
            "ms_per_image": run.meta.get("inference_ms_per_image"),
        }
        try:
            data = ensure_split(project, rid, "test", with_maps=False, predict=False)
            y, s = np.asarray(data.labels, bool), np.asarray(data.scores, float)
            row.update(n_test=int(y.size), n_defective=int(y.sum()))
            if y.any() and (~y).any():
                row.update(auroc=auroc(y, s), ap=average_precision(y, s), f1=f1_max(y, s).value)
            else:
                row["note"] = "the test split needs normal and defective samples for these metrics"
        except Exception as exc:  # noqa: BLE001 - say why there are no metrics, keep the others
            row["note"] = str(exc)
        rows.append(row)
    return rows


def metrics_html(rows: list[dict]) -> str:
    """One line per run (rich text): its test metrics and timings, three significant digits."""
    lines = []
    for r in rows:
        bits = [f"<b>{r['run']}</b> · {r['view']}"]
        for key, name in (("auroc", "image AUROC"), ("ap", "AP"), ("f1", "best F1")):
            if r.get(key) is not None:
                bits.append(f"{name} {sig(r[key])}")
        if r.get("n_test"):
            bits.append(f"on {r['n_test']} test samples ({r['n_defective']} defective)")
        if r.get("note"):
            bits.append(r["note"])
        if r.get("train_seconds") is not None:
            bits.append(f"fit {sig(r['train_seconds'])} s")
        if r.get("ms_per_image") is not None:
            bits.append(f"{sig(r['ms_per_image'])} ms per image")
        lines.append(" · ".join(bits))
    return "<br>".join(lines)
