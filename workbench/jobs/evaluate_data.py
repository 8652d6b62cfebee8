"""A run's scores, anomaly maps and ground truth on one split: predicted once with the stored weights, then reused.

Scores are gathered per sample from every stored result of the run (robustness results, which score
augmented copies, are left out); only samples without a stored score (or map) are predicted, with the
run's stored weights (never re-trained), and stored as one new result whose meta says the split and the
measured inference time. The caller saves the project.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from workbench.core.progress import (
    NEVER_CANCEL,
    CancelToken,
    ProgressFn,
    no_progress,
    phase_progress,
    sub_progress,
)
from workbench.core.view_roi import effective_roi
from workbench.core.working import to_rgb8
from workbench.jobs.run_model import load_model
from workbench.project.types import RunInfo, SampleInfo

PREDICT_BATCH = 8
AUGMENTATION_KEY = "augmentation"  # result meta key marking scores of augmented copies


class EvaluationError(ValueError):
    """Raised when a project cannot be evaluated as asked (no test split, unknown run, ...)."""


@dataclass
class SplitData:
    """Everything the metrics need for one run on one split, in sample-id order.

    ``labels`` (N,) bool (True = defective); ``masks`` one (H, W) bool per sample (all False for normal
    samples and for defective samples without a GT mask, see ``has_gt``); ``maps`` one (H, W) float32
    per sample or None when maps were not asked for; ``roi`` the view's dilated ROI (H, W) bool or None.
    """

    run: RunInfo
    split: str
    samples: list[SampleInfo]
    scores: np.ndarray
    labels: np.ndarray
    synthetic: np.ndarray
    has_gt: np.ndarray
    masks: list[np.ndarray]
    maps: list[np.ndarray] | None
    roi: np.ndarray | None
    result_ids: list[str]
    predicted: int
    inference_ms: float | None
    defects_config: list[dict] | None = None  # the project's per-defect-type saturations (LOCO format)
    normals_available: int | None = None  # normal samples the split holds (``limit`` may have taken fewer)

    @property
    def ids(self) -> list[int]:
        return [s.id for s in self.samples]

    def subset(self, keep: np.ndarray) -> SplitData:
        """The same data restricted to the samples where ``keep`` (N,) bool is True."""
        idx = np.flatnonzero(keep)
        return SplitData(
            run=self.run,
            split=self.split,
            samples=[self.samples[i] for i in idx],
            scores=self.scores[idx],
            labels=self.labels[idx],
            synthetic=self.synthetic[idx],
            has_gt=self.has_gt[idx],
            masks=[self.masks[i] for i in idx],
            maps=None if self.maps is None else [self.maps[i] for i in idx],
            roi=self.roi,
            result_ids=self.result_ids,
            predicted=self.predicted,
            inference_ms=self.inference_ms,
            defects_config=self.defects_config,
            normals_available=self.normals_available,
        )


UNTYPED = "untyped"


def defect_type(sample: SampleInfo) -> str:
    """A defective sample's type: the synthetic defect's, else the imported folder's, else 'untyped'."""
    meta = sample.meta or {}
    syn = meta.get("synthetic") if sample.synthetic else None
    if isinstance(syn, dict) and syn.get("type"):
        return str(syn["type"])
    return str(meta.get("defect_type") or UNTYPED)


def labelled_samples(project, view: str, split: str) -> list[SampleInfo]:
    """Samples of a view and split labelled good or defective (unknown labels cannot be scored)."""
    return [s for s in project.samples(view=view, split=split) if s.label in ("good", "defective")]


def run_masking(run: RunInfo) -> str:
    """'none' for a run trained without the view's ROI (``train --no-roi``): its pixel metrics count
    every pixel; else 'roi'."""
    return "none" if (run.meta or {}).get("masking") == "none" else "roi"


def view_roi(project, view: str, height: int, width: int) -> np.ndarray | None:
    """The view's ROI dilated by its margin, (H, W) bool, or None when the view has no ROI."""
    info = project.views.get(view)
    roi = None if info is None else effective_roi(info, (height, width))
    return None if roi is None else roi > 0


def as_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a sample image in any accepted format: the models' one conversion step."""
    return to_rgb8(image, "sample image")


