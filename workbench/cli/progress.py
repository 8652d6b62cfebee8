"""A terminal progress bar (tqdm) fed by the job runner's structured progress events, with Ctrl-C as cancel.

The bar shows the overall fraction, the elapsed time and the estimated time left; the numbers of the
latest event (a phase's count and time left, a loss, a sweep's cell count) are shown beside it.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from workbench.core.progress import CancelToken, Progress, ProgressEvent, phase_text

BAR = "{desc}: {percentage:3.0f}%|{bar}| "


def _fmt_seconds(s: float | None) -> str:
    if s is None:
        return "?"
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


def format_values(values: dict) -> str:
    """The numbers people care about, short: 'cells 3/8 2 running loss 0.0412', 'predict 120/200, left
    0:42' (a phase's own count and time left)."""
    parts = [phase_text(values)] if values.get("phase") else []
    if "done" in values and "cells" in values:
        parts.append(f"cells {values['done']}/{values['cells']}")
        if values.get("running"):
            parts.append(f"{values['running']} running")
        if values.get("failed"):
            parts.append(f"{values['failed']} failed")
    if "iteration" in values:
        parts.append(f"iter {values['iteration']}")
    for key in ("loss", "val"):
        v = values.get(key)
        if isinstance(v, int | float):
            parts.append(f"{key} {v:.4g}")
    return " ".join(parts)


@contextmanager
def terminal_progress(description: str, *, quiet: bool = False) -> Iterator[tuple[Progress, CancelToken]]:
    """Yield (progress, cancel): a structured progress callable drawing a tqdm bar on stderr, and a
    token that Ctrl-C sets.

    The first Ctrl-C asks the job to stop cleanly (the job raises Cancelled); a second one
    interrupts at once.
    """
    from tqdm import tqdm

    token = CancelToken()
    bar = tqdm(
        total=1000,
        desc=description,
        file=sys.stderr,
        disable=quiet,
        leave=False,
        bar_format=BAR,
    )
    previous = signal.getsignal(signal.SIGINT)

    def on_sigint(signum, frame):  # noqa: ARG001
        if token.cancelled:
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        token.cancel()
        bar.set_description_str(f"{description} (stopping…)")

    def show(event: ProgressEvent) -> None:
        if isinstance(event.values.get("plan"), str):  # a job's plan, printed once above the bar
            bar.write(event.values["plan"], file=sys.stderr)
        if event.fraction is not None:
            bar.n = int(round(event.fraction * 1000))
        if event.message:
            bar.set_description_str(f"{description}: {event.message[:60]}", refresh=False)
        numbers = format_values(dict(event.values))
        left = f" left {_fmt_seconds(event.eta_s)}" if event.eta_s is not None else ""
        tail = f"{_fmt_seconds(event.elapsed_s)}{left}" + (f" {numbers}" if numbers else "")
        bar.bar_format = BAR + tail.replace("{", "{{").replace("}", "}}")
        bar.refresh()

    try:
        signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not in the main thread
        previous = None
    try:
        yield Progress(show), token
    finally:
        bar.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
