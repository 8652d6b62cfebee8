"""Plans before a fit: predicted wall time and peak memory, the working size and the training budget.

``plan_fit(model, params, n_train, image_shapes, n_predict)`` predicts what fitting ``model`` on
``n_train`` images and then predicting ``n_predict`` will take on this machine, now: wall seconds
and peak RAM (and GPU memory). ``plan_train`` does the same for a train job and decides what the
defaults leave open, within a time budget (``DEFAULT_BUDGET_S``, 10 minutes):

* the working size of the models that work at the images' own size by default (PatchCore, PaDiM):
  kept when it fits the budget, memory and ``MAX_CELLS`` (finer grids did not detect better, see
  README), else the largest aspect-keeping size that does (the plan says so);
* the training time of a trained model that has no ``time_budget_s`` of its own: the budget less
  the predictions;
* refusal (:class:`PlanError`) of an explicit setting whose fit would not fit in memory, naming the
  estimate and a working size that would.

Time (PatchCore, PaDiM) is CPU seconds from measured work, turned into wall seconds for this machine
now (:mod:`workbench.models.speed`): the model's own steps probed at the real working size on a
batch like the images (CPU and wall per image: the probe's wall already holds the load and the
threads' efficiency), the coreset's and the search's multiply-adds at the measured one-thread BLAS
rate times factors measured on real fits, the one-thread coreset slowed by the share of a core the
1-minute load average leaves. Sizes above ``MAX_CELLS`` are never probed. ``timed=False`` plans memory
only (no probe). Memory comes from counting what the fit holds at its peak (backbone sizes from the
meta device, no weights). Qt-free: the Train step shows the same plan.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from workbench.core.resources import available_ram_bytes as system_ram_bytes
from workbench.models import registry, speed

DEFAULT_BUDGET_S = 600.0  # a train job's default time budget (fit and its test predictions), per view
# Feature cells per image beyond which a native-size default is scaled down. Measured on 500 + 200
# magnetic_tile images of 1130 x 460 (README): finer grids did not detect better (image / pixel AUROC
# 0.941 / 0.853 at 256 x 256, 1,024 cells; 0.934 / 0.856 at 424 x 176, 1,166; 0.932 / 0.854 at
# 496 x 200, 1,550), while fit and search time grow with the cells (the search with their square).
# 2,000 keeps the demo station's views (up to 1,850 cells) at their own size. On undistorted rows of
# tiles (benchmarks/real_size_data.py layout="tiled") 496 x 200 beat both 256 x 256 and the native
# 1130 x 460 grid (README table).
MAX_CELLS = 2_000
BASE_RSS_BYTES = 600 * 2**20  # a process with torch, OpenCV, h5py and a backbone loaded
F32 = 4
MEMORY_MODELS = ("patchcore", "padim")  # whose fit is a pass over the images (planned in detail)


class PlanError(ValueError):
    """A fit that cannot run as asked (would not fit in memory); the message gives a setting that would."""


@dataclass(frozen=True)
class Plan:
    """What a fit (and its predictions) will take: seconds, peak bytes, the parameters it will run with."""

    model: str
    n_train: int
    n_predict: int
    image_shape: tuple[int, int]  # the images' (H, W) (the most common one when they differ)
    working_size: tuple[int, int]
    fit_s: float
    predict_s: float  # all n_predict images
    peak_ram_bytes: int
    peak_gpu_bytes: int
    available_ram_bytes: int
    params: dict[str, Any] = field(default_factory=dict)  # every parameter the fit will run with
    notes: tuple[str, ...] = ()
    budget_s: float | None = None
    chosen: dict[str, Any] = field(default_factory=dict)  # the parameters the planner set (plan_train)
    # CPU seconds (all threads) of the fit and the predictions, when the model's time is modelled
    # from measured work (PatchCore, PaDiM): the wall seconds above are these at the parallelism the
    # work gets now (``load``: the 1-minute load average when planned, None where unknown).
    fit_cpu_s: float | None = None
    predict_cpu_s: float | None = None
    load: float | None = None
    # Fit and predictions on this machine when nothing else runs: what a working size is chosen by, so
    # the default does not depend on what else ran when planning (None: as total_s).
    free_total_s: float | None = None

    @property
    def total_s(self) -> float:
        return self.fit_s + self.predict_s

    @property
    def fits_memory(self) -> bool:
        return self.peak_ram_bytes <= self.available_ram_bytes

    def describe(self) -> str:
        """Lines for a person: what runs, how long it should take and how much memory it needs."""
        h, w = self.working_size
        line = (
            f"plan: {self.model} at {w}x{h} on {self.n_train} images: fit ~{_duration(self.fit_s)}"
            + (f", predict {self.n_predict} ~{_duration(self.predict_s)}" if self.n_predict else "")
            + f"; peak memory ~{_gib(self.peak_ram_bytes)} of {_gib(self.available_ram_bytes)} available"
        )
        if self.peak_gpu_bytes:
            line += f", GPU ~{_gib(self.peak_gpu_bytes)}"
        if self.fit_cpu_s is not None and self.load is not None:
            line += f" (machine load {self.load:.1f} when planned"
            if self.free_total_s is not None and not math.isnan(self.free_total_s):
                line += f"; ~{_duration(self.free_total_s)} in all on a free machine"
            line += ")"
        return "\n".join([line, *(f"plan: {n}" for n in self.notes)])

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["total_s"] = self.total_s
        out["fits_memory"] = self.fits_memory
        return out


def _duration(s: float) -> str:
    if math.isnan(s):
        return "? (not timed)"
    s = max(0.0, float(s))
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{s / 3600:.1f} h"


def _gib(b: float) -> str:
    return f"{b / 2**30:.1f} GB"


def available_ram_bytes() -> int:
    """RAM this process could still take (:func:`workbench.core.resources.available_ram_bytes`; 8 GB when
    unknown)."""
    return system_ram_bytes() or 8 * 2**30  # no way to know: assume a modest workstation


# -- measurements of this machine --------------------------------------------------------------
@lru_cache(maxsize=8)
def _meta_extractor(backbone: str, layers: tuple[str, ...]) -> Any:
    from workbench.models.backbones import FeatureExtractor

    with torch.device("meta"):
        return FeatureExtractor(backbone, layers, pretrained=False)


@lru_cache(maxsize=64)
def _profile(backbone: str, layers: tuple[str, ...], size: tuple[int, int]) -> dict[str, Any]:
    """Backbone weights bytes, largest activation, stored outputs (elements, one image), channels, grids."""
    fe = _meta_extractor(backbone, tuple(layers))
    params = sum(p.numel() for name, p in fe.net.named_parameters() if fe._needed(name))
    largest = 0

    def hook(_module, _inputs, output):
        nonlocal largest
        if isinstance(output, torch.Tensor):
            largest = max(largest, output.numel())

    handles = [m.register_forward_hook(hook) for m in fe.net.modules() if not list(m.children())]
    with torch.no_grad():
        outs = fe(torch.empty(1, 3, *size, device="meta"))
    for h in handles:
        h.remove()
    return {
        "weights": params * F32,
        "largest_activation": largest,
        "outputs": sum(o.numel() for o in outs),
        "channels": sum(o.shape[1] for o in outs),
        "grid": tuple(int(v) for v in outs[0].shape[-2:]),
    }


def refresh_measurements() -> None:
    """Forget this machine's measured speeds (the next plan measures again, e.g. after the load changed)."""
    speed.forget()


