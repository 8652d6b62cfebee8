"""Remembered between sessions: recent projects, window geometry and dock layout, the theme."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "AnomalyWorkbench"
APPLICATION = "Workbench"
MAX_RECENT = 10
SETTINGS_ENV = "WORKBENCH_SETTINGS"  # an .ini path: portable installs and tests keep settings apart


def default_qsettings() -> QSettings:
    """The user's settings, or the .ini file named by $WORKBENCH_SETTINGS when it is set."""
    path = os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def _as_list(value: object) -> list[str]:
    # QSettings gives back a str for one-element lists and None for missing keys in .ini files
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]  # type: ignore[union-attr]


class Settings:
    """Typed access to the workbench's QSettings."""

    def __init__(self, qsettings: QSettings | None = None):
        self.q = qsettings if qsettings is not None else default_qsettings()

    # recent projects -------------------------------------------------------------------------
    def recent_projects(self) -> list[str]:
        return _as_list(self.q.value("recent/projects"))

    def add_recent(self, path: str | os.PathLike[str]) -> list[str]:
        """Put ``path`` first (absolute, no duplicates, at most MAX_RECENT) and return the new list."""
        p = str(Path(path).resolve())
        items = [p] + [r for r in self.recent_projects() if r != p]
        return self._store_recent(items[:MAX_RECENT])

    def remove_recent(self, path: str) -> list[str]:
        return self._store_recent([r for r in self.recent_projects() if r != path])

    def clear_recent(self) -> list[str]:
        return self._store_recent([])

    def _store_recent(self, items: list[str]) -> list[str]:
        self.q.setValue("recent/projects", items)
        self.q.sync()
        return items

    # window ------------------------------------------------------------------------------------
    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        """(geometry, dock state) as saved by :meth:`save_window_state`, None where absent."""
        geometry = self.q.value("window/geometry")
        state = self.q.value("window/state")
        return (
            geometry if isinstance(geometry, QByteArray) else None,
            state if isinstance(state, QByteArray) else None,
        )

    def save_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self.q.setValue("window/geometry", geometry)
        self.q.setValue("window/state", state)
        self.q.sync()

    # theme -------------------------------------------------------------------------------------
    def theme(self) -> str:
        value = self.q.value("view/theme", "dark")
        return value if value in ("dark", "light") else "dark"

    def set_theme(self, name: str) -> None:
        self.q.setValue("view/theme", name)
        self.q.sync()

    # side panels per step ------------------------------------------------------------------------
    def side_panels(self) -> dict[str, list[str]]:
        """{step: side panels the user keeps open beside it}; steps not in it use their defaults."""
        import json

        raw = self.q.value("layout/side_panels")
        try:
            data = json.loads(raw) if isinstance(raw, str) and raw else {}
        except json.JSONDecodeError:
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): [str(x) for x in v] for k, v in data.items() if isinstance(v, list)}

    def set_side_panels(self, sides: dict[str, list[str]]) -> None:
        import json

        self.q.setValue("layout/side_panels", json.dumps(sides))
        self.q.sync()
