"""The model contract every anomaly model follows: parameters in, fit, one inference forward, numpy state out.

scikit-learn manners with torch inside: parameters are declared once (``params``, see
:mod:`workbench.models.params`), the generated constructor stores them unchanged and
:meth:`AnomalyModel.check_params` tests them before any work; ``fit`` returns ``self``; learned state
lives in attributes ending in ``_`` and is exported by ``state_dict`` as plain numpy arrays.

Inference is one pure ``torch.nn.Module`` per fitted model, :meth:`AnomalyModel.forward_module`:
(B, h, w, 3) uint8 RGB working images in, (scores (B,), maps (B, h, w)) float32 out, with the ROI
blanking, normalization and map post-processing inside. ``predict`` runs it between the one
working-size step of :mod:`workbench.core.working` and the step back; export turns the very same
module into ONNX, and the line runs it with the same two numpy steps around it.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress
from workbench.core.working import maps_to_images, to_rgb8, working_batch
from workbench.models.params import Param, check_params

log = logging.getLogger(__name__)

MIN_SIDE = 8  # smaller images have no room for a single feature cell of any backbone


class NotFittedError(RuntimeError):
    """Raised when a model is asked to predict or export state before fit or load_state_dict."""


def check_images(images: Any, what: str = "images") -> list[np.ndarray]:
    """A non-empty list (or (N, H, W[, C]) array) of images -> list of (H, W, 3) uint8 RGB.

    Grey (H, W) / (H, W, 1), RGB and RGBA images in uint8 or uint16 are accepted and converted by
    the one conversion step, :func:`workbench.core.working.to_rgb8`.
    """
    if isinstance(images, np.ndarray):
        if images.ndim not in (3, 4):
            raise ValueError(
                f"{what}: expected a list of (H, W[, C]) images or one (N, H, W[, C]) array; "
                f"found an array of shape {images.shape}"
            )
        images = list(images)
    if not isinstance(images, list | tuple):
        raise TypeError(f"{what}: expected a list of (H, W[, C]) uint8 images; found {type(images).__name__}")
    if len(images) == 0:
        raise ValueError(f"{what}: expected at least one image; found an empty list")
    out = [to_rgb8(img, f"{what}[{i}]") for i, img in enumerate(images)]
    for i, img in enumerate(out):
        if img.shape[0] < MIN_SIDE or img.shape[1] < MIN_SIDE:
            raise ValueError(
                f"{what}[{i}]: expected at least {MIN_SIDE}x{MIN_SIDE} pixels; found {img.shape[1]}x{img.shape[0]}"
            )
    return out


def check_roi(roi: Any, shape: tuple[int, int]) -> np.ndarray | None:
    """Validate a ROI mask against an image (H, W): returns (H, W) bool, or None for 'everything'."""
    if roi is None:
        return None
    roi = np.asarray(roi)
    if roi.ndim != 2 or roi.shape != tuple(shape):
        raise ValueError(
            f"roi: expected a (H, W) = {tuple(shape)} mask like the images; found shape {roi.shape}"
        )
    if roi.dtype != np.bool_ and roi.dtype != np.uint8:
        raise ValueError(f"roi: expected dtype uint8 (0/255) or bool; found {roi.dtype}")
    mask = roi > 0
    if not mask.any():
        raise ValueError("roi: the mask is empty (no pixel > 0); nothing to learn from")
    return mask


def fit_roi(roi: Any, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 ROI a model stores (1 inside): the checked ``roi``, or every pixel when None."""
    mask = check_roi(roi, shape)
    return np.ones(shape, np.uint8) if mask is None else mask.astype(np.uint8)


def resolve_device(device: str) -> Any:
    """'auto' -> CUDA when present else CPU (logged once per call); 'cpu'/'cuda' as asked."""
    import torch

    if device not in ("auto", "cpu", "cuda") and not str(device).startswith("cuda:"):
        raise ValueError(f"device={device!r}: expected 'auto', 'cpu' or 'cuda'")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        log.info("device auto: no CUDA device found, running on CPU")
        return torch.device("cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} was asked for but torch sees no CUDA device; use device='cpu'")
    return torch.device(device)