# Measured factors (benchmarks/bench_real_size.py, magnetic_tile at 1130 x 460, EfficientNet-Lite0):
# CPU seconds of the greedy coreset over its dense multiply-adds (chunk rows x picks x dimensions) at
# the one-thread BLAS rate (candidate rounds, pruning tests and argmax passes cost more than the
# products that pruning saves), and of the exact search over its (queries x bank x dimensions): on a
# quiet 2-core machine (bench_real_size, 100 / 250 / 500 training images of 1130 x 460) a prediction's
# CPU seconds grew with the bank 2.3x faster than 1.5 said (its threads wait on memory); 1.5 had been
# fitted on a machine loaded 7-19.
CORESET_FACTOR = 2.6
SEARCH_FACTOR = 3.4
# What torch's threads give together on a free machine, per thread (convolutions and products on
# 2 threads: an assumption until bench_real_size measures it on a quiet machine).
THREAD_EFFICIENCY = 0.85


def _timing(
    forward_cpu: float,
    forward_wall: float,
    serial_cpu: float,
    threaded_cpu: float,
    parallelism: float,
    load: float | None,
) -> tuple[float, float, float]:
    """(CPU s, wall s now, wall s on this machine when free) of a fit or predict: now, the probed forward
    as measured, one-thread work at the share of a core the load leaves, torch's threaded work at the
    probe's parallelism; free, the threaded CPU seconds on all of torch's threads (at
    ``THREAD_EFFICIENCY``) and the one-thread work on a core of its own."""  # fmt: skip
    cpu = forward_cpu + serial_cpu + threaded_cpu
    wall = forward_wall + serial_cpu / speed.serial_share(load) + threaded_cpu / parallelism
    free = (forward_cpu + threaded_cpu) / (THREAD_EFFICIENCY * speed.threads()) + serial_cpu
    return cpu, wall, free


