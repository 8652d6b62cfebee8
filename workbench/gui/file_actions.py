"""The File menu: New, Open, Save, Save As, Recent, Quit, and the prompt before unsaved changes are lost."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox

from workbench.gui.settings import Settings
from workbench.gui.station_model import PROJECT_SUFFIX, StationModel

FILE_FILTER = f"Station projects (*{PROJECT_SUFFIX});;All files (*)"
SAVE, DISCARD, CANCEL = "save", "discard", "cancel"
RELOAD, SAVE_AS = "reload", "save_as"


def check_project_path(path: str) -> str | None:
    """Why ``path`` cannot be a station project, in the user's words, or None when it may be one."""
    p = Path(path)
    if not p.exists():
        return f"{p.name} does not exist (looked in {p.parent})."
    if p.is_dir():
        return f"{p.name} is a folder; a station is one {PROJECT_SUFFIX} file."
    if p.suffix.lower() != PROJECT_SUFFIX:
        return f"{p.name} is not a station project: expected a {PROJECT_SUFFIX} file, found a {p.suffix or 'file without extension'}."
    return None


class FileActions(QObject):
    """Owns the File menu's actions. ``ask_unsaved``, ``ask_open_path`` and ``ask_save_path`` are the
    dialogs; tests replace them with plain functions. ``recentChanged`` when the recent list changes."""

    recentChanged = Signal()

    def __init__(
        self,
        window: QMainWindow,
        model: StationModel,
        settings: Settings,
        report: Callable[[str, str], None],
    ):
        super().__init__(window)
        self.window = window
        self.model = model
        self.settings = settings
        self.report = report  # (title, message): a clear message that leaves everything as it was
        self.new = self._action("&New station…", QKeySequence.StandardKey.New, self.new_project)
        self.open = self._action("&Open…", QKeySequence.StandardKey.Open, self.open_dialog)
        self.save = self._action("&Save", QKeySequence.StandardKey.Save, self.save_project)
        self.save_as = self._action("Save &As…", QKeySequence.StandardKey.SaveAs, self.save_project_as)
        self.quit = self._action("&Quit", QKeySequence.StandardKey.Quit, window.close)
        self.recent_menu = QMenu("Open &Recent", window)
        self.recent_menu.aboutToShow.connect(self.refresh_recent_menu)
        model.opened.connect(lambda _s: self._update_enabled())
        model.closed.connect(self._update_enabled)
        model.busyChanged.connect(lambda _b: self._update_enabled())
        model.changedElsewhere.connect(self.on_changed_elsewhere)
        self._update_enabled()

    def _action(self, text: str, key: QKeySequence.StandardKey, slot: Callable[[], None]) -> QAction:
        action = QAction(text, self.window)
        action.setShortcut(QKeySequence(key))
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def fill_menu(self, menu: QMenu) -> None:
        for a in (self.new, self.open):
            menu.addAction(a)
        menu.addMenu(self.recent_menu)
        menu.addSeparator()
        menu.addAction(self.save)
        menu.addAction(self.save_as)
        menu.addSeparator()
        menu.addAction(self.quit)
        self.refresh_recent_menu()

    def _update_enabled(self) -> None:
        has = self.model.project is not None
        self.save.setEnabled(has)
        self.save_as.setEnabled(has)

    # --- dialogs (replaced in tests) --------------------------------------------------------------
    def ask_unsaved(self, name: str) -> str:
        answer = QMessageBox.question(
            self.window,
            "Unsaved changes",
            f"The station {name} has changes that are not saved.\nSave them first?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        return {QMessageBox.StandardButton.Save: SAVE, QMessageBox.StandardButton.Discard: DISCARD}.get(
            answer, CANCEL
        )

    def ask_reload(self, message: str, dirty: bool) -> str:
        box = QMessageBox(self.window)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Changed by another program")
        lost = " Your unsaved changes here would be lost." if dirty else ""
        box.setText(f"{message}\nReload it to see those changes?{lost}")
        reload = box.addButton("Reload", QMessageBox.ButtonRole.AcceptRole)
        save_as = box.addButton("Save mine as…", QMessageBox.ButtonRole.ActionRole) if dirty else None
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        clicked = box.clickedButton()
        return (
            RELOAD if clicked is reload else SAVE_AS if save_as is not None and clicked is save_as else CANCEL
        )

    def ask_open_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open a station", self._start_dir(), FILE_FILTER)
        return path or None

    def ask_save_path(self, title: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self.window, title, self._start_dir(), FILE_FILTER)
        if path and not path.lower().endswith(PROJECT_SUFFIX):
            path += PROJECT_SUFFIX
        return path or None

    def _start_dir(self) -> str:
        recent = self.settings.recent_projects()
        return str(Path(recent[0]).parent) if recent else os.path.expanduser("~")

    # --- the guard --------------------------------------------------------------------------------
    def proceed(self, action: Callable[[], None]) -> bool:
        """Run ``action`` once unsaved changes are saved or discarded; False when the user cancels.

        With "save", ``action`` runs after the save has finished (in the background) and not at all
        if the save fails, so nothing is lost either way.
        """
        if not self.model.dirty:
            action()
            return True
        name = self.model.snapshot.name if self.model.snapshot else "station"
        answer = self.ask_unsaved(name)
        if answer == SAVE:
            self.model.save(on_done=action)
            return True
        if answer == DISCARD:
            action()
            return True
        return False

    # --- actions ----------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path = self.ask_open_path()
        if path:
            self.open_path(path)

    def open_path(self, path: str) -> bool:
        """Open ``path`` after the unsaved-changes prompt; a bad file gets a message and changes nothing."""
        problem = check_project_path(path)
        if problem:
            if path in self.settings.recent_projects() and not Path(path).exists():
                self.settings.remove_recent(path)
                self.recentChanged.emit()
            self.report("Cannot open", problem)
            return False
        if self.model.path and Path(self.model.path) == Path(path).absolute():
            return True  # already open
        return self.proceed(lambda: self.model.open(path, on_done=lambda: self._remember(path)))

    def new_project(self) -> None:
        path = self.ask_save_path("New station")
        if not path:
            return
        if self.model.path and Path(self.model.path) == Path(path).absolute():
            self.report("Cannot create", f"{Path(path).name} is the station open now; choose another name.")
            return
        self.proceed(lambda: self.model.create(path, on_done=lambda: self._remember(path)))

    def save_project(self) -> None:
        if self.model.project is not None:
            self.model.save()

    def save_project_as(self) -> None:
        if self.model.project is None:
            return
        path = self.ask_save_path("Save station as")
        if path:
            self.model.save_as(path, on_done=lambda: self._remember(path))

    def on_changed_elsewhere(self, message: str) -> None:
        """Another process saved the open station: reload it, or keep this session's edits in a new file;
        the newer file is never overwritten."""
        path = self.model.path
        if path is None:
            return
        answer = self.ask_reload(message, self.model.dirty)
        if answer == RELOAD:
            self.model.open(path)
        elif answer == SAVE_AS:
            self.save_project_as()

    def _remember(self, path: str) -> None:
        self.settings.add_recent(path)
        self.refresh_recent_menu()
        self.recentChanged.emit()

    def refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_projects()
        for i, path in enumerate(recent):
            label = f"&{i + 1}  {Path(path).name}" if i < 9 else Path(path).name
            action = self.recent_menu.addAction(label)
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_path(p))
        if recent:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self._clear_recent)
        else:
            self.recent_menu.addAction("(no recent stations)").setEnabled(False)

    def _clear_recent(self) -> None:
        self.settings.clear_recent()
        self.refresh_recent_menu()
        self.recentChanged.emit()
