"""Progress and cancel protocol shared by every long operation (no Qt, no threads assumed).

A long function takes ``progress`` and ``cancel`` as arguments:

* ``progress(fraction, message)`` with ``fraction`` in [0, 1] (or ``None`` when unknown). Any plain
  callable of that shape works. A job that has numbers to tell (a loss, an iteration, a cell's index)
  calls :func:`report` instead: a structured :class:`Progress` receives them as a
  :class:`ProgressEvent`, a plain callable gets the fraction and message only, so old callers keep
  working and nobody parses numbers back out of text;
* ``cancel`` is a :class:`CancelToken`; the function calls ``cancel.raise_if_cancelled()``
  often enough (at least every few hundred milliseconds) and lets :class:`Cancelled` propagate.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

ProgressFn = Callable[[float | None, str], None]


class Cancelled(Exception):
    """Raised inside a job when its cancel token was set; the job leaves no partial state."""


class CancelToken:
    """A thread-safe flag a caller sets to ask a running job to stop.

    ``event``: what holds the flag, anything with ``set()`` and ``is_set()`` (a ``multiprocessing``
    Event lets a parent stop its child); a new ``threading.Event`` by default.
    """

    def __init__(self, event: Any = None) -> None:
        self._event = threading.Event() if event is None else event

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the user")


def no_progress(fraction: float | None, message: str = "", **values: Any) -> None:
    """A progress callback that ignores everything."""


NEVER_CANCEL = CancelToken()


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report: overall ``fraction`` (None when unknown), a message for people, the numbers
    behind it (``values``: e.g. ``loss``, ``iteration``, ``val``), seconds since the job started and an
    estimate of the seconds left (None until the fraction has moved)."""

    fraction: float | None
    message: str = ""
    values: Mapping[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0
    eta_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (for queues between processes and machines)."""
        return {
            "fraction": self.fraction,
            "message": self.message,
            "values": dict(self.values),
            "elapsed_s": self.elapsed_s,
            "eta_s": self.eta_s,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ProgressEvent:
        return cls(
            d.get("fraction"),
            d.get("message", ""),
            dict(d.get("values") or {}),
            float(d.get("elapsed_s", 0.0)),
            d.get("eta_s"),
        )


class Progress:
    """A structured progress callable: ``progress(fraction, message, **values)`` hands a
    :class:`ProgressEvent` (with elapsed time and ETA) to ``sink``. Also usable where a plain
    ``(fraction, message)`` callable is expected."""

    structured = True

    def __init__(self, sink: Callable[[ProgressEvent], None], clock: Callable[[], float] = time.monotonic):
        self._sink = sink
        self._clock = clock
        self._t0 = clock()

    def __call__(self, fraction: float | None, message: str = "", **values: Any) -> None:
        elapsed = self._clock() - self._t0
        if fraction is not None:
            fraction = min(max(float(fraction), 0.0), 1.0)
        eta = None
        if fraction is not None and 0.0 < fraction < 1.0 and elapsed > 0:
            eta = elapsed * (1.0 - fraction) / fraction  # constant-rate estimate from what is done so far
        elif fraction == 1.0:
            eta = 0.0
        self._sink(ProgressEvent(fraction, message, _clean(values), elapsed, eta))


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in values.items():
        if isinstance(v, bool) or v is None or isinstance(v, str):
            out[k] = v
        elif isinstance(v, int):
            out[k] = int(v)
        else:
            f = float(v)
            out[k] = f if math.isfinite(f) else str(f)
    return out


def is_structured(progress: Any) -> bool:
    """True when ``progress`` accepts numbers as keywords (see :func:`report`)."""
    return bool(getattr(progress, "structured", False))


def report(progress: ProgressFn, fraction: float | None, message: str = "", **values: Any) -> None:
    """Tell ``progress`` the fraction and message, and the numbers in ``values`` when it takes them."""
    if values and is_structured(progress):
        progress(fraction, message, **values)  # type: ignore[call-arg]
    else:
        progress(fraction, message)


class _Slice:
    """A child's progress mapped into [start, stop] of its parent's, keeping the numbers."""

    def __init__(self, parent: ProgressFn, start: float, stop: float):
        self.parent, self.start, self.stop = parent, start, stop
        self.structured = is_structured(parent)

    def __call__(self, fraction: float | None, message: str = "", **values: Any) -> None:
        if fraction is not None:
            fraction = self.start + (self.stop - self.start) * min(max(fraction, 0.0), 1.0)
        report(self.parent, fraction, message, **values)


def sub_progress(progress: ProgressFn, start: float, stop: float) -> ProgressFn:
    """Map a child's 0..1 progress into the [start, stop] slice of a parent's progress."""
    return _Slice(progress, start, stop)


class _Phase:
    """A named part of a job (``fit``, ``predict``) with its own count and time left: every report
    gains ``phase``, ``phase_fraction``, ``phase_eta_s`` (None until the phase has moved) and, with a
    ``total``, ``phase_done`` and ``phase_total``; the fraction goes on to ``parent`` unchanged."""

    structured = True

    def __init__(self, parent: ProgressFn, name: str, total: int | None, clock: Callable[[], float]):
        self.parent, self.name, self.total, self._clock = parent, name, total, clock
        self._t0 = clock()

    def __call__(self, fraction: float | None, message: str = "", **values: Any) -> None:
        elapsed = self._clock() - self._t0
        eta = None
        if fraction is not None:
            fraction = min(max(float(fraction), 0.0), 1.0)
            if fraction >= 1.0:
                eta = 0.0
            elif fraction > 0.0:
                eta = elapsed * (1.0 - fraction) / fraction  # this phase's own rate so far
        values = {**values, "phase": self.name, "phase_fraction": fraction, "phase_eta_s": eta}
        if self.total is not None:
            done = None if fraction is None else int(round(fraction * self.total))
            values.update(phase_done=done, phase_total=int(self.total))
        report(self.parent, fraction, message, **values)


def phase_progress(
    progress: ProgressFn, name: str, total: int | None = None, clock: Callable[[], float] = time.monotonic
) -> ProgressFn:
    """``progress`` for one phase of a job (e.g. 'fit', 'predict' of ``total`` images): its reports carry
    the phase's name, count and its own estimate of the seconds left (see :func:`phase_text`)."""
    return _Phase(progress, name, total, clock)


def format_seconds(s: float | None) -> str:
    """'0:42', '12:05', '1:02:03' (hours only when needed); '?' for None."""
    if s is None:
        return "?"
    s = int(round(max(0.0, float(s))))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def phase_text(values: Mapping[str, Any]) -> str:
    """A phase's progress for people: 'predict 120/200, left 0:42', 'fit 35 %, left 2:10', '' when the
    values name no phase."""
    name = values.get("phase")
    if not isinstance(name, str):
        return ""
    done, total, frac = values.get("phase_done"), values.get("phase_total"), values.get("phase_fraction")
    if isinstance(done, int) and isinstance(total, int):
        text = f"{name} {done}/{total}"
    elif isinstance(frac, int | float):
        text = f"{name} {100 * frac:.0f} %"
    else:
        text = name
    eta = values.get("phase_eta_s")
    return text + (f", left {format_seconds(eta)}" if isinstance(eta, int | float) else "")
