"""Parameter specs: a model declares each parameter once (default, kind, range) and gets its constructor and checks.

``AnomalyModel`` subclasses set ``params = {name: Param, ...}`` (built with the helpers below); the
class then gets a keyword-only ``__init__`` storing every value unchanged (scikit-learn manners), and
:func:`check_params` tests every value (type, finite, range) before any work, raising one line that
names the parameter and its value, e.g. ``patch_size='abc': expected an odd integer >= 1``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

MAX_SIDE = 8192  # a working size beyond this does not fit any workstation's memory


class ParamError(ValueError):
    """A parameter value that cannot be used; the message names the parameter, its value and what is expected."""


@dataclass(frozen=True)
class Param:
    """One parameter: its default, a short description of what it accepts, and the check."""

    default: Any
    kind: str
    check: Callable[[Any], bool]
    type: str = "str"  # what a form shows: int, float, bool, str or tuple

    def validate(self, name: str, value: Any) -> None:
        try:
            ok = self.check(value)
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            raise ParamError(f"{name}={value!r}: expected {self.kind}")


def _is_int(v: Any) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(float(v))


def _ranged(default: Any, noun: str, is_kind: Callable[[Any], bool], low: float | None, high: float | None,
            low_open: bool, optional: bool, type_name: str, extra: Callable[[Any], bool] | None = None) -> Param:  # fmt: skip
    """A number of a kind (``is_kind``) between ``low`` and ``high``; None too when ``optional``."""
    bounds = [f"{'>' if low_open else '>='} {low:g}"] if low is not None else []
    bounds += [f"<= {high:g}"] if high is not None else []
    kind = noun + (" " + " and ".join(bounds) if bounds else "") + (" or None" if optional else "")

    def check(v: Any) -> bool:
        if v is None:
            return optional
        if not is_kind(v):
            return False
        above = low is None or (v > low if low_open else v >= low)
        return above and (high is None or v <= high) and (extra is None or extra(v))

    return Param(default, kind, check, type_name)


def integer(default: Any, low: int | None = None, high: int | None = None, *, odd: bool = False,
            optional: bool = False) -> Param:  # fmt: skip
    """An integer in [low, high] (odd when asked; None allowed when ``optional``)."""
    noun = "an odd integer" if odd else "an integer"
    return _ranged(
        default, noun, _is_int, low, high, False, optional, "int", (lambda v: v % 2 == 1) if odd else None
    )


def number(default: Any, low: float | None = None, high: float | None = None, *, low_open: bool = False,
           optional: bool = False) -> Param:  # fmt: skip
    """A finite number in [low, high] (``low_open``: strictly above low; None allowed when ``optional``)."""
    return _ranged(default, "a finite number", _is_num, low, high, low_open, optional, "float")


def flag(default: bool) -> Param:
    """True or False."""
    return Param(default, "true or false", lambda v: isinstance(v, bool), "bool")


def choice(default: Any, options: Sequence[Any]) -> Param:
    """One of ``options``."""
    options = tuple(options)
    return Param(default, "one of " + ", ".join(repr(o) for o in options), lambda v: v in options)


def path(default: str | None = None) -> Param:
    """A file path (text) or None."""
    return Param(
        default, "a file path or None", lambda v: v is None or (isinstance(v, str) and v.strip() != "")
    )


def size(default: Any, *, optional: bool = False, low: int = 16) -> Param:
    """(height, width) in pixels, each in [low, MAX_SIDE] (None: the images' own size, when ``optional``)."""
    kind = f"(height, width) of {low} to {MAX_SIDE} pixels each" + (
        " or None (the images' own size)" if optional else ""
    )

    def check(v: Any) -> bool:
        if v is None:
            return optional
        return (
            isinstance(v, list | tuple)
            and len(v) == 2
            and all(_is_int(x) and low <= x <= MAX_SIDE for x in v)
        )

    return Param(default, kind, check, "tuple")


def pair(default: Any, low: float, high: float, *, ordered: bool = True, strict: bool = False) -> Param:
    """(a, b) of finite numbers in [low, high], a <= b when ``ordered`` (a < b when ``strict``)."""
    rel = "<" if strict else "<="
    kind = (
        f"(low, high) with {low:g} <= low {rel} high <= {high:g}"
        if ordered
        else f"two numbers in [{low:g}, {high:g}]"
    )

    def check(v: Any) -> bool:
        if not (isinstance(v, list | tuple) and len(v) == 2 and all(_is_num(x) for x in v)):
            return False
        a, b = float(v[0]), float(v[1])
        if not (low <= a <= high and low <= b <= high):
            return False
        return not ordered or (a < b if strict else a <= b)

    return Param(default, kind, check, "tuple")


def subset(default: Any, options: Sequence[str]) -> Param:
    """A non-empty list of distinct names from ``options`` (e.g. backbone layers)."""
    options = tuple(options)

    def check(v: Any) -> bool:
        return (
            isinstance(v, list | tuple)
            and len(v) > 0
            and len(set(v)) == len(v)
            and all(isinstance(x, str) and x in options for x in v)
        )

    return Param(default, "a non-empty list of distinct names from " + ", ".join(options), check, "tuple")


def check_params(spec: dict[str, Param], values: dict[str, Any]) -> None:
    """Every value of ``values`` checked against ``spec``; a :class:`ParamError` for the first bad one."""
    for key, p in spec.items():
        if key in values:
            p.validate(key, values[key])


def device(default: str = "auto") -> Param:
    """'auto' (CUDA when present), 'cpu', 'cuda' or 'cuda:N'."""

    def check(v: Any) -> bool:
        return v in ("auto", "cpu", "cuda") or (
            isinstance(v, str) and v.startswith("cuda:") and v[5:].isdigit()
        )

    return Param(default, "'auto', 'cpu', 'cuda' or 'cuda:N'", check)


# -- groups several models share (defaults differ per model, so they are functions) ---------------------
def backbone_params(layers: tuple[str, ...], backbone: str = "efficientnet_lite0") -> dict[str, Param]:
    """A pretrained feature extractor: ``backbone``, ``layers``, ``weights`` (a file), ``pretrained``."""
    from workbench.models.backbones import BACKBONES, LAYERS

    return {
        "backbone": choice(backbone, BACKBONES),
        "layers": subset(layers, LAYERS),
        "weights": path(None),
        "pretrained": flag(True),
    }


def working_params(
    image_size: Any = (256, 256), resize_mode: str = "stretch", *, native: bool = False
) -> dict[str, Param]:
    """The working size (``native``: None allowed, the images' own size) and how images reach it."""
    return {
        "image_size": size(image_size, optional=native),
        "resize_mode": choice(resize_mode, ("stretch", "pad")),
    }


def training_params(
    *, epochs: int | None = None, max_iters: int | None = None, time_budget_s: float | None = None,
    train_batch: int | None = 8, val_every: int = 100, patience: int = 5, scheduled: bool = False,
) -> dict[str, Param]:  # fmt: skip
    """The training budget (``epochs`` when the model counts passes, else ``max_iters``), batch and early stop
    (``scheduled``: both None by default, the model's training recipe gives them)."""
    out = {}
    if epochs is not None or scheduled:
        out["epochs"] = integer(epochs, 1, optional=scheduled)
    out["max_iters"] = integer(max_iters, 1, optional=scheduled or epochs is not None)
    out["time_budget_s"] = number(time_budget_s, 0, low_open=True, optional=True)
    out["train_batch"] = integer(train_batch, 1, optional=train_batch is None)
    out["val_every"] = integer(val_every, 1)
    out["patience"] = integer(patience, 1)
    return out


def schedule(names: Sequence[str]) -> Param:
    """The training recipe: 'auto' ('paper' on CUDA, 'cpu' otherwise) or one of ``names``."""
    return choice("auto", ("auto", *names))


def run_params(batch_size: int = 8) -> dict[str, Param]:
    """How inference runs: ``batch_size`` images at a time on ``device``, randomness from ``seed``."""
    return {"batch_size": integer(batch_size, 1), "device": device("auto"), "seed": integer(0, 0)}
