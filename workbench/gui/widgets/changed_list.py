"""The samples whose verdict a threshold move just changed, coloured by what the change means: a defect
now missed in red, a new false alarm in amber, a defect now caught or a false alarm cleared in green."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from workbench.gui.runs import sig
from workbench.gui.theme import DARK, Colors

MEANING = {  # (truth is defective, flagged now) -> what the change means
    (True, False): "missed defect",
    (False, True): "new false alarm",
    (True, True): "defect caught",
    (False, False): "false alarm cleared",
}


def change_color(defective: bool, flagged: bool, colors: Colors) -> str:
    if defective and not flagged:
        return colors.defective
    if flagged and not defective:
        return colors.warn
    return colors.good


class ChangedList(QListWidget):
    """``show_flips`` fills it; an item's UserRole is its sample id."""

    def __init__(self, parent: QWidget | None = None, colors: Colors = DARK):
        super().__init__(parent)
        self.colors = colors

    def show_flips(self, data: Any, flips: Any, snap: Any, moved: bool) -> None:
        self.clear()
        for k in flips.index:
            sid, flagged = data.sample_ids[int(k)], bool(flips.flagged[k])
            defective = bool(data.labels[k])
            info = snap.sample(sid) if snap is not None else None
            where = f", pass {info.pass_index}" if info is not None else ""
            badge = " ◆ synthetic" if info is not None and info.synthetic else ""
            item = QListWidgetItem(
                f"{MEANING[(defective, flagged)]}: sample {sid} ({data.view}{where}, "
                f"{'defective' if defective else 'normal'}{badge}, {flips.what} {sig(flips.values[k])}) now "
                + ("flagged" if flagged else "passed")
            )
            item.setData(Qt.ItemDataRole.UserRole, sid)
            item.setForeground(QColor(change_color(defective, flagged, self.colors)))
            self.addItem(item)
        if not len(flips.index) and moved:
            item = QListWidgetItem(flips.none_text)
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.addItem(item)
