"""Import, once and off the GUI thread, the Qt-free modules the steps read a station with.

The window starts without them (h5py, scipy and OpenCV cost seconds on a busy machine); a step that
needs one would otherwise import it on the station's I/O thread while the user waits, and a thread
that imports holds the interpreter lock in long stretches. Starting these imports as soon as the
window is shown, while the user looks at the start page, moves that cost where nobody waits for it.
"""

from __future__ import annotations

import importlib
import logging
import threading

log = logging.getLogger(__name__)

MODULES = (
    "workbench.project",
    "workbench.jobs.evaluate_data",
    "workbench.jobs.evaluate_policy",
    "workbench.metrics.intervals",
    "workbench.jobs.staging",
    "workbench.jobs.splits",
    "workbench.jobs.explain",
    "workbench.jobs.synthesize",
    "workbench.synth.at_point",
    "workbench.io.extract",  # Import's Find passes reads its rule classes on the GUI thread
    "workbench.gui.panes.threshold_data",
    "workbench.gui.panes.compare_data",
)


def _run(done: threading.Event) -> None:
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - a step that needs it will say why in its own words
            log.debug("warm-up: %s did not import: %s", name, exc)
    try:
        from workbench.metrics.intervals import rate

        rate(1, 2)  # scipy.stats loads lazily on the first interval
    except Exception as exc:  # noqa: BLE001
        log.debug("warm-up: intervals: %s", exc)
    done.set()


def start() -> threading.Event:
    """Start the imports in a daemon thread; the returned event is set when they are done."""
    done = threading.Event()
    threading.Thread(target=_run, args=(done,), name="workbench-warm-up", daemon=True).start()
    return done
