"""Start the workbench window on a station: ``run(path)``; ``run(path, screenshot=png)`` saves a picture and exits."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)
SCREENSHOT_TIMEOUT_MS = 60000


def run(
    project_path: str | None,
    *,
    screenshot: str | None = None,
    size: tuple[int, int] | None = None,
    settings_path: str | None = None,
) -> int:
    """Open the window (on ``project_path`` if given) and run until it closes; the exit code.

    ``screenshot``: once the window is shown and the station's data is on screen, save a PNG of the
    window there and exit 0 (1 if it never got ready). ``size`` (width, height) sizes the window;
    ``settings_path`` keeps settings in that .ini file instead of the user's.
    """
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from workbench.gui import theme
    from workbench.gui.main_window import APP_TITLE, MainWindow
    from workbench.gui.settings import Settings, default_qsettings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_TITLE)
    app.setOrganizationName("AnomalyWorkbench")
    if settings_path:
        from PySide6.QtCore import QSettings

        settings = Settings(QSettings(settings_path, QSettings.Format.IniFormat))
    else:
        settings = Settings(default_qsettings())
    theme.apply(app, settings.theme())
    window = MainWindow(settings=settings)
    if size is not None:
        window.resize(*size)
    window.show()
    if project_path:
        window.open_project(str(Path(project_path)))

    if screenshot is None:
        return app.exec()

    status = {"code": 1}

    def save() -> None:
        Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
        if window.grab().save(screenshot):
            status["code"] = 0 if window.last_error is None or window.model.snapshot is not None else 1
        else:
            log.error("could not write the screenshot %s", screenshot)
        window._close_confirmed = True  # a screenshot never asks about unsaved changes
        window.close()
        app.quit()

    def give_up() -> None:
        log.error(
            "the window was not ready after %d s; saving what is on screen", SCREENSHOT_TIMEOUT_MS // 1000
        )
        save()
        status["code"] = 1

    window.when_ready(save)
    QTimer.singleShot(SCREENSHOT_TIMEOUT_MS, give_up)
    app.exec()
    return status["code"]
