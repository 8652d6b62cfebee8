"""A terminal progress bar (tqdm) that speaks the core progress protocol, with Ctrl-C as cancel."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from workbench.core.progress import CancelToken, ProgressFn


@contextmanager
def terminal_progress(description: str, *, quiet: bool = False) -> Iterator[tuple[ProgressFn, CancelToken]]:
    """Yield (progress, cancel): a tqdm bar on stderr, and a token that Ctrl-C sets.

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
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}",
    )
    previous = signal.getsignal(signal.SIGINT)

    def on_sigint(signum, frame):  # noqa: ARG001
        if token.cancelled:
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        token.cancel()
        bar.set_description_str(f"{description} (stopping…)")

    def progress(fraction: float | None, message: str = "") -> None:
        if fraction is not None:
            bar.n = int(round(min(max(fraction, 0.0), 1.0) * 1000))
        if message:
            bar.set_description_str(f"{description}: {message[:60]}", refresh=False)
        bar.refresh()

    try:
        signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not in the main thread
        previous = None
    try:
        yield progress, token
    finally:
        bar.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
