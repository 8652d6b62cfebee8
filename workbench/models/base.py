"""The model contract every anomaly model follows: parameters in, fit, predict, numpy state out.

scikit-learn manners with torch inside: the constructor stores its keyword parameters unchanged;
``fit`` returns ``self``; learned state lives in attributes ending in ``_`` and is exported by
``state_dict`` as plain numpy arrays (the project stores them as HDF5 datasets; nothing is pickled).
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, ClassVar

import numpy as np

from workbench.core.progress import NEVER_CANCEL, CancelToken, ProgressFn, no_progress

log = logging.getLogger(__name__)


class NotFittedError(RuntimeError):
    """Raised when a model is asked to predict or export state before fit or load_state_dict."""


def check_images(images: Any, what: str = "images") -> list[np.ndarray]:
    """Validate a batch: a non-empty list of (H, W, 3) uint8 arrays or one (N, H, W, 3) uint8 array."""
    if isinstance(images, np.ndarray):
        if images.ndim != 4:
            raise ValueError(
                f"{what}: expected a list of (H, W, 3) uint8 arrays or one (N, H, W, 3) uint8 array; "
                f"found an array of shape {images.shape}"
            )
        images = list(images)
    if not isinstance(images, list | tuple):
        raise TypeError(f"{what}: expected a list of (H, W, 3) uint8 arrays; found {type(images).__name__}")
    if len(images) == 0:
        raise ValueError(f"{what}: expected at least one image; found an empty list")
    out = []
    for i, img in enumerate(images):
        if not isinstance(img, np.ndarray):
            raise TypeError(f"{what}[{i}]: expected a numpy array; found {type(img).__name__}")
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"{what}[{i}]: expected shape (H, W, 3) (RGB); found {img.shape}")
        if img.dtype != np.uint8:
            raise ValueError(f"{what}[{i}]: expected dtype uint8 (0..255); found {img.dtype}")
        if img.shape[0] < 8 or img.shape[1] < 8:
            raise ValueError(
                f"{what}[{i}]: expected at least 8x8 pixels; found {img.shape[1]}x{img.shape[0]}"
            )
        out.append(img)
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


def resolve_device(device: str) -> Any:
    """'auto' -> CUDA when present else CPU (logged once per call); 'cpu'/'cuda' as asked."""
    import torch

    if device not in ("auto", "cpu", "cuda") and not str(device).startswith("cuda:"):
        raise ValueError(f"device: expected 'auto', 'cpu' or 'cuda'; found {device!r}")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        log.info("device auto: no CUDA device found, running on CPU")
        return torch.device("cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} was asked for but torch sees no CUDA device; use device='cpu'")
    return torch.device(device)


class AnomalyModel:
    """Base of every model: stores constructor parameters; subclasses implement fit/predict/state.

    Subclasses declare every parameter as an explicit keyword argument of ``__init__`` with its
    default and assign it unchanged to ``self.<name>``; they list their learned attributes (ending
    in ``_``) in ``state_keys``.
    """

    name: ClassVar[str] = ""
    state_keys: ClassVar[tuple[str, ...]] = ()

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

    def __repr__(self) -> str:
        defaults = self.param_defaults()
        changed = [f"{k}={getattr(self, k)!r}" for k, v in defaults.items() if getattr(self, k) != v]
        return f"{type(self).__name__}({', '.join(changed)})"

    # -- learning -----------------------------------------------------------------------------
    def fit(
        self,
        images: Any,
        roi: Any = None,
        progress: ProgressFn = no_progress,
        cancel: CancelToken = NEVER_CANCEL,
    ) -> AnomalyModel:
        raise NotImplementedError

    def predict(
        self, images: Any, progress: ProgressFn = no_progress, cancel: CancelToken = NEVER_CANCEL
    ) -> tuple[np.ndarray, np.ndarray]:
        """Image scores (N,) float32 and anomaly maps (N, H, W) float32 at each image's size."""
        raise NotImplementedError

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
        """Hook for subclasses to rebuild caches from freshly loaded state."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
