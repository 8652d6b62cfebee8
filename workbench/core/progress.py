"""Progress and cancel protocol shared by every long operation (no Qt, no threads assumed).

A long function takes ``progress`` and ``cancel`` as arguments:

* ``progress(fraction, message)`` with ``fraction`` in [0, 1] (or ``None`` when unknown);
* ``cancel`` is a :class:`CancelToken`; the function calls ``cancel.raise_if_cancelled()``
  often enough (at least every few hundred milliseconds) and lets :class:`Cancelled` propagate.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

ProgressFn = Callable[[float | None, str], None]


class Cancelled(Exception):
    """Raised inside a job when its cancel token was set; the job leaves no partial state."""


class CancelToken:
    """A thread-safe flag a caller sets to ask a running job to stop."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the user")


def no_progress(fraction: float | None, message: str = "") -> None:
    """A progress callback that ignores everything."""


NEVER_CANCEL = CancelToken()


def sub_progress(progress: ProgressFn, start: float, stop: float) -> ProgressFn:
    """Map a child's 0..1 progress into the [start, stop] slice of a parent's progress."""

    def child(fraction: float | None, message: str = "") -> None:
        if fraction is None:
            progress(None, message)
        else:
            progress(start + (stop - start) * min(max(fraction, 0.0), 1.0), message)

    return child
