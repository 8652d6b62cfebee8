"""Report figures as PNG bytes (matplotlib, Agg backend): ROC/PR curves, score histograms with the
threshold, worst false positives and negatives with heatmaps, the accuracy / speed knee chart and the
detection rates of synthetic defects."""

from __future__ import annotations

import io
from typing import Any

import cv2
import numpy as np

from workbench.jobs.evaluate_data import SplitData, as_rgb

DPI = 110
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
SEED_STYLES = ("-", "--", ":", "-.")


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # never a GUI backend: the report is written in jobs and worker processes
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {"font.size": 9, "axes.titlesize": 10, "axes.spines.top": False, "axes.spines.right": False}
    )
    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


def color_of(groups: list[str], label: str) -> str:
    return COLORS[groups.index(label) % len(COLORS)]


def _usable(data: SplitData) -> bool:
    return not np.isnan(data.scores).any() and data.labels.any() and (~data.labels).any()


def roc_pr_figure(records: list[dict], groups: list[str]) -> bytes | None:
    """ROC and precision-recall curves of every run of one view (colour = model, line = seed)."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    plt = _plt()
    fig, (ax_roc, ax_pr) = plt.subplots(1, 2, figsize=(10, 4))
    drawn = 0
    seen: dict[str, int] = {}
    for r in records:
        data: SplitData = r["_data"]["test"]
        if not _usable(data):
            continue
        k = seen.get(r["group"], 0)
        seen[r["group"]] = k + 1
        style = {"color": color_of(groups, r["group"]), "ls": SEED_STYLES[k % len(SEED_STYLES)], "lw": 1.4}
        label = f"{r['group']} seed {r['seed']}"
        fpr, tpr, _ = roc_curve(data.labels, data.scores)
        ax_roc.plot(fpr, tpr, label=label, **style)
        prec, rec, _ = precision_recall_curve(data.labels, data.scores)
        ax_pr.plot(rec, prec, label=label, drawstyle="steps-post", **style)
        drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ax_roc.plot([0, 1], [0, 1], color="#bbbbbb", lw=0.8)
    for ax, x, y, title in (
        (ax_roc, "False positive rate", "True positive rate", "ROC (image level)"),
        (ax_pr, "Recall", "Precision", "Precision-recall (image level)"),
    ):
        ax.set(xlabel=x, ylabel=y, title=title, xlim=(0, 1), ylim=(0, 1.02))
    ax_pr.legend(loc="lower left", fontsize=7, frameon=False)
    return _png(fig)


def histogram_figure(
    records: list[dict], groups: list[str], thresholds: list[tuple[float, str]]
) -> bytes | None:
    """Score histograms of normal vs defective test samples, one panel per run, with its threshold line."""
    plt = _plt()
    usable = [(r, t) for r, t in zip(records, thresholds) if not np.isnan(r["_data"]["test"].scores).any()]
    if not usable:
        return None
    cols = min(3, len(usable))
    rows = (len(usable) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.6 * rows), squeeze=False)
    for ax in axes.ravel()[len(usable) :]:
        ax.axis("off")
    for ax, (r, (thr, why)) in zip(axes.ravel(), usable):
        d: SplitData = r["_data"]["test"]
        bins = np.histogram_bin_edges(d.scores, bins=min(30, max(8, len(d.scores) // 3)))
        ax.hist(d.scores[~d.labels], bins=bins, color="#7f9fbf", alpha=0.75, label="normal")
        ax.hist(
            d.scores[d.labels], bins=bins, color=color_of(groups, r["group"]), alpha=0.6, label="defective"
        )
        if np.isfinite(thr):
            ax.axvline(thr, color="black", lw=1.2, ls="--", label=why)
        ax.set_title(f"{r['run']} · {r['group']} · seed {r['seed']}", fontsize=9)
        ax.set_xlabel("image score")
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return _png(fig)


def _overlay(image: np.ndarray, amap: np.ndarray, mask: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """RGB image with the anomaly map (jet, 45 %) blended on and the GT outline in green."""
    rgb = as_rgb(image).astype(np.float32)
    norm = np.clip((amap - lo) / max(hi - lo, 1e-12), 0, 1)
    heat = cv2.applyColorMap((norm * 255).astype(np.uint8), cv2.COLORMAP_JET)[:, :, ::-1].astype(np.float32)
    out = (0.55 * rgb + 0.45 * heat).astype(np.uint8)
    if mask.any():
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, (0, 255, 0), max(1, image.shape[0] // 150))
    return out


def worst_cases(data: SplitData, threshold: float, k: int = 4) -> tuple[list[int], list[int], str, str]:
    """Rows of the worst false positives and negatives at ``threshold`` and a caption for each.

    Worst FP: flagged normals, highest score first; worst FN: missed defectives, lowest score first. When
    there are none, the closest calls are shown instead and the caption says so.
    """
    s = data.scores
    normals = np.flatnonzero(~data.labels)
    defects = np.flatnonzero(data.labels)
    fp = [int(i) for i in normals[np.argsort(-s[normals])] if s[i] >= threshold][:k]
    fn = [int(i) for i in defects[np.argsort(s[defects])] if s[i] < threshold][:k]
    fp_cap = (
        f"False positives, worst first ({len(fp)} shown)"
        if fp
        else ("No false positive: the highest-scoring normal samples")
    )
    fn_cap = (
        f"False negatives, worst first ({len(fn)} shown)"
        if fn
        else ("No false negative: the lowest-scoring defective samples")
    )
    if not fp:
        fp = [int(i) for i in normals[np.argsort(-s[normals])][:k]]
    if not fn:
        fn = [int(i) for i in defects[np.argsort(s[defects])][:k]]
    return fp, fn, fp_cap, fn_cap


def worst_grid_figure(record: dict, project, threshold: float, k: int = 4) -> bytes | None:
    """Two rows of tiles (false positives, false negatives): image, heatmap and GT outline, score."""
    data: SplitData = record["_data"]["test"]
    if data.maps is None or np.isnan(data.scores).any() or not np.isfinite(threshold):
        return None
    fp, fn, fp_cap, fn_cap = worst_cases(data, threshold, k)
    if not fp and not fn:
        return None
    normal_px = np.concatenate([m.ravel() for m, y in zip(data.maps, data.labels) if not y] or [np.zeros(1)])
    all_px = np.concatenate([m.ravel() for m in data.maps])
    lo, hi = float(np.percentile(normal_px, 50)), float(np.percentile(all_px, 99.9))
    plt = _plt()
    cols = max(len(fp), len(fn), 1)
    h, w = data.maps[0].shape
    tile_w = min(1.9, 9.0 / cols)
    tile_h = tile_w * h / w + 0.5  # room for the two-line title
    fig = plt.figure(figsize=(tile_w * cols, 2 * tile_h + 1.1), layout="constrained")
    fig.suptitle(
        f"{record['run']} · {record['group']} · seed {record['seed']} · threshold {threshold:.3g}",
        fontsize=10,
        fontweight="bold",
    )
    for sub, idx, cap in zip(fig.subfigures(2, 1), (fp, fn), (fp_cap, fn_cap)):
        sub.suptitle(cap, fontsize=9, color="#1f3550", x=0.01, ha="left")
        axes = np.atleast_1d(sub.subplots(1, cols))
        for c, ax in enumerate(axes):
            ax.axis("off")
            if c >= len(idx):
                continue
            i = idx[c]
            sample = data.samples[i]
            img = project.sample_image(sample.id)
            ax.imshow(_overlay(img, data.maps[i], data.masks[i], lo, hi))
            kind = "synthetic " if sample.synthetic else ""
            ax.set_title(f"#{sample.id} {kind}{sample.label}\nscore {data.scores[i]:.3g}", fontsize=8)
    return _png(fig)


def knee_figure(knee: dict[str, Any], groups_stats: dict[str, Any], groups: list[str]) -> bytes:
    """Mean image AUROC against mean inference time per model, the Pareto front and the knee point."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.2, 3.8))
    pts = {p["label"]: p for p in knee["points"]}
    for label, p in pts.items():
        g = groups_stats[label]
        ys = g["test"]["image_auroc"]["std"]
        xs = g["timing"]["inference_ms_per_image"]["std"]
        ax.errorbar(
            p["inference_ms"],
            p["image_auroc"],
            xerr=xs,
            yerr=ys,
            fmt="o",
            ms=7,
            color=color_of(groups, label),
            capsize=3,
            label=label,
        )
    front = [pts[label] for label in knee["front"]]
    ax.plot(
        [p["inference_ms"] for p in front],
        [p["image_auroc"] for p in front],
        color="#999999",
        lw=1,
        ls="--",
        zorder=0,
        label="Pareto front",
    )
    kp = pts[knee["knee"]]
    ax.scatter(
        [kp["inference_ms"]],
        [kp["image_auroc"]],
        s=320,
        marker="*",
        color="gold",
        edgecolor="black",
        zorder=5,
        label=f"knee: {knee['knee']}",
    )
    ax.set(xlabel="inference time (ms / image, mean over seeds)", ylabel="image AUROC (mean over seeds)")
    ax.legend(fontsize=7, frameon=False, loc="best")
    ax.margins(x=0.25, y=0.25)
    ax.set_xlim(left=0)  # a time is never negative, even when a noisy std says otherwise
    return _png(fig)