# -- per model ----------------------------------------------------------------------------------
def _resolved(model_name: str, params: dict[str, Any]) -> dict[str, Any]:
    model = registry.create(model_name, **params)
    model.check_params()
    return model.get_params()


def _patchcore(p: dict[str, Any], n: int, size, n_predict: int, shape, channels_in: int, timed=True):
    prof = _profile(p["backbone"], tuple(p["layers"]), size)
    dim = min(int(p["embed_dim"]), prof["channels"])
    cells = prof["grid"][0] * prof["grid"][1]
    batch = int(p["batch_size"])
    total = n * cells
    k = max(1, int(round(total * float(p["coreset_ratio"]))))
    chunk = min(total, int(p["chunk_patches"]))
    n_chunks = math.ceil(total / chunk)
    chunk = math.ceil(total / n_chunks)  # the coreset's equal chunks
    over = 1.5 if n_chunks > 1 else 1.0
    proj = dim if p.get("projection_dim") is None else min(dim, int(p["projection_dim"]))
    # Time: the model's own steps probed at this size (embedding, and for predictions the tail), the
    # greedy per chunk on one thread (its dense multiply-adds: rows x picks x dimensions, plus the
    # projection when it applies), the exact search on torch's threads.
    fit = pred = (math.nan, math.nan, math.nan)
    if timed:
        probe = speed.probe_patch_forward(
            p["backbone"], tuple(p["layers"]), int(p["patch_size"]), int(p["embed_dim"]),
            (*shape, channels_in) if channels_in > 1 else shape, size, max(1, min(batch, n, 4)), float(p["sigma"]),
        )  # fmt: skip
        rate = speed.blas_rate(1)
        picks = min(chunk, math.ceil(over * k / n_chunks))
        greedy_macs = n_chunks * chunk * picks * proj + (total * dim * proj if proj < dim else 0)
        load = speed.others_load()  # what else runs: the load less this process
        fit = _timing(
            n * probe["embed_cpu"], n * probe["embed_wall"], CORESET_FACTOR * greedy_macs / rate, 0.0,
            probe["parallelism"], load,
        )  # fmt: skip
        search = SEARCH_FACTOR * cells * max(0, k - probe["bank_rows"]) * dim / rate
        per_image = (probe["embed_cpu"] + probe["tail_cpu"], probe["embed_wall"] + probe["tail_wall"])
        pred = _timing(
            n_predict * per_image[0], n_predict * per_image[1], 0.0, n_predict * search, probe["parallelism"], load
        )  # fmt: skip
    # Memory: images as given plus their RGB copies, the backbone and one batch's activations and
    # embeddings, the coreset's chunk (buffer, projected and reordered copies) and its selection.
    image_bytes = _images_bytes(n, shape, channels_in)
    forward = batch * (4 * prof["largest_activation"] + prof["outputs"]) * F32
    embed = batch * cells * (2 * prof["channels"] + 2 * dim) * F32
    greedy = chunk * (dim + 2 * proj + 6) * F32 + 8192 * 2048 * F32
    # The chunks' selections, in one store that finish() compacts in place into the bank.
    selection = math.ceil(over * k) * (dim + 3) * F32
    fit_peak = BASE_RSS_BYTES + image_bytes + prof["weights"] + forward + embed + greedy + selection
    # Predict: the bank twice (state and forward), distance blocks, maps at the images' size.
    pred_images = _images_bytes(n_predict, shape, channels_in)
    maps = n_predict * shape[0] * shape[1] * F32
    predict_peak = (
        BASE_RSS_BYTES + image_bytes + pred_images + maps + 2 * k * dim * F32 + 2 * 2**24 * F32
        + prof["weights"] + forward + embed
    )  # fmt: skip
    return fit, pred, max(fit_peak, predict_peak), cells


