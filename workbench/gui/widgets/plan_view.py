"""The Train step's plan: per view, what ``workbench train`` will print before the fit (predicted fit and
predict time, peak memory, the working size and why), or why the fit is refused and a size that fits.

The plans come from the model service (:func:`workbench.gui.train_worker._plan`); this module only asks
for them from the station's metadata and shows them.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from workbench.gui.station_model import Snapshot
from workbench.gui.theme import DARK, Colors


def plan_views(snap: Snapshot | None, views: list[str]) -> list[dict[str, Any]]:
    """What the planner needs of each chosen view: its normal training samples' shapes (H, W, 3: the
    conversion to RGB counts as the fit's copy) and the number of test samples it will predict."""
    out = []
    for v in views if snap is not None else []:
        train = [s for s in snap.samples if s.view == v and s.split == "train" and s.label == "good"]
        if not train:
            continue
        n_test = sum(1 for s in snap.samples if s.view == v and s.split == "test")
        out.append({"view": v, "shapes": [[s.height, s.width, 3] for s in train], "n_predict": n_test})
    return out


class PlanView(QLabel):
    """Rich text, one block per view; :attr:`refusal` is the reason no fit may start ('' when all fit).
    A refusal is drawn in :attr:`colors`' defective colour (the pane sets it with the theme)."""

    def __init__(self, parent: QWidget | None = None, colors: Colors = DARK):
        super().__init__("", parent)
        self.colors = colors
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.rows: list[dict[str, Any]] = []
        self.refusal = ""

    def note(self, text: str) -> None:
        """A line instead of plans (waiting, nothing to plan, the service's error)."""
        self.rows, self.refusal = [], ""
        self.setText(html.escape(text))

    def show_rows(self, rows: list[dict[str, Any]]) -> None:
        self.rows = list(rows)
        blocks, refused = [], []
        for r in self.rows:
            view = f"<b>{html.escape(r['view'])}</b>"
            if r.get("refused"):
                refused.append(f"{r['view']}: {r['refused']}")
                blocks.append(
                    f"<span style='color:{self.colors.defective}'>⚠ {view}: refused: "
                    f"{html.escape(r['refused'])}</span>"
                )
            elif r.get("unplanned"):
                blocks.append(f"{view}: this model has no planner: no time or memory estimate")
            else:
                lines = [line.removeprefix("plan: ") for line in r["text"].splitlines()]
                if r.get("size_why"):
                    lines.insert(1, r["size_why"])
                rest = "".join(f"<br>&nbsp;&nbsp;· {html.escape(x)}" for x in lines[1:])
                blocks.append(f"{view}: {html.escape(lines[0])}{rest}")
        self.refusal = "; ".join(refused)
        self.setText("<br>".join(blocks))
