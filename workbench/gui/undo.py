"""Undo and redo of every station edit (Edit ▸ Undo, Ctrl+Z; Edit ▸ Redo, Ctrl+Shift+Z).

A command holds two plain functions of the project, ``do`` and ``undo``; both run through
:meth:`StationModel.edit` on the model's I/O thread, so they are serialised with every other project
access, the panes refresh after each and the station is marked dirty. The stack is cleared when a
station opens or closes, because its commands belong to the project they were made on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import QWidget

from workbench.gui.station_model import StationModel

ProjectFn = Callable[[Any], Any]


class ProjectCommand(QUndoCommand):
    """An undoable edit: ``do(project)`` and ``undo(project)``.

    ``applied=True`` says the edit already happened (a job that ran before being pushed), so the
    push itself changes nothing. ``merge_key``: consecutive commands with the same key (dragging a
    slider) merge into one undo step that keeps the first ``undo`` and the last ``do``.
    """

    def __init__(
        self,
        model: StationModel,
        text: str,
        do: ProjectFn,
        undo: ProjectFn,
        applied: bool = False,
        merge_key: str | None = None,
    ):
        super().__init__(text)
        self.model = model
        self._do, self._undo = do, undo
        self._skip_first = applied
        self.merge_key = merge_key

    def redo(self) -> None:
        if self._skip_first:
            self._skip_first = False
            return
        self.model.edit(self._do, self.text())

    def undo(self) -> None:
        self.model.edit(self._undo, f"Undo {self.text()}")

    def id(self) -> int:  # noqa: A003 - Qt's name
        return 1 if self.merge_key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if not isinstance(other, ProjectCommand) or other.merge_key != self.merge_key:
            return False
        self._do = other._do
        self.setText(other.text())
        return True


class UndoStack(QUndoStack):
    """The window's undo stack, with helpers that build the commands panes need."""

    def __init__(self, model: StationModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        model.opened.connect(lambda _snap: self.clear())
        model.closed.connect(self.clear)

    def actions(self, parent: QWidget) -> tuple[QAction, QAction]:
        """Undo and Redo actions with the platform's shortcuts plus Ctrl+Shift+Z for redo."""
        undo = self.createUndoAction(parent, "&Undo")
        undo.setShortcuts(QKeySequence.StandardKey.Undo)
        redo = self.createRedoAction(parent, "&Redo")
        redo.setShortcuts(
            [QKeySequence("Ctrl+Shift+Z"), *QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)]
        )
        return undo, redo

    def run(self, text: str, do: ProjectFn, undo: ProjectFn, merge_key: str | None = None) -> None:
        self.push(ProjectCommand(self.model, text, do, undo, merge_key=merge_key))

    # --- the edits of the set-up panes --------------------------------------------------------------
    def set_view(self, old: Any, new: Any, text: str, merge_key: str | None = None) -> None:
        """Replace view ``old`` (None: it did not exist) by ``new`` (ViewInfo records)."""
        old, new = _copy(old), _copy(new)

        def undo(p: Any) -> None:
            if old is None:
                p.remove_view(new.name)
            else:
                p.set_view(old)

        self.run(text, lambda p: p.set_view(new), undo, merge_key)

    def update_samples(self, samples: Iterable[Any], text: str, **fields: Any) -> None:
        """Set ``fields`` (split, label) on samples; undo gives each sample its own old values back."""
        samples = list(samples)
        ids = [s.id for s in samples]
        old = {s.id: {k: getattr(s, k) for k in fields} for s in samples}

        def undo(p: Any) -> None:
            for sid, values in old.items():
                p.update_samples([sid], **values)

        self.run(text, lambda p: p.update_samples(ids, **fields), undo)

    def set_gt_mask(self, sid: int, old: Any, new: Any, text: str) -> None:
        """Replace the GT mask of sample ``sid`` ((H, W) uint8 or None)."""
        old = None if old is None else old.copy()
        new = None if new is None else new.copy()
        self.run(text, lambda p: p.set_gt_mask(sid, new), lambda p: p.set_gt_mask(sid, old))

    def add_samples(self, images: list, infos: list[dict], masks: list, text: str) -> None:
        """Add samples (``Project.add_samples`` arguments); undo removes them, redo adds them again."""
        images = [i.copy() for i in images]
        masks = [None if m is None else m.copy() for m in masks]
        state: dict[str, list[int]] = {"ids": []}

        def do(p: Any) -> list[int]:
            state["ids"] = p.add_samples(images, infos, masks)
            return state["ids"]

        self.run(text, do, lambda p: p.remove_samples(state["ids"]))

    def record_splits(self, before: dict[int, str], after: dict[int, str], text: str) -> None:
        """Push an already applied split job: undo gives every sample its split from ``before``."""

        def apply(splits: dict[int, str]) -> ProjectFn:
            def fn(p: Any) -> None:
                by: dict[str, list[int]] = {}
                for sid, sp in splits.items():
                    by.setdefault(sp, []).append(sid)
                for sp, ids in by.items():
                    p.update_samples(ids, split=sp)

            return fn

        self.push(ProjectCommand(self.model, text, apply(after), apply(before), applied=True))

    def record_import(self, ids: list[int], views_before: dict, views_after: dict, text: str) -> None:
        """Push an import that already ran: undo removes its samples and puts the views back as they
        were; redo adds the same pictures again (the source record stays: the project keeps sources)."""
        state: dict[str, Any] = {"ids": list(ids), "kept": None}

        def undo(p: Any) -> None:
            ids_now = state["ids"]
            state["kept"] = (
                [p.sample_image(i) for i in ids_now],
                [_info_dict(p.sample(i)) for i in ids_now],
                [p.gt_mask(i) for i in ids_now],
            )
            p.remove_samples(ids_now)
            _restore_views(p, views_before)

        def redo(p: Any) -> None:
            images, infos, masks = state["kept"]
            _restore_views(p, views_after)
            state["ids"] = p.add_samples(images, infos, masks)

        self.push(ProjectCommand(self.model, text, redo, undo, applied=True))


def _copy(view: Any) -> Any:
    if view is None:
        return None
    return dataclasses.replace(
        view,
        template=view.template.copy(),
        roi=None if view.roi is None else view.roi.copy(),
        zones=None if view.zones is None else view.zones.copy(),
        zone_names=list(view.zone_names),
        meta=dict(view.meta),
    )


def _restore_views(p: Any, views: dict) -> None:
    for name in set(p.views) - set(views):
        p.remove_view(name)
    for v in views.values():
        p.set_view(v)


def _info_dict(s: Any) -> dict[str, Any]:
    keys = ("source", "pass_index", "view", "frame", "x", "y", "split", "label", "synthetic", "match_score")
    return {**{k: getattr(s, k) for k in keys}, "meta": dict(s.meta)}
