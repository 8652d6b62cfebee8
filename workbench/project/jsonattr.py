"""JSON text for HDF5 attributes: numpy scalars and arrays become plain JSON, never pickles."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from workbench.project.errors import ProjectError


def _plain(value: Any) -> Any:
    # numpy values sneak into metadata from every layer; store them as the JSON they mean
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"a {type(value).__name__}")


def dumps(value: Any, what: str) -> str:
    """JSON text of ``value``; ProjectError naming ``what`` when it holds something JSON cannot say."""
    try:
        return json.dumps(value, default=_plain, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ProjectError(
            f"{what} must be plain JSON data (numbers, text, lists, dicts); found {exc}"
        ) from None


def loads(text: Any, what: str) -> Any:
    """The value stored by :func:`dumps`; ProjectError when the text is damaged."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        if isinstance(text, np.ndarray):  # JSON stored as a uint8 dataset
            text = text.tobytes().decode("utf-8")
        return json.loads(text)
    except (TypeError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise ProjectError(f"{what} is damaged (not valid JSON: {exc})") from None


def copy(value: Any, what: str) -> Any:
    """A deep, JSON-checked copy: the caller's later edits cannot change what the project holds."""
    return json.loads(dumps(value, what))
