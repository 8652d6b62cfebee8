"""The analysis steps of the window (Train, Compare, Thresholds, Export, Line, Report), built together
because they share one model service process: the main window registers them with one call."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QWidget

from workbench.gui.panes.model_process import ModelService
from workbench.gui.station_model import StationModel
from workbench.gui.theme import Colors


def analysis_panes(
    model: StationModel, undo: Any, service: ModelService, parent: QWidget, colors: Colors
) -> dict[str, QWidget]:
    """{step key: pane} for the Train, Compare, Thresholds, Export, Line and Report steps."""
    from workbench.gui.panes.compare_pane import ComparePane
    from workbench.gui.panes.export_pane import ExportPane
    from workbench.gui.panes.line_pane import LinePane
    from workbench.gui.panes.report_pane import ReportPane
    from workbench.gui.panes.sweep_panel import attach_sweep_panel
    from workbench.gui.panes.thresholds_pane import ThresholdsPane
    from workbench.gui.panes.train_pane import TrainPane

    train = TrainPane(model, service, parent, colors)
    attach_sweep_panel(train, model, service)  # the Train step's second tab: sweeps (sweep helper's pane)
    return {
        "train": train,
        "compare": ComparePane(model, service, parent, colors),
        "thresholds": ThresholdsPane(model, undo, parent, colors),
        "export": ExportPane(model, parent, colors),
        "line": LinePane(model, parent, colors),
        "report": ReportPane(model, parent, colors),
    }
