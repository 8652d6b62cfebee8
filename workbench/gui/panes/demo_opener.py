"""Open the built-in demo station from the start page: open it when it is there, else build it first in
a worker process (progress and Cancel on the start page), then open it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from workbench.gui.panes.model_process import DemoProcess

DEMO_DIR_ENV = "WORKBENCH_DEMO_DIR"  # tests and portable installs keep the demo elsewhere


def demo_dir() -> Path:
    override = os.environ.get(DEMO_DIR_ENV)
    if override:
        return Path(override).expanduser()
    from workbench.core.paths import default_demo_dir

    return default_demo_dir()


class DemoOpener(QObject):
    def __init__(self, window: Any, model: Any, page: Any, files: Any):
        super().__init__(window)
        self.window, self.model, self.page, self.files = window, model, page, files
        self.job = DemoProcess(model, self)
        self._progress: Any = lambda f, m: None
        self.job.progressed.connect(lambda f, m: self._progress(f, m))
        self.job.finished.connect(self._built)
        self.job.failed.connect(lambda m: self._end(f"The demo station could not be built: {m}", m))
        self.job.cancelled.connect(lambda: self._end("Cancelled: no demo station was built.", None))
        page.job.cancelRequested.connect(self.job.cancel)
        self._describe()

    def _describe(self) -> None:
        from workbench.jobs.demo_recipe import ready_demo

        folder = demo_dir()
        self.page.demo_note.setToolTip(str(folder))
        if ready_demo(folder) is not None:
            self.page.demo_note.setText("The demo station is ready: it opens at once.")
        else:
            self.page.demo_note.setText(
                "Built once (about two minutes on two cores: two models are trained), then it opens at once."
            )

    def open_demo(self) -> None:
        """Open the demo station, building it first when it is not there (or was made by an older recipe)."""
        from workbench.jobs.demo_recipe import ready_demo

        if self.job.running:
            return
        folder = demo_dir()
        station = ready_demo(folder)
        if station is not None:
            self.window.open_project(str(station))
            return
        self.page.demo_button.setEnabled(False)
        self._progress, _token = self.page.job.start(f"Building the demo station in {folder} …")
        folder.mkdir(parents=True, exist_ok=True)
        self.job.start(str(folder))

    def _built(self, path: str) -> None:
        self._end(f"Built the demo station: {path}", None)
        self.window.open_project(path)

    def _end(self, message: str, error: str | None) -> None:
        self.page.job.finish(message)
        self.page.demo_button.setEnabled(True)
        self._describe()
        if error is not None:
            self.window.report("Demo station", message)

    def shutdown(self) -> None:
        self.job.shutdown()