def predict_memory_bytes(model, images: list[np.ndarray], keep_maps: bool = True) -> int:
    """Memory a prediction of ``images`` adds to the loaded model: the float32 maps it keeps for every image
    (with ``keep_maps``), one batch's maps and RGB copies and, for the memory-bank models, the planner's
    predict peak of one batch (the trained models' planner probes by training a step: too slow to run
    before every prediction)."""
    if not images:
        return 0
    areas = [int(im.shape[0]) * int(im.shape[1]) for im in images]
    kept = sum(areas) if keep_maps else max(areas) * PREDICT_BATCH
    need = 4 * kept + 3 * max(areas) * PREDICT_BATCH
    name = getattr(model, "name", "")
    try:
        from workbench.models.plan import BASE_RSS_BYTES, MEMORY_MODELS, plan_fit

        if name in MEMORY_MODELS:
            largest = images[int(np.argmax(areas))].shape
            plan = plan_fit(
                name, model.get_params(), 1, [tuple(largest)], n_predict=PREDICT_BATCH, available=0, timed=False
            )  # fmt: skip
            need += max(0, plan.peak_ram_bytes - BASE_RSS_BYTES)
    except Exception:  # noqa: BLE001 - a model the planner cannot size: the maps and copies alone
        pass
    return int(need)


