"""Where the workbench keeps per-user data (the demo station, caches) on Linux, Windows and macOS."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def user_data_dir() -> Path:
    """The per-user data folder: $WORKBENCH_DATA_DIR, else the platform's usual place."""
    override = os.environ.get("WORKBENCH_DATA_DIR")
    if override:
        return Path(override).expanduser()
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "anomaly-workbench"


def default_demo_dir() -> Path:
    """Where `workbench gui --demo` builds and finds the built-in demo station."""
    return user_data_dir() / "demo-station"


def has_display() -> bool:
    """True when a GUI can be shown: an X11/Wayland display, Windows/macOS, or an explicit Qt platform."""
    if sys.platform.startswith("win") or sys.platform == "darwin":
        return True
    if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in {
        "offscreen",
        "minimal",
        "vnc",
        "eglfs",
        "linuxfb",
    }:
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