SIZE_COLORS = ("#9ecae1", "#4292c6", "#08519c")


def detection_figure(panels: list[tuple[str, dict]], sizes: tuple[str, ...]) -> bytes | None:
    """Bars of the detection rate per defect type and size, one panel per (title, {(type, size): [hit, n]})."""
    if not panels:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 2.8), squeeze=False)
    width = 0.8 / len(sizes)
    for ax, (title, cells) in zip(axes.ravel(), panels):
        types = sorted({t for t, _ in cells if t != "all"})
        for k, size in enumerate(sizes):
            counts = [cells.get((t, size), [0, 0]) for t in types]
            xs = [i + (k - (len(sizes) - 1) / 2) * width for i in range(len(types))]
            rates = [100 * d / n if n else 0.0 for d, n in counts]
            bars = ax.bar(xs, rates, width, color=SIZE_COLORS[k % len(SIZE_COLORS)], label=size)
            for bar, (_, n) in zip(bars, counts):
                if n:  # how many defects the bar stands for
                    x = bar.get_x() + width / 2
                    ax.annotate(
                        str(n), (x, bar.get_height()), ha="center", va="bottom", fontsize=6, color="#555555"
                    )
        ax.set_xticks(range(len(types)), types, rotation=20, fontsize=8)
        ax.set(ylim=(0, 130), yticks=range(0, 101, 20), ylabel="detected (%)", title=title)
        ax.legend(fontsize=7, frameon=False, ncol=len(sizes), loc="upper left")
    fig.tight_layout()
    return _png(fig)