def _padim(p: dict[str, Any], n: int, size, n_predict: int, shape, channels_in: int, timed=True):
    prof = _profile(p["backbone"], tuple(p["layers"]), size)
    d = min(int(p["n_features"]), prof["channels"])
    cells = prof["grid"][0] * prof["grid"][1]
    batch = int(p["batch_size"])
    fit = pred = (math.nan, math.nan, math.nan)
    if timed:
        probe = speed.probe_patch_forward(
            p["backbone"], tuple(p["layers"]), 1, None, (*shape, channels_in) if channels_in > 1 else shape,
            size, max(1, min(batch, n, 4)), float(p["sigma"]),
        )  # fmt: skip
        rate = speed.blas_rate(1)
        load = speed.others_load()  # what else runs: the load less this process
        # Sums of outer products per image, then one inverse per cell; predictions: two products per cell.
        fit = _timing(
            n * probe["embed_cpu"], n * probe["embed_wall"], cells * d**3 / rate, n * cells * d * d / rate,
            probe["parallelism"], load,
        )  # fmt: skip
        per_image = (probe["embed_cpu"] + probe["tail_cpu"], probe["embed_wall"] + probe["tail_wall"])
        pred = _timing(
            n_predict * per_image[0], n_predict * per_image[1], 0.0, n_predict * 2 * cells * d * d / rate,
            probe["parallelism"], load,
        )  # fmt: skip
    forward = batch * (4 * prof["largest_activation"] + prof["outputs"]) * F32
    embed = batch * cells * 3 * prof["channels"] * F32
    stats = cells * (d * d + d) * 8 * 3  # float64 sums, covariance, inverse
    image_bytes = _images_bytes(n, shape, channels_in)
    fit_peak = BASE_RSS_BYTES + image_bytes + prof["weights"] + forward + embed + stats
    maps = n_predict * shape[0] * shape[1] * F32
    predict_peak = (
        BASE_RSS_BYTES + image_bytes + _images_bytes(n_predict, shape, channels_in) + maps
        + 2 * cells * d * d * F32 + prof["weights"] + forward + embed + batch * cells * d * d * F32
    )  # fmt: skip
    return fit, pred, max(fit_peak, predict_peak), cells


def _images_bytes(n: int, shape: tuple[int, int], channels_in: int) -> int:
    # Images held as read, plus the RGB copies the one conversion makes of non-RGB ones.
    extra = 0 if channels_in == 3 else 3
    return int(n * shape[0] * shape[1] * (channels_in + extra))


