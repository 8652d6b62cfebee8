"""The dark (default) and light looks of the window, and the colours custom-painted widgets use."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication


@dataclass(frozen=True)
class Colors:
    """Colours for what stylesheets cannot reach: image backgrounds, the timeline, overlays."""

    name: str
    canvas: str  # behind images
    track: str  # timeline background
    text: str
    muted: str
    passes: str  # pass bands on the timeline
    cursor: str  # the current frame
    good: str
    defective: str
    unknown: str
    warn: str  # amber: new false alarms, suspect passes, stale runs
    box: str  # crop rectangles on frames
    mask: tuple[int, int, int]  # GT mask overlay colour

    def label_color(self, label: str) -> QColor:
        return QColor({"good": self.good, "defective": self.defective}.get(label, self.unknown))


DARK = Colors(
    name="dark",
    canvas="#121417",
    track="#1b1f24",
    text="#dfe1e2",
    muted="#8a9199",
    passes="#2f4a66",
    cursor="#ffcc33",
    good="#4cc38a",
    defective="#ff5a5f",
    unknown="#9aa0a6",
    warn="#ffb020",
    box="#33c3ff",
    mask=(255, 40, 60),
)
LIGHT = Colors(
    name="light",
    canvas="#e8eaed",
    track="#f4f5f7",
    text="#202124",
    muted="#5f6368",
    passes="#b6d2ee",
    cursor="#e37400",
    good="#188038",
    defective="#c5221f",
    unknown="#80868b",
    warn="#b06000",
    box="#1967d2",
    mask=(230, 0, 40),
)


def colors(name: str) -> Colors:
    return LIGHT if name == "light" else DARK


def apply(app: QApplication, name: str) -> Colors:
    """Style the whole application ('dark' uses qdarkstyle, 'light' plain Fusion) and return its colours."""
    app.setStyle("Fusion")  # the same widgets metrics in both looks, on every platform
    if name == "light":
        app.setPalette(app.style().standardPalette())
        app.setStyleSheet("")
    else:
        import qdarkstyle  # imported here: 0.1 s that the light look does not need

        app.setStyleSheet(qdarkstyle.load_stylesheet(qt_api="pyside6"))
    return colors(name)
