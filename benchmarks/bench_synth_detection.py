"""Benchmark: does PatchCore detect synthetic bead defects as often as the demo video's rendered ones? One JSON line.

On a demo station (built here with ``--passes`` and ``--defect-rate``, or ``--station DIR``), PatchCore
with its default parameters is trained per view on the normal training samples (ROI dilated by its
margin, as ``workbench train`` does). Each view's threshold comes from normal images only: a
false-alarm rate of at most ``--max-fpr`` on its good validation samples (``fit_policy``). Rendered
defects are the defective validation and test samples, with their type from the renderer's truth file
and their size class from the GT mask's share of the sample. For every rendered defect, ``--per-rendered``
synthetic defects of the same type and the same area (within 20 %) are drawn on good test samples of
the same view (held out from training and from the threshold), so both kinds have the same size
distribution. A defect counts as detected when its image score reaches the view's threshold.

The line holds, per defect type and size class, the detection rate of rendered and synthetic defects and
their gap in points, with two graded measures beside it (the median score over the threshold, and the
mean share of each defect's mask where the map reaches a pixel threshold at ``--max-fpr-pixel`` on the
same normals), the per-type AUROC of each kind against the view's good test samples, the largest gap
over the cells with at least ``--min-n`` rendered defects, and the detection rate of synthetic defects
drawn at each requested size class (``--per-class`` per type, class and view), where the renderer has
no counterpart.

    .venv/bin/python benchmarks/bench_synth_detection.py [--station DIR] [--passes 200] [--defect-rate 0.5]
        [--max-fpr 0.05] [--per-rendered 3] [--sheet sheet.png]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from sklearn.metrics import roc_auc_score

from workbench.jobs.evaluate_data import load_model, predict_images, view_roi
from workbench.jobs.synthesize import view_bead
from workbench.jobs.train import train_views
from workbench.metrics.policy import fit_policy
from workbench.project import Project
from workbench.synth.bead import fit_bead
from workbench.synth.bead_defects import BEAD_TYPES
from workbench.synth.defects import SIZE_CLASSES, size_class, synthesize_one
from workbench.synth.placement import PlacementError

AREA_TOLERANCE = 1.2  # a synthetic defect's area lies within this factor of its rendered twin's


def station(args) -> Path:
    """A private copy of the demo station to train in (the given folder's, or one built here)."""
    work = Path(tempfile.mkdtemp(prefix="bench_synth_det_"))
    if args.station:
        src = Path(args.station)
    else:
        from workbench.jobs.demo import build_demo_station

        src = work / "demo"
        build_demo_station(src, passes=args.passes, defect_rate=args.defect_rate, seed=args.seed)
    for name in ("station.awb", "truth.json"):
        shutil.copy(src / name, work / name)
    shutil.copytree(src / "station.awb.d", work / "station.awb.d")
    return work


def rendered_types(project: Project, truth: dict) -> dict[int, str]:
    """{sample id: defect type} of the defective samples, from the renderer's truth (one defect per view)."""
    out = {}
    for s in project.samples(label="defective"):
        tp = next((p for p in truth["passes"] if p["first_frame"] <= s.frame <= p["last_frame"]), None)
        kinds = [d["type"] for d in (tp or {}).get("defects", []) if d["view"] == s.view]
        if len(kinds) == 1:
            out[s.id] = kinds[0]
    return out


def synthetic_twins(
    project, view, rendered, per: int, rng
) -> list[tuple[str, float, np.ndarray, np.ndarray]]:
    """(type, area share, image, mask) of ``per`` synthetic defects per rendered (type, share), on good test samples."""
    sources = [s for s in project.samples(view=view.name, split="test", label="good") if not s.synthetic]
    bead, _ = view_bead(project, view, sources)
    fitted: dict[int, tuple] = {}
    out = []
    for kind, share in rendered:
        for _ in range(per):
            src = sources[int(rng.integers(len(sources)))]
            if src.id not in fitted:
                img = project.sample_image(src.id)
                fitted[src.id] = (img, fit_bead(img, bead))
            img, b = fitted[src.id]
            band = (share / AREA_TOLERANCE, min(share * AREA_TOLERANCE, 0.5))
            try:
                made = synthesize_one(img, b, kind, size_class(share), rng, roi=view.roi, area_range=band)
            except PlacementError:
                continue
            out.append((kind, float((made.mask > 0).mean()), made.image, made.mask))
    return out


def measure(model, images, masks, thr: float, thr_px: float, roi) -> list[dict]:
    """Per defect image: its score, whether it reaches ``thr``, score / ``thr``, and the share of its mask
    whose map reaches the pixel threshold ``thr_px`` (how much of the defect the map shows)."""
    if not images:
        return []
    scores, maps, _ = predict_images(model, images)
    out = []
    for x, m, mask in zip(scores, maps, masks):
        inside = (mask > 0) & (roi if roi is not None else True)
        cover = float((m[inside] >= thr_px).mean()) if inside.any() else 0.0
        out.append({"score": float(x), "hit": bool(x >= thr), "margin": float(x) / thr, "coverage": cover})
    return out


def summary(items: list[dict]) -> dict:
    """n, detected, detection rate, median score / threshold and mean share of the mask the map flags."""
    if not items:
        return {"n": 0, "detected": 0, "rate": None}
    hits = [d["hit"] for d in items]
    return {
        "n": len(items),
        "detected": int(sum(hits)),
        "rate": round(float(np.mean(hits)), 3),
        "score_over_threshold": round(float(np.median([d["margin"] for d in items])), 2),
        "mask_flagged": round(float(np.mean([d["coverage"] for d in items])), 3),
    }


def by_class(project, view, per: int, rng) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(type, requested size, image, mask) of ``per`` synthetic defects per bead type and size class."""
    sources = [s for s in project.samples(view=view.name, split="test", label="good") if not s.synthetic]
    bead, _ = view_bead(project, view, sources)
    out = []
    for kind in BEAD_TYPES:
        for size in SIZE_CLASSES:
            for _ in range(per):
                img = project.sample_image(sources[int(rng.integers(len(sources)))].id)
                try:
                    made = synthesize_one(img, fit_bead(img, bead), kind, size, rng, roi=view.roi)
                except PlacementError:
                    continue
                out.append((kind, size, made.image, made.mask))
    return out


def contact_sheet(rows: list[tuple[str, np.ndarray, np.ndarray]], path: Path) -> None:
    """Rows of labelled crops (160 x 120 around each mask), written as a PNG (samples are RGB)."""
    tiles = []
    for label, image, mask in rows:
        ys, xs = np.nonzero(mask)
        h, w = mask.shape
        y0 = int(np.clip(ys.mean() - 60, 0, h - 120))
        x0 = int(np.clip(xs.mean() - 80, 0, w - 160))
        crop = image[y0 : y0 + 120, x0 : x0 + 160].copy()
        cnt, _ = cv2.findContours(
            (mask[y0 : y0 + 120, x0 : x0 + 160] > 0).astype(np.uint8),
            cv2.RETR_EXTERNAL,
            cv2.CHAIN_APPROX_NONE,
        )
        outlined = crop.copy()
        cv2.drawContours(outlined, cnt, -1, (255, 0, 0), 1)
        tile = cv2.resize(np.hstack([crop, outlined]), None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
        cv2.putText(tile, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 0), 1, cv2.LINE_AA)
        tiles.append(tile)
    cols = 3
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % cols)
    grid = np.vstack([np.hstack(tiles[i : i + cols]) for i in range(0, len(tiles), cols)])
    cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--station", default=None, help="a demo station folder (station.awb, truth.json)")
    ap.add_argument("--passes", type=int, default=200)
    ap.add_argument("--defect-rate", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--max-fpr", type=float, default=0.05, help="image false-alarm rate on validation normals"
    )
    ap.add_argument("--max-fpr-pixel", type=float, default=0.001, help="pixel false-alarm rate, same normals")
    ap.add_argument("--per-rendered", type=int, default=3)
    ap.add_argument(
        "--per-class", type=int, default=3, help="synthetic defects per type, size class and view"
    )
    ap.add_argument("--min-n", type=int, default=5, help="rendered defects a cell needs to count in the gap")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--sheet", default=None, help="write a contact sheet of both kinds here (PNG)")
    args = ap.parse_args()
    t_start = time.perf_counter()
    work = station(args)
    project = Project.open(work / "station.awb")
    truth = json.loads((work / "truth.json").read_text())
    kinds = rendered_types(project, truth)
    t0 = time.perf_counter()
    runs = dict(zip(sorted(project.views), train_views(project, "patchcore", device=args.device)["runs"]))
    train_s = time.perf_counter() - t0
    rng = np.random.default_rng(args.seed)
    found: dict[tuple[str, str, str], list[dict]] = defaultdict(list)  # (rendered|synthetic, type, size)
    requested: dict[tuple[str, str], list[dict]] = defaultdict(list)  # (type, requested size)
    auc: dict[tuple[str, str], list[float]] = defaultdict(list)  # (kind, type) -> AUROC per view
    fpr, sheet = {}, []
    for name, view in project.views.items():
        model = load_model(project, runs[name])
        good = {sp: project.samples(view=name, split=sp, label="good") for sp in ("val", "test")}
        val_scores, val_maps, _ = predict_images(model, [project.sample_image(s.id) for s in good["val"]])
        thr = fit_policy("false_alarm_rate", scores=val_scores, max_fpr=args.max_fpr).threshold
        h, w = val_maps[0].shape
        roi = view_roi(project, name, h, w)
        thr_px = fit_policy(
            "false_alarm_rate",
            maps=val_maps,
            views=[name] * len(val_maps),
            roi=None if roi is None else {name: roi},
            max_fpr=args.max_fpr_pixel,
        ).threshold
        fpr[name] = round(float(np.mean(val_scores >= thr)), 3)
        normals = [
            float(x) for x in predict_images(model, [project.sample_image(s.id) for s in good["test"]])[0]
        ]
        bad = [s for sp in ("val", "test") for s in project.samples(view=name, split=sp, label="defective")]
        bad = [s for s in bad if s.id in kinds]
        masks = [project.gt_mask(s.id) for s in bad]
        rendered = [(kinds[s.id], float((m > 0).mean())) for s, m in zip(bad, masks)]
        images = [project.sample_image(s.id) for s in bad]
        twins = synthetic_twins(project, view, rendered, args.per_rendered, rng)
        for kind, items, scored in (
            ("rendered", rendered, measure(model, images, masks, thr, thr_px, roi)),
            ("synthetic", [x[:2] for x in twins], measure(model, *_columns(twins), thr, thr_px, roi)),
        ):
            per_type: dict[str, list[float]] = defaultdict(list)
            for (t, a), d in zip(items, scored):
                found[kind, t, size_class(a)].append(d)
                per_type[t].append(d["score"])
            for t, pos in per_type.items():
                auc[kind, t].append(roc_auc_score([0] * len(normals) + [1] * len(pos), normals + pos))
        made = by_class(project, view, args.per_class, rng)
        for (t, size, *_), d in zip(made, measure(model, *_columns(made, 2), thr, thr_px, roi)):
            requested[t, size].append(d)
        if args.sheet:
            sheet += [
                (f"rendered {t} {100 * a:.1f}%", im, m) for (t, a), im, m in zip(rendered, images, masks)
            ][:4]
            sheet += [(f"synthetic {t} {100 * a:.1f}%", im, m) for t, a, im, m in twins[:4]]
    rows, gaps = [], []
    for t in BEAD_TYPES:
        for size in SIZE_CLASSES:
            r, s = summary(found["rendered", t, size]), summary(found["synthetic", t, size])
            if not r["n"] and not s["n"]:
                continue
            gap = round(100 * abs(r["rate"] - s["rate"]), 1) if r["n"] and s["n"] else None
            rows.append({"type": t, "size": size, "rendered": r, "synthetic": s, "gap_points": gap})
            if gap is not None and r["n"] >= args.min_n:
                gaps.append((gap, t, size))
    by_type = {}
    for t in BEAD_TYPES:
        entry = {}
        for kind in ("rendered", "synthetic"):
            items = [d for size in SIZE_CLASSES for d in found[kind, t, size]]
            entry[kind] = {
                **summary(items),
                "auroc": round(float(np.mean(auc[kind, t])), 3) if auc[kind, t] else None,
            }
        both = entry["rendered"]["n"] and entry["synthetic"]["n"]
        entry["gap_points"] = (
            round(100 * abs(entry["rendered"]["rate"] - entry["synthetic"]["rate"]), 1) if both else None
        )
        by_type[t] = entry
    largest = max(gaps, default=None)
    if args.sheet:
        contact_sheet(sheet, Path(args.sheet))
    print(
        json.dumps(
            {
                "benchmark": "synth_detection",
                "passes": args.passes if not args.station else None,
                "defect_rate": args.defect_rate if not args.station else None,
                "max_fpr": args.max_fpr,
                "max_fpr_pixel": args.max_fpr_pixel,
                "val_fpr": fpr,
                "per_rendered": args.per_rendered,
                "rows": rows,
                "by_type": by_type,
                "largest_gap": {"points": largest[0], "type": largest[1], "size": largest[2]}
                if largest
                else None,
                "within_15_points": bool(largest is None or largest[0] <= 15),
                "synthetic_by_requested_size": {
                    t: {size: summary(requested[t, size]) for size in SIZE_CLASSES} for t in BEAD_TYPES
                },
                "train_seconds": round(train_s, 1),
                "seconds": round(time.perf_counter() - t_start, 1),
            }
        )
    )
    project.close()
    shutil.rmtree(work, ignore_errors=True)


def _columns(made: list[tuple], first: int = 2) -> tuple[list, list]:
    """The (images, masks) columns of (…, image, mask) records whose image sits at index ``first``."""
    return [x[first] for x in made], [x[first + 1] for x in made]


if __name__ == "__main__":
    main()
