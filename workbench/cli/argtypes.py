"""Argument types that refuse a bad value while the command line is read, before any work, in one sentence."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

MAX_SEED = 2**32 - 1  # what numpy and torch both take

T = TypeVar("T", int, float)


def _checked(text: str, convert: Callable[[str], T], ok: Callable[[T], bool], expected: str) -> T:
    """``convert(text)`` if it parses and passes ``ok``; else one ArgumentTypeError naming what was expected."""
    try:
        value = convert(text)
    except ValueError:
        value = None
    if value is None or not ok(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, found '{text}'")
    return value


def seed(text: str) -> int:
    """A random seed: a whole number from 0 to 2**32 - 1."""
    return _checked(
        text, int, lambda v: 0 <= v <= MAX_SEED, f"a whole number from 0 to {MAX_SEED} (e.g. 0 or 42)"
    )


def positive_int(text: str) -> int:
    return _checked(text, int, lambda v: v >= 1, "a whole number >= 1")


def non_negative_int(text: str) -> int:
    return _checked(text, int, lambda v: v >= 0, "a whole number >= 0")


def fraction(text: str) -> float:
    """A finite number from 0 to 1."""
    return _checked(text, float, lambda v: math.isfinite(v) and 0.0 <= v <= 1.0, "a number from 0 to 1")


def finite_float(text: str) -> float:
    return _checked(text, float, math.isfinite, "a finite number")


def positive_float(text: str) -> float:
    return _checked(text, float, lambda v: math.isfinite(v) and v > 0, "a number > 0")
