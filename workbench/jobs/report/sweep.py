"""The report's sweep sections: for each sweep whose runs the report holds, what its protocol asks for.

* few-shot (seed 003, section 6.3): image and pixel AUROC against the number of training normals, the
  mean over seeds with its 95 % t-interval as a band, per view and model, and the table behind it;
* window size (seed 003, section 6.2): the same against the crop window;
* seed 001: per model, mean ± std over seeds with the interval, inference time, the mean robustness
  drop under the five augmentations, and the knee point of AUROC against inference time;
* any other sweep: mean ± std with the interval per configuration.

:func:`sweep_sections` is the one call the report makes; it adds its own entry to the navigation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from workbench.jobs.evaluate_metrics import NA
from workbench.jobs.report import figures
from workbench.jobs.report.sections import img_tag
from workbench.jobs.report.tables import Notes, esc, fixed_text, table

METRICS = (("image_auroc", "Image AUROC"), ("pixel_auroc", "Pixel AUROC"))
AUROC = (0.0, 1.0)


def interval(
    values: list[float], level: float = 0.95, bounds: tuple[float, float] | None = None
) -> dict[str, float] | None:
    """Mean, std and the t-interval of the mean over seeds: {'mean', 'std', 'n', 'low', 'high'}; with
    ``bounds`` the interval is cut to the values a metric can take (AUROC: 0..1; two seeds give a
    t-quantile of 12.7, an interval far wider than that)."""
    from scipy import stats

    v = np.asarray([x for x in values if math.isfinite(x)], dtype=float)
    if v.size == 0:
        return None
    mean = float(v.mean())
    if v.size == 1:
        return {"mean": mean, "std": 0.0, "n": 1, "low": mean, "high": mean}
    std = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, v.size - 1)) * std / math.sqrt(v.size)
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(bounds[0], low), min(bounds[1], high)
    return {"mean": mean, "std": std, "n": int(v.size), "low": low, "high": high}


def _metric(record: dict, key: str) -> float:
    v = record["metrics"]["all"].get(key)
    return float(v) if isinstance(v, int | float) and not isinstance(v, NA) else float("nan")


def _digits(std_pct: float) -> int:
    """Decimals that keep a spread over seeds visible: 1, or up to 3 when the std is below 0.1 %
    (pixel AUROC near 100 % would otherwise read '100.0 ± 0.0' while the seeds differ)."""
    if not std_pct > 0 or std_pct >= 0.1:
        return 1
    return int(min(3, math.ceil(-math.log10(std_pct))))


def _cell(s: dict | None, notes: Notes) -> str:
    if s is None:
        return notes.mark("no run of this configuration has a value")
    d = _digits(100 * s["std"])
    text = f"{fixed_text(100 * s['mean'], d)} ± {fixed_text(100 * s['std'], d)}"
    if s["n"] > 1:
        text += (
            f' <span class="dim">[{fixed_text(100 * s["low"], d)}, {fixed_text(100 * s["high"], d)}]</span>'
        )
    return text + f' <span class="dim">n={s["n"]}</span>'


def _rows(project, records: list[dict], sid: str) -> list[dict]:
    """The report's records of sweep ``sid``, with the sweep's facts: base view, group, n_train, window."""
    views = project.views
    out = []
    for r in records:
        meta = project.run(r["run"]).meta
        sw = meta.get("sweep")
        if not isinstance(sw, dict) or sw.get("id") != sid:
            continue
        view = views.get(r["view"])
        vmeta = view.meta if view is not None else {}
        base = vmeta.get("window_of", r["view"])
        crop = (view.crop.h, view.crop.w) if view is not None else (0, 0)
        out.append(
            {
                **r,
                "base": base,
                "sweep_group": sw.get("group", r["model"]),
                "n_train": meta.get("n_train"),
                "crop": crop,
            }
        )
    return out


def _strip(group: str, word: str) -> str:
    """'patchcore (n_train=5, x=1)' without the ``word=...`` part: the curve a point belongs to."""
    if "(" not in group:
        return group
    name, inner = group.split(" (", 1)
    parts = [p for p in inner.rstrip(")").split(", ") if not p.startswith(f"{word}=")]
    return name + (f" ({', '.join(parts)})" if parts else "")


def _curves(rows: list[dict], xkey, word: str) -> dict[str, dict[str, dict[Any, dict]]]:
    """{base view: {curve label: {x: interval per metric}}}."""
    acc: dict[str, dict[str, dict[Any, dict[str, list[float]]]]] = {}
    for r in rows:
        x = xkey(r)
        per = acc.setdefault(r["base"], {}).setdefault(_strip(r["sweep_group"], word), {}).setdefault(x, {})
        for key, _ in METRICS:
            per.setdefault(key, []).append(_metric(r, key))
    return {
        v: {
            c: {x: {k: interval(vals, bounds=AUROC) for k, vals in m.items()} for x, m in sorted(pts.items())}
            for c, pts in cs.items()
        }
        for v, cs in acc.items()
    }


def curve_figure(
    curves: dict[str, dict[Any, dict]], xlabel: str, log_x: bool, ticks: dict | None = None
) -> bytes | None:
    """Mean over seeds with its 95 % interval as a band, image and pixel AUROC side by side."""
    plt = figures._plt()
    from matplotlib.ticker import NullLocator

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    drawn = 0
    labels = list(curves)
    for ax, (key, title) in zip(axes, METRICS):
        lo_all: list[float] = []
        hi_all: list[float] = []
        for label, pts in curves.items():
            xs = [x for x, m in pts.items() if m.get(key)]
            if not xs:
                continue
            mean = np.array([pts[x][key]["mean"] for x in xs])
            low = np.array([pts[x][key]["low"] for x in xs])
            high = np.array([pts[x][key]["high"] for x in xs])
            xv = np.array([float(x) for x in xs])
            color = figures.color_of(labels, label)
            ax.plot(xv, mean, "o-", color=color, label=label, lw=1.6, ms=4)
            ax.fill_between(xv, low, high, color=color, alpha=0.18, lw=0)
            drawn += 1
            lo_all.append(float(np.nanmin(low)))
            hi_all.append(float(np.nanmax(high)))
        if lo_all:
            # AUROC lives in [0, 1]: never a tick above 1, a little room below the lowest band
            lo, hi = min(lo_all), min(1.0, max(hi_all))
            pad = max(0.01, 0.1 * (hi - lo))
            bottom, top = max(0.0, lo - pad), min(1.0 + pad / 4, hi + pad)
            ax.set_ylim(bottom, top)
            ax.set_yticks([t for t in ax.get_yticks() if bottom - 1e-9 <= t <= 1.0 + 1e-9])
            ax.set_ylim(bottom, top)
        if log_x:
            ax.set_xscale("log")
        if ticks:
            ax.set_xticks(list(ticks), [ticks[t] for t in ticks])
        elif log_x:
            xs_all = sorted({float(x) for pts in curves.values() for x in pts})
            ax.set_xticks(xs_all, [f"{x:g}" for x in xs_all])
        if log_x:  # only the measured points are labelled; a log axis would add '3x10^4' between them
            ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel(xlabel)
        ax.set_ylabel(title)
        ax.set_title(f"{title}: mean over seeds, 95 % interval")
        ax.grid(alpha=0.3)
    if not drawn:
        plt.close(fig)
        return None
    axes[0].legend(fontsize=8, loc="lower right")
    return figures._png(fig)


def _curve_table(curves: dict[str, dict[Any, dict]], xname: str, fmt) -> str:
    notes = Notes()
    rows = []
    for label, pts in curves.items():
        for x, m in pts.items():
            rows.append([esc(label), esc(fmt(x)), *[_cell(m.get(k), notes) for k, _ in METRICS]])
    return table(
        ["Model", xname, *[f"{t} (%)" for _, t in METRICS]],
        rows,
        notes,
        "Mean ± std over seeds in %, the 95 % t-interval of the mean in brackets, n = seeds.",
        numeric_from=2,
    )


def _fewshot(rows: list[dict]) -> str:
    out = []
    for view, curves in _curves(rows, lambda r: int(r["n_train"]), "n_train").items():
        out.append(f"<h3>Few-shot curve, view “{esc(view)}”</h3>")
        out.append(
            "<p class='lead'>Detection against the number of normal training images (seed 003, section 6.3): "
            "each point is the mean over seeds of runs trained on that many normals drawn with the seed "
            "(nested: a larger set adds images to a smaller one); the band is the 95 % interval of the mean.</p>"
        )
        png = curve_figure(curves, "normal training images", log_x=True)
        out.append(img_tag(png, f"few-shot curve of view {view}", "no run has an AUROC"))
        out.append(_curve_table(curves, "Training normals", str))
    return "".join(out)


def _window(rows: list[dict]) -> str:
    out = []
    for view, curves in _curves(rows, lambda r: r["crop"][0] * r["crop"][1], "window").items():
        sizes = {
            r["crop"][0] * r["crop"][1]: f"{r['crop'][1]}×{r['crop'][0]}" for r in rows if r["base"] == view
        }
        out.append(f"<h3>Window size, view “{esc(view)}”</h3>")
        out.append(
            "<p class='lead'>Detection against the crop window around the same centre (seed 003, section 6.2): "
            "smaller windows are cut from the view's samples, with the ROI and zones moved alike.</p>"
        )
        png = curve_figure(curves, "crop window (px)", log_x=True, ticks=sizes)
        out.append(img_tag(png, f"window-size curve of view {view}", "no run has an AUROC"))
        out.append(_curve_table(curves, "Window (px)", lambda a, sizes=sizes: sizes.get(a, str(a))))
    return "".join(out)


def _models(rows: list[dict], robust: dict[str, Any], with_robustness: bool) -> str:
    from workbench.metrics import knee_point, pareto_front

    out = []
    for view in dict.fromkeys(r["base"] for r in rows):
        groups: dict[str, list[dict]] = {}
        for r in rows:
            if r["base"] == view:
                groups.setdefault(r["sweep_group"], []).append(r)
        notes = Notes()
        table_rows, pts = [], []
        augs: list[tuple[str, str]] = []
        for rs in groups.values():
            for r in rs:
                rb = robust.get(r["run"])
                if isinstance(rb, dict) and not augs:
                    augs = [(a["name"], a["label"]) for a in rb["augmentations"]]
        for label, rs in groups.items():
            stats = {k: interval([_metric(r, k) for r in rs], bounds=AUROC) for k, _ in METRICS}
            ms = [r["timings"].get("inference_ms_per_image") for r in rs]
            ms = [float(x) for x in ms if isinstance(x, int | float) and not isinstance(x, NA)]
            speed = float(np.mean(ms)) if ms else float("nan")
            if stats["image_auroc"] and math.isfinite(speed):
                pts.append((label, stats["image_auroc"]["mean"], speed))
            row = [
                esc(label),
                *[_cell(stats[k], notes) for k, _ in METRICS],
                fixed_text(speed, 1) if ms else notes.mark("no inference time"),
            ]
            for name, _ in augs if with_robustness else []:
                drops = []
                for r in rs:
                    rb = robust.get(r["run"])
                    if isinstance(rb, dict):
                        a = next((a for a in rb["augmentations"] if a["name"] == name), None)
                        if a is not None and isinstance(a["image_drop"], int | float):
                            drops.append(float(a["image_drop"]))
                row.append(
                    fixed_text(100 * float(np.mean(drops)), 1)
                    if drops
                    else notes.mark("robustness not computed")
                )
            table_rows.append(row)
        knee_text = ""
        if len(pts) >= 2:
            acc, t = np.array([p[1] for p in pts]), np.array([p[2] for p in pts])
            front = [pts[i][0] for i in pareto_front(acc, t)]
            knee = pts[knee_point(acc, t)][0]
            for row in table_rows:
                name = row[0]
                mark = (
                    " <b>knee</b>"
                    if name == esc(knee)
                    else (" (Pareto front)" if name in map(esc, front) else "")
                )
                row[0] = name + mark
            knee_text = (
                f"<p>Knee point (seed 001): <b>{esc(knee)}</b> — the best trade-off between mean image AUROC "
                f"and mean inference time among {len(pts)} configurations; Pareto front: {esc(', '.join(front))}.</p>"
            )
        header = ["Model", *[f"{t} (%)" for _, t in METRICS], "Inference (ms/img)"]
        header += [f"Drop: {lab}" for _, lab in augs] if with_robustness else []
        out.append(f"<h3>Models over seeds, view “{esc(view)}”</h3>")
        out.append(
            table(
                header,
                table_rows,
                notes,
                "Mean ± std over seeds in %, 95 % t-interval in brackets; drops are image AUROC points lost "
                "under each augmentation (baseline − augmented, mean over seeds).",
            )
        )
        out.append(knee_text)
    return "".join(out)


def sweep_sections(project, records: list[dict], robust: dict[str, Any], nav: list[tuple[str, str]]) -> str:
    """HTML of every sweep section for the report's ``records`` (appends its navigation entry)."""
    sweeps = project.meta.get("sweeps") or {}
    parts = []
    for sid, rec in sweeps.items():
        rows = _rows(project, records, sid)
        if not rows:
            continue
        spec = rec.get("spec", {})
        done, total = len(rec.get("cells", {})), rec.get("total", len(rec.get("cells", {})))
        kind = (
            "few-shot"
            if spec.get("n_train")
            else "window size"
            if spec.get("windows")
            else (spec.get("preset") or "grid")
        )
        short = sid.removeprefix("sweep-")  # ids read 'sweep-<hash>'
        head = (
            f'<h2 id="sweep-{esc(short)}">Sweep {esc(short)} ({esc(kind)})</h2>'
            f"<p class='lead'>Sweep id {esc(sid)} (the same <code>workbench sweep</code> command continues it). Models {esc(', '.join(spec.get('models', [])))}; seeds "
            f"{esc(', '.join(map(str, spec.get('seeds', []))))}; {done} of {total} cells done"
            + (
                f"; {len(rec.get('skipped', {}))} skipped ({esc(next(iter(rec['skipped'].values())))})"
                if rec.get("skipped")
                else ""
            )
            + ".</p>"
        )
        if spec.get("n_train"):
            body = _fewshot(rows)
        elif spec.get("windows"):
            body = _window(rows)
        else:
            body = _models(rows, robust, bool(spec.get("robustness")))
        parts.append(head + body)
        nav.append((f"sweep-{short}", f"sweep {kind}"))
    return "".join(parts)
