"""The analysis steps of the window (Train, Compare, Thresholds, Report), built together because they
share one model service process: the main window registers them with one call."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

from workbench.gui.panes.model_process import ModelService
from workbench.gui.station_model import StationModel
from workbench.gui.theme import Colors


def analysis_panes(
    model: StationModel, undo: Any, service: ModelService, parent: QWidget, colors: Colors
) -> dict[str, QWidget]:
    """{step key: pane} for the Train, Compare, Thresholds and Report steps."""
    from workbench.gui.panes.compare_pane import ComparePane
    from workbench.gui.panes.report_pane import ReportPane
    from workbench.gui.panes.thresholds_pane import ThresholdsPane
    from workbench.gui.panes.train_pane import TrainPane

    return {
        "train": TrainPane(model, service, parent, colors),
        "compare": ComparePane(model, service, parent, colors),
        "thresholds": ThresholdsPane(model, undo, parent, colors),
        "report": ReportPane(model, parent, colors),
    }


def widen_dock(pane: QWidget, fraction: float) -> None:
    """Give the dock holding ``pane`` at least ``fraction`` of the window's width (heatmaps and
    histograms need room; the user can still drag it narrower afterwards)."""
    dock = pane.parentWidget()
    while dock is not None and not isinstance(dock, QDockWidget):
        dock = dock.parentWidget()
    window = dock.parentWidget() if dock is not None else None
    if isinstance(window, QMainWindow) and not dock.isFloating():
        want = int(window.width() * fraction)
        if dock.width() < want:
            window.resizeDocks([dock], [want], Qt.Orientation.Horizontal)
