"""What the window asks of a step's pane, with the answers most panes give."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from workbench.gui.station_model import StationModel
from workbench.gui.theme import DARK, Colors


class Pane(QWidget):
    """A pane of the window: ``busy`` while it still loads (screenshots and tests wait for it),
    ``set_colors`` when the theme changes, ``shutdown`` when the window closes."""

    def __init__(self, model: StationModel, parent: QWidget | None = None, colors: Colors = DARK):
        super().__init__(parent)
        self.model, self.colors = model, colors
        self._loading = False  # set while something is read in the background

    @property
    def busy(self) -> bool:
        return self._loading

    def set_colors(self, colors: Colors) -> None:
        """Keep the theme's colours (a pane whose widgets draw with them passes them on)."""
        self.colors = colors

    def shutdown(self) -> None:
        """Stop what the pane started (its jobs, its threads); nothing by default."""
