"""How much a run's image and pixel AUROC drop on seeded, augmented copies of its test split.

Augmentations are those of :mod:`workbench.core.augment` (defocus, brightness/contrast, ISO noise,
rotation, Gaussian noise; seed 001 and 003 ranges), each applied alone to every test image with its
seed. Geometric steps move the GT mask and the ROI with the image. Each augmentation's scores are stored
as a result marked ``meta["augmentation"]`` with its AUROCs, so a second call (or the report) reuses
them; the run is never re-trained. The caller saves the project.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.core.augment import AUGMENTATIONS, LABELS, augmenter_for
from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress, sub_progress
from workbench.jobs.evaluate_data import AUGMENTATION_KEY, as_rgb, ensure_split, load_model, predict_images
from workbench.jobs.evaluate_metrics import NA, attempt, nan_reason
from workbench.metrics import auroc, pixel_auroc


def augment_split(images, masks, roi, name: str, seed: int):
    """Augmented images, masks and per-image ROIs (geometric steps move masks and ROI alike)."""
    aug = augmenter_for([name], 1.0, seed)
    out_i, out_m, out_r = [], [], []
    for img, m in zip(images, masks):
        r = np.ones(m.shape, bool) if roi is None else roi
        # One label image carries the mask (bit 0) and the ROI (bit 1) through the same nearest-neighbour
        # warp, so both follow the image exactly; pixels warped in from outside get 0 (outside the ROI).
        packed = (m.astype(np.uint8) | (r.astype(np.uint8) << 1)).astype(np.uint8)
        a_img, a_packed = aug.augment(as_rgb(img), packed)
        out_i.append(a_img)
        out_m.append((a_packed & 1) > 0)
        out_r.append((a_packed & 2) > 0)
    return out_i, out_m, out_r


def _value(v: Any) -> Any:
    return {"na": v.reason} if isinstance(v, NA) else float(v)


def _restore(v: Any) -> Any:
    return NA(v["na"]) if isinstance(v, dict) else float(v)


def _aurocs(scores, labels, maps, masks, rois, pixel_keep) -> tuple[Any, Any]:
    if np.isnan(scores).any():
        na = NA(f"NaN scores on {int(np.isnan(scores).sum())} augmented images")
        return na, na
    img = attempt(auroc, labels, scores)
    keep = np.flatnonzero(pixel_keep)
    if not pixel_keep[labels].any():
        return img, NA("no defective test sample has a GT mask")
    pix = attempt(pixel_auroc, [masks[i] for i in keep], [maps[i] for i in keep], [rois[i] for i in keep])
    return img, pix


def robustness(
    project,
    run_id: str,
    augmentations: tuple[str, ...] | list[str] | None = None,
    seed: int = 0,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
) -> dict[str, Any]:
    """{"run", "seed", "baseline": {image_auroc, pixel_auroc}, "augmentations": [{name, ..., drops}]}.

    A drop is baseline minus augmented (positive = worse). Stored results for the same augmentation,
    seed and test samples are reused.
    """
    names = list(augmentations or AUGMENTATIONS)
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation(s) {unknown}; expected some of {', '.join(AUGMENTATIONS)}")
    test = ensure_split(project, run_id, "test", progress=sub_progress(progress, 0.0, 0.1), cancel=cancel)
    pixel_keep = ~test.labels | test.has_gt
    roi_list = [np.ones(m.shape, bool) if test.roi is None else test.roi for m in test.masks]
    reason = nan_reason(test) or nan_reason(test, maps=True)
    if reason:
        base_img = base_pix = NA(reason)
    else:
        base_img, base_pix = _aurocs(test.scores, test.labels, test.maps, test.masks, roi_list, pixel_keep)
    stored = {
        r.meta[AUGMENTATION_KEY]: r
        for r in project.results(run_id=run_id)
        if r.meta.get(AUGMENTATION_KEY) and r.meta.get("aug_seed") == seed and r.sample_ids == test.ids
    }
    model = None
    rows = []
    for k, name in enumerate(names):
        cancel.raise_if_cancelled()
        part = sub_progress(progress, 0.1 + 0.9 * k / len(names), 0.1 + 0.9 * (k + 1) / len(names))
        if name in stored:
            img, pix = _restore(stored[name].meta["image_auroc"]), _restore(stored[name].meta["pixel_auroc"])
        else:
            if model is None:
                model = load_model(project, run_id)
            images = [project.sample_image(i) for i in test.ids]
            a_img, a_masks, a_rois = augment_split(images, test.masks, test.roi, name, seed)
            scores, maps, _ = predict_images(model, a_img, part, cancel)
            img, pix = _aurocs(scores, test.labels, maps, a_masks, a_rois, pixel_keep)
            cancel.raise_if_cancelled()
            meta = {
                AUGMENTATION_KEY: name,
                "aug_seed": seed,
                "split": "test",
                "image_auroc": _value(img),
                "pixel_auroc": _value(pix),
            }
            project.add_result(run_id, test.ids, scores, None, meta=meta)
        rows.append(
            {
                "name": name,
                "label": LABELS[name],
                "image_auroc": img,
                "pixel_auroc": pix,
                "image_drop": _drop(base_img, img),
                "pixel_drop": _drop(base_pix, pix),
            }
        )
    return {
        "run": run_id,
        "seed": seed,
        "baseline": {"image_auroc": base_img, "pixel_auroc": base_pix},
        "augmentations": rows,
    }


def _drop(base: Any, value: Any) -> Any:
    if isinstance(base, NA):
        return NA(f"no baseline: {base.reason}")
    if isinstance(value, NA):
        return value
    return float(base) - float(value)