@contextlib.contextmanager
def cancellable(module: Any, cancel: CancelToken) -> Iterator[None]:
    """Inside the block, sub-modules with a ``cancel_token`` (long backbones) check ``cancel`` between blocks."""
    marked = [m for m in module.modules() if hasattr(m, "cancel_token")]
    for m in marked:
        m.cancel_token = cancel
    try:
        yield
    finally:
        for m in marked:
            m.cancel_token = None


def _generated_init(cls: type) -> Any:
    spec: dict[str, Param] = cls.params

    def __init__(self, **kwargs: Any) -> None:
        unknown = [k for k in kwargs if k not in spec]
        if unknown:
            raise TypeError(
                f"{cls.__name__}() has no parameter {', '.join(map(repr, unknown))}; its parameters: "
                f"{', '.join(spec)}"
            )
        for name, p in spec.items():
            setattr(self, name, kwargs.get(name, p.default))
        self._reset()

    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    __init__.__signature__ = inspect.Signature(
        [self_param]
        + [
            inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=p.default, annotation=p.type)
            for n, p in spec.items()
        ]
    )
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__doc__ = f"{cls.__name__} with its parameters (see the class docstring); nothing is computed."
    return __init__


class AnomalyModel:
    """Base of every model; subclasses declare ``params``, implement ``fit`` and ``forward_module``.

    A subclass that declares ``params`` (a dict name -> :class:`~workbench.models.params.Param`) gets
    a keyword-only constructor storing each value unchanged; one that writes its own ``__init__``
    (explicit keyword arguments assigned unchanged) works too. Learned attributes end in ``_`` and are
    listed in ``state_keys``. A fitted model has ``image_size_`` ((2,) working size) and ``roi_`` (its
    ROI mask at any size, uint8) unless it overrides :meth:`working_size` and :attr:`fitted_roi`.
    """

    name: ClassVar[str] = ""
    params: ClassVar[dict[str, Param]] = {}
    # Parameters older versions had, accepted and dropped when a stored run is rebuilt.
    retired_params: ClassVar[tuple[str, ...]] = ()
    state_keys: ClassVar[tuple[str, ...]] = ()
    # Settings for a fast run of workbench.models.checks on tiny images (random weights, few iterations).
    quick_params: ClassVar[dict[str, Any]] = {}
    resize_mode: str = "stretch"
    batch_size: int = 8

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "params" in cls.__dict__ and "__init__" not in cls.__dict__:
            cls.__init__ = _generated_init(cls)

    def _reset(self) -> None:
        """Hook: set up caches (never learned state) after the constructor stored the parameters."""

    # -- parameters ---------------------------------------------------------------------------
    @classmethod
    def param_defaults(cls) -> dict[str, Any]:
        """Constructor parameters and their defaults, in declaration order."""
        sig = inspect.signature(cls.__init__)
        return {
            p.name: p.default
            for p in sig.parameters.values()
            if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        }

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters as given (JSON-able: tuples become lists)."""
        return {k: _jsonable(getattr(self, k)) for k in self.param_defaults()}

    def check_params(self) -> None:
        """Every parameter checked (type, finite, range) before any work; one-line ValueError naming it."""
        check_params(self.params, {k: getattr(self, k) for k in self.params})
        self._check_more()

    def _check_more(self) -> None:
        """Hook: rules between parameters (e.g. low <= high), checked after each one alone."""

    def __repr__(self) -> str:
        defaults = self.param_defaults()
        changed = [f"{k}={getattr(self, k)!r}" for k, v in defaults.items() if getattr(self, k) != v]
        return f"{type(self).__name__}({', '.join(changed)})"

    # -- learning -----------------------------------------------------------------------------
    def fit(self, images: Any, roi: Any = None, progress: ProgressFn = no_progress, cancel: CancelToken = NEVER_CANCEL,
            val_images: Any = None, val_labels: Any = None) -> AnomalyModel:  # fmt: skip
        """Learn from normal images (any format :func:`check_images` takes); returns self.

        ``roi`` (H, W) uint8/bool at the images' size limits what is learned and scored.
        ``val_images`` (+ ``val_labels``, 1 = defective) let models that train networks stop early
        (others do not need them). Parameters and inputs are checked before any work; the learned
        state is set only when all went well.
        """
        self.check_params()
        images = check_images(images)
        val = None if val_images is None else (check_images(val_images, "val_images"), val_labels)
        self._fit(images, fit_roi(roi, images[0].shape[:2]), progress, cancel, val)
        self._after_load()
        return self

    def _fit(
        self, images: list[np.ndarray], roi: np.ndarray, progress: ProgressFn, cancel: CancelToken,
        val: tuple[list[np.ndarray], Any] | None,
    ) -> None:  # fmt: skip
        """Hook: learn from checked (H, W, 3) uint8 RGB images and the (H, W) uint8 ROI (1 inside);
        ``val``: checked validation images and their labels (or None), for models that stop early."""
        raise NotImplementedError

    # -- the one inference forward -----------------------------------------------------------------
    def forward_module(self) -> Any:
        """The fitted model's inference as a pure ``nn.Module`` in eval mode, on the model's device.

        forward((B, h, w, 3) uint8 RGB at :meth:`working_size`) -> (scores (B,) float32, maps (B, h, w)
        float32, 0 outside the ROI). ``predict`` uses it; export writes it to ONNX.
        """
        raise NotImplementedError(f"{self.name or type(self).__name__}: no forward_module()")

    def working_size(self) -> tuple[int, int]:
        """(h, w) the forward takes (the fitted working size)."""
        self._check_fitted()
        return int(self.image_size_[0]), int(self.image_size_[1])

    @property
    def fitted_roi(self) -> np.ndarray | None:
        """The ROI the model was fitted with (any size; uint8), or None for every pixel."""
        return getattr(self, "roi_", None)

    def inference_module(self) -> Any:
        """:meth:`forward_module`, built once per fitted state (fit and load_state_dict start afresh)."""
        self._check_fitted()
        if getattr(self, "_inference", None) is None:
            self._inference = self.forward_module().eval()
        return self._inference

    def predict(
        self, images: Any, progress: ProgressFn = no_progress, cancel: CancelToken = NEVER_CANCEL
    ) -> tuple[np.ndarray, np.ndarray | list[np.ndarray]]:
        """Image scores (N,) float32 and anomaly maps (N, H, W) float32 at each image's size (a list
        when sizes differ), 0 outside the ROI: the forward between the working-size step and back."""
        import torch

        self._check_fitted()
        images = check_images(images)
        module = self.inference_module()
        device = next(iter(module.buffers()), torch.zeros(0)).device
        size, mode = self.working_size(), self.resize_mode
        n = len(images)
        scores = np.empty(n, np.float32)
        maps = np.empty((n, *size), np.float32)
        step = max(1, int(self.batch_size))
        for start in range(0, n, step):
            cancel.raise_if_cancelled()
            stop = min(n, start + step)
            x = torch.from_numpy(working_batch(images[start:stop], size, mode)).to(device)
            with torch.inference_mode(), cancellable(module, cancel):
                s, m = module(x)
            scores[start:stop] = s.float().cpu().numpy()
            maps[start:stop] = m.float().cpu().numpy()
            progress(stop / n, f"scored {stop}/{n} images")
        return scores, maps_to_images(maps, [im.shape for im in images], mode, self.fitted_roi)

    @property
    def is_fitted(self) -> bool:
        return all(getattr(self, k, None) is not None for k in self.state_keys)

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"{self.name or type(self).__name__}: call fit() or load_state_dict() first")

    # -- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Learned state as {attribute name: numpy array} (copies; no torch tensors, no objects)."""
        self._check_fitted()
        return {k: np.array(getattr(self, k), copy=True, order="C") for k in self.state_keys}

    def load_state_dict(self, state: dict[str, Any]) -> AnomalyModel:
        """Restore learned state saved by :meth:`state_dict`; returns self."""
        missing = [k for k in self.state_keys if k not in state]
        if missing:
            raise ValueError(
                f"{self.name}: state is missing {missing}; expected keys {list(self.state_keys)}, "
                f"found {sorted(state)}"
            )
        for k in self.state_keys:
            setattr(self, k, np.array(state[k], copy=True, order="C"))
        self._after_load()
        return self

    def _after_load(self) -> None:
        """Hook: drop caches built from the previous state (subclasses extend it)."""
        self._inference = None


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