def _trained(model_name: str, p: dict[str, Any], n: int, size, n_predict: int, shape, channels_in: int):
    """Trained models: time from their budget (or iterations at a measured step), memory from a probe."""
    from workbench.models.probe import probe_trained

    configured = registry.create(model_name, **p)._configured_size()  # a schedule's size; None: native
    probe = probe_trained(model_name, p, size if configured is None else None)
    size = probe["working_size"]
    iters = probe["max_iters"](n)
    budget = probe["time_budget_s"]
    loop_s = iters * probe["step_s"]
    # the loop on this machine when free: the step's CPU seconds on all of torch's threads (the same
    # recipe is a fixed amount of work; only its wall time changes with the load)
    loop_free = iters * probe["step_cpu_s"] / (THREAD_EFFICIENCY * speed.threads())
    if budget is not None:
        loop_s, loop_free = min(loop_s, float(budget)), min(loop_free, float(budget))
    fit_s = probe["prepare_s_per_image"] * n + loop_s
    predict_s = n_predict * probe["predict_s_per_image"]
    free = probe["prepare_s_per_image"] * n + loop_free + predict_s
    image_bytes = _images_bytes(n, shape, channels_in)
    work = n * size[0] * size[1] * (3 + 1)  # working images and valid masks
    peak = BASE_RSS_BYTES + image_bytes + work + probe["train_bytes"] + probe["cache_bytes_per_image"] * n
    maps = n_predict * shape[0] * shape[1] * F32
    peak = max(peak, BASE_RSS_BYTES + image_bytes + maps + probe["predict_bytes"])
    return fit_s, predict_s, int(peak), size, free


def can_plan(model_name: str) -> bool:
    """Whether plans exist for ``model_name`` (the memory-bank models and every TrainedModel)."""
    from workbench.models.trained import TrainedModel

    return model_name in MEMORY_MODELS or issubclass(registry.get(model_name), TrainedModel)


def plan_fit(
    model_name: str,
    params: dict[str, Any] | None,
    n_train: int,
    image_shapes: list[tuple[int, ...]] | tuple[int, ...],
    n_predict: int = 0,
    available: int | None = None,
    timed: bool = True,
) -> Plan:
    """The plan of fitting ``model_name`` with ``params`` on ``n_train`` images of ``image_shapes``
    ((H, W[, C]) each, or one shape for all) and predicting ``n_predict`` like them.

    ``timed`` False: memory only (PatchCore, PaDiM), without probing the machine; the times are NaN,
    as they are for a fit that would not fit in ``available`` memory (never probed)."""
    shape, channels_in, sizes = _shapes(image_shapes)
    p = _resolved(model_name, dict(params or {}))
    size = _working_size(p, shape, sizes)
    on_gpu = _on_gpu(p)
    available = int(available if available is not None else available_ram_bytes())
    cpu: tuple[float | None, float | None] = (None, None)
    free = None
    if model_name in MEMORY_MODELS:
        of = _patchcore if model_name == "patchcore" else _padim
        if timed and not on_gpu:  # a fit that would not fit is never probed (the probe could not either)
            timed = of(p, n_train, size, n_predict, shape, channels_in, False)[2] <= available
        (fit_cpu, fit_s, fit_free), (pred_cpu, predict_s, pred_free), peak, _ = of(
            p, n_train, size, n_predict, shape, channels_in, timed
        )
        cpu = (float(fit_cpu), float(pred_cpu))
        free = float(fit_free + pred_free)
    else:
        fit_s, predict_s, peak, size, free = _trained(
            model_name, p, n_train, size, n_predict, shape, channels_in
        )
    gpu = 0
    if on_gpu:  # the distance and backbone work moves to the GPU; CPU timings are an upper bound
        gpu, peak = peak - BASE_RSS_BYTES, BASE_RSS_BYTES + _images_bytes(n_train, shape, channels_in)
    return Plan(
        model_name, int(n_train), int(n_predict), shape, size, float(fit_s), float(predict_s),
        int(peak), int(gpu), available, p,
        fit_cpu_s=cpu[0], predict_cpu_s=cpu[1], load=speed.load_now(), free_total_s=free,
    )  # fmt: skip