def check_predict_memory(
    model, images: list[np.ndarray], available: int | None = None, keep_maps: bool = True
) -> None:
    """Refuse, before any work, a prediction that would not fit in the free memory (estimate and a hint)."""
    from workbench.core.resources import available_ram_bytes

    need = predict_memory_bytes(model, images, keep_maps)
    free = available_ram_bytes() if available is None else available
    if free is not None and need > free:
        per = max(1, need // max(1, len(images)))
        raise ValueError(
            f"predicting {len(images)} images with {getattr(model, 'name', 'the model')} would need about "
            f"{need / 2**30:.1f} GB of memory and {free / 2**30:.1f} GB is free; predict at most "
            f"{max(0, free // per)} at a time or use a smaller working size"
        )


def predict_images(
    model,
    images: list[np.ndarray],
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
    keep_maps: bool = True,
) -> tuple[np.ndarray, list[np.ndarray], float]:
    """Scores (N,), maps [(H, W)] (empty without ``keep_maps``) and the mean inference time in ms per
    image, in batches; refused before any work when the maps and one batch would not fit in the free memory."""
    check_predict_memory(model, images, keep_maps=keep_maps)
    n = len(images)
    phase = phase_progress(progress, "predict", n)  # its own count and time left (CLI and GUI show them)
    scores, maps = [], []
    elapsed, timed = 0.0, 0
    for start in range(0, len(images), PREDICT_BATCH):
        cancel.raise_if_cancelled()
        batch = [as_rgb(im) for im in images[start : start + PREDICT_BATCH]]
        t0 = time.perf_counter()
        part = sub_progress(phase, start / n, (start + len(batch)) / n)
        s, m = model.predict(batch, progress=part, cancel=cancel)
        # The first batch pays for lazy set-up (backbone, caches): left out of the time when others follow.
        if start > 0 or len(images) <= PREDICT_BATCH:
            elapsed += time.perf_counter() - t0
            timed += len(batch)
        scores.append(np.asarray(s, dtype=np.float32).reshape(-1))
        if keep_maps:
            maps.extend(np.asarray(x, dtype=np.float32) for x in m)
        phase(min(1.0, (start + len(batch)) / n), f"predicted {start + len(batch)}/{n}")
    return np.concatenate(scores), maps, 1000.0 * elapsed / max(1, timed)


def _stored(project, run_id: str) -> dict[int, tuple[str, int]]:
    """sample id -> (result id, row) of the newest stored plain (not augmented) result holding it."""
    where: dict[int, tuple[str, int]] = {}
    for res in project.results(run_id=run_id):
        if res.meta.get(AUGMENTATION_KEY):
            continue
        for row, sid in enumerate(res.sample_ids):
            where[sid] = (res.id, row)  # later results win: they were computed with the same weights
    return where


def _read_stored(project, ids, where, with_maps):
    """Scores and maps of the samples that a stored result holds; a result without maps counts as missing."""
    from workbench.project import DamagedError, ProjectError

    by_result: dict[str, list[int]] = {}
    for sid in ids:
        if sid in where:
            by_result.setdefault(where[sid][0], []).append(sid)
    score_of: dict[int, float] = {}
    map_of: dict[int, np.ndarray] = {}
    for rid, sids in by_result.items():
        if with_maps:
            try:
                map_of.update(zip(sids, project.result_maps(rid, sids)))
            except DamagedError:
                raise  # damaged stored maps are reported, never silently predicted anew
            except ProjectError:
                continue  # scores only: predict these samples again to get their maps
        all_scores = project.result_scores(rid)
        for sid in sids:
            score_of[sid] = float(all_scores[where[sid][1]])
    return score_of, map_of


# Thresholds from training normals (a view without validation normals) rest on at most this many of them,
# spread over the split: their scores only set the thresholds at TNR 0.99 / 0.95 / 0.90 (and the record
# says how many), while each costs a full prediction (500 training images of 1130x460 took longer to
# score than the fit and the test predictions together).
THRESHOLD_TRAIN_NORMALS = 100


def spread(items: list, limit: int | None) -> list:
    """At most ``limit`` of ``items``, evenly spaced from first to last (all when ``limit`` is None)."""
    if limit is None or len(items) <= limit:
        return list(items)
    if limit <= 1:
        return list(items[:limit])
    picks = sorted({round(k * (len(items) - 1) / (limit - 1)) for k in range(limit)})
    return [items[i] for i in picks]


def ensure_split(
    project,
    run_id: str,
    split: str = "test",
    with_maps: bool = True,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER_CANCEL,
    models: dict | None = None,
    predict: bool = True,
    limit: int | None = None,
) -> SplitData:
    """The run's data on ``split`` of its view, predicting (and storing) only what is missing.

    ``limit``: at most that many of the split's samples, spread evenly over it (the same ones every time).
    ``models`` (run id -> loaded model) lets several calls share one loaded model. Raises
    EvaluationError when the view has no labelled sample in that split, and, with ``predict`` False
    (the GUI, which never runs a model in its own process), when a sample has no stored score or map.
    """
    run = project.run(run_id)
    samples = labelled_samples(project, run.view, split)
    if not samples:
        raise EvaluationError(
            f"run {run_id} (view '{run.view}'): the {split} split holds no sample labelled good or defective; "
            f"assign a {split} split first (workbench samples / splits)"
        )
    normals_available = sum(s.label == "good" for s in samples)
    samples = spread(samples, limit)
    ids = [s.id for s in samples]
    score_of, map_of = _read_stored(project, ids, _stored(project, run_id), with_maps)
    missing = [i for i in ids if i not in score_of]
    if missing and not predict:
        what = "score or map" if with_maps else "score"
        raise EvaluationError(
            f"run {run_id} has no stored {what} for {len(missing)} {split} sample(s) of view '{run.view}' "
            f"(first: {missing[0]}); score them with `workbench eval` and open the station again"
        )
    predicted, ms = 0, None
    result_ids = {r.id for r in project.results(run_id=run_id) if not r.meta.get(AUGMENTATION_KEY)}
    if missing:
        cancel.raise_if_cancelled()
        progress(0.0, f"{run_id}: loading weights")
        models = {} if models is None else models
        if run_id not in models:
            models[run_id] = load_model(project, run_id)
        model = models[run_id]
        images = [project.sample_image(i) for i in missing]
        scores, maps, ms = predict_images(model, images, progress, cancel, keep_maps=with_maps)
        cancel.raise_if_cancelled()  # nothing is stored when cancelled
        # Without ``with_maps`` only the scores are stored (a later call asking for maps predicts again).
        rid = project.add_result(
            run_id, missing, scores, maps if with_maps else None,
            meta={"split": split, "inference_ms_per_image": ms},
        )  # fmt: skip
        result_ids.add(rid)
        stored_scores = project.result_scores(rid)
        score_of.update(zip(missing, (float(x) for x in stored_scores)))
        # Read back what was stored (float16 maps) so a first and a later evaluation agree exactly.
        if with_maps:
            map_of.update(zip(missing, project.result_maps(rid)))
        predicted = len(missing)
    if ms is None:
        ms = next(
            (
                float(r.meta["inference_ms_per_image"])
                for r in reversed(project.results(run_id=run_id))
                if "inference_ms_per_image" in r.meta
            ),
            None,
        )
    masks, has_gt = [], []
    for s in samples:
        gt = project.gt_mask(s.id) if s.label == "defective" else None
        has_gt.append(gt is not None and bool(np.any(gt)))
        masks.append(np.zeros((s.height, s.width), bool) if gt is None else gt > 0)
    return SplitData(
        run=run,
        split=split,
        samples=samples,
        scores=np.array([score_of[i] for i in ids], dtype=np.float64),
        labels=np.array([s.label == "defective" for s in samples]),
        synthetic=np.array([bool(s.synthetic) for s in samples]),
        has_gt=np.array(has_gt),
        masks=masks,
        maps=[map_of[i] for i in ids] if with_maps else None,
        roi=None
        if run_masking(run) == "none"
        else view_roi(project, run.view, samples[0].height, samples[0].width),
        result_ids=sorted(result_ids),
        predicted=predicted,
        inference_ms=ms,
        defects_config=project.meta.get("defects_config"),
        normals_available=normals_available,
    )