def plan_train(
    model_name: str,
    params: dict[str, Any] | None,
    n_train: int,
    image_shapes: list[tuple[int, ...]] | tuple[int, ...],
    n_predict: int = 0,
    budget_s: float = DEFAULT_BUDGET_S,
    available: int | None = None,
) -> Plan:
    """The plan of a train job's fit and test predictions, with the defaults it leaves open decided
    (see the module); raises :class:`PlanError` when an explicit setting would not fit in memory."""
    params = dict(params or {})
    given = dict(params)
    available = int(available if available is not None else available_ram_bytes())
    notes: list[str] = []
    defaults = registry.get(model_name).param_defaults()
    if _works_at_native_size(model_name, params):
        size, why = _choose_size(model_name, params, n_train, image_shapes, n_predict, budget_s, available)
        if size is not None:
            params["image_size"] = list(size)
            notes.append(why)
    if (
        model_name not in MEMORY_MODELS
        and "time_budget_s" in defaults
        and params.get("time_budget_s") is None
    ):
        probe_plan = plan_fit(model_name, params, n_train, image_shapes, n_predict, available)
        loop = budget_s - probe_plan.predict_s
        # decided by the time on this machine when free, like the working size: a recipe that fits the
        # budget is not cut short because something else ran while planning (its wall time is still
        # bounded by time_budget_s when one is set)
        total = probe_plan.total_s if probe_plan.free_total_s is None else probe_plan.free_total_s
        if total > budget_s:
            params["time_budget_s"] = round(max(loop, 0.25 * budget_s), 1)
            notes.append(
                f"training limited to {_duration(params['time_budget_s'])} (time_budget_s) to fit the "
                f"{_duration(budget_s)} budget; set time_budget_s or the budget for more"
            )
    plan = plan_fit(model_name, params, n_train, image_shapes, n_predict, available)
    if not plan.fits_memory:
        hint = _fitting_size(model_name, params, n_train, image_shapes, n_predict, available)
        raise PlanError(
            f"{model_name} on {n_train} images at {plan.working_size[1]}x{plan.working_size[0]} needs about "
            f"{_gib(plan.peak_ram_bytes)} of memory; {_gib(available)} is available"
            + (f"; image_size=[{hint[0]}, {hint[1]}] would need about {_gib(hint[2])}" if hint else "")
        )
    if plan.free_total_s is not None and plan.free_total_s > budget_s:
        notes.append(f"this is over the {_duration(budget_s)} budget")
    elif plan.total_s > budget_s:
        notes.append(f"at the machine's load now this is over the {_duration(budget_s)} budget")
    chosen = {k: v for k, v in params.items() if k not in given or given[k] != v}
    return Plan(**{**asdict(plan), "notes": tuple(notes), "budget_s": float(budget_s), "chosen": chosen})


# -- working sizes -------------------------------------------------------------------------------
def _shapes(image_shapes) -> tuple[tuple[int, int], int, set[tuple[int, int]]]:
    """(the most common (H, W), channels of the images, the distinct sizes)."""
    if image_shapes and isinstance(image_shapes[0], int | np.integer):
        image_shapes = [tuple(image_shapes)]
    hw = [tuple(int(v) for v in s[:2]) for s in image_shapes]
    values, counts = np.unique(np.asarray(hw), axis=0, return_counts=True)
    shape = tuple(int(v) for v in values[int(np.argmax(counts))])
    first = image_shapes[0]
    channels = int(first[2]) if len(first) > 2 else 1
    return shape, channels, set(hw)


def _working_size(p: dict[str, Any], shape: tuple[int, int], sizes: set) -> tuple[int, int]:
    if p.get("image_size") is not None:
        return int(p["image_size"][0]), int(p["image_size"][1])
    return shape


def _candidates(shape: tuple[int, int]) -> list[tuple[int, int]]:
    """Aspect-keeping working sizes from the images' own size down, sides multiples of 8, short side >= 64."""
    h, w = shape
    out = []
    for s in (1.0, 0.875, 0.75, 0.625, 0.5, 0.4375, 0.375, 0.3125, 0.25, 0.1875, 0.125):
        c = (max(8, int(round(h * s / 8)) * 8), max(8, int(round(w * s / 8)) * 8))
        if s < 1.0 and min(c) < 64:
            break
        if s == 1.0:
            c = (h, w)
        if c not in out:
            out.append(c)
    return out


def _works_at_native_size(model_name: str, params: dict[str, Any]) -> bool:
    """Whether the fit would run at the images' own size (no working size set, none from a schedule)."""
    model = registry.create(model_name, **params)
    configured = getattr(model, "_configured_size", None)
    return (configured() if callable(configured) else getattr(model, "image_size", 0)) is None


def _choose_size(model_name, params, n_train, image_shapes, n_predict, budget_s, available):
    """(working size, why) for a native-size default, or (None, '') to keep the images' own size."""
    shape, _, sizes = _shapes(image_shapes)
    reasons = []
    if len(sizes) > 1:
        reasons.append(f"the images have {len(sizes)} sizes")
    for i, size in enumerate(_candidates(shape)):
        cells = 0  # trained models' probes already scale with the size; the cell cap is the banks'
        if model_name in MEMORY_MODELS:
            p = _resolved(model_name, params)
            prof = _profile(p["backbone"], tuple(p["layers"]), size)
            cells = prof["grid"][0] * prof["grid"][1]
        if cells > MAX_CELLS:  # decided without timing it: the plan probes only the sizes it may pick
            if i == 0:
                reasons.append(f"{cells:,} feature cells per image (more than {MAX_CELLS:,})")
            continue
        plan = plan_fit(
            model_name, {**params, "image_size": list(size)}, n_train, image_shapes, n_predict, available
        )
        total = plan.total_s if plan.free_total_s is None else plan.free_total_s
        ok = total <= budget_s and plan.fits_memory
        if i == 0 and ok and not reasons:
            return None, ""
        if i == 0:
            if total > budget_s:
                reasons.append(f"~{_duration(total)} at full size (budget {_duration(budget_s)})")
            if not plan.fits_memory:
                reasons.append(f"~{_gib(plan.peak_ram_bytes)} of memory at full size")
        if ok:
            return size, (
                f"working size {size[1]}x{size[0]} chosen for images of {shape[1]}x{shape[0]} ("
                + "; ".join(reasons)
                + f"); image_size=[{shape[0]}, {shape[1]}] asks for the full size"
            )
    smallest = _candidates(shape)[-1]
    return smallest, f"working size {smallest[1]}x{smallest[0]}: the smallest considered (" + "; ".join(
        reasons
    ) + ")"


def _fitting_size(model_name, params, n_train, image_shapes, n_predict, available):
    """(h, w, peak bytes) of the largest aspect-keeping working size whose plan fits in memory, or None."""
    p = _resolved(model_name, params)
    shape, _, _ = _shapes(image_shapes)
    start = _working_size(p, shape, set())
    for size in _candidates(start)[1:]:
        plan = plan_fit(
            model_name, {**params, "image_size": list(size)}, n_train, image_shapes, n_predict, available,
            timed=False,
        )  # fmt: skip
        if plan.fits_memory:
            return size[0], size[1], plan.peak_ram_bytes
    return None


def _on_gpu(p: dict[str, Any]) -> bool:
    device = str(p.get("device", "cpu"))
    return device != "cpu" and torch.cuda.is_available()


def describe_environment() -> dict[str, Any]:
    """What the plans were measured on (for benchmarks and reports)."""
    return {
        "cpu_count": os.cpu_count(),
        "cores": speed.cores(),
        "torch_threads": torch.get_num_threads(),
        "load_avg_1min": None if speed.load_now() is None else round(speed.load_now(), 2),
        "blas_gmacs_one_thread": round(speed.blas_rate(1) / 1e9, 2),
    }
