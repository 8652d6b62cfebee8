"""Make the shared model battery importable as ``model_battery`` (tests/ is not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if "model_battery" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("model_battery", Path(__file__).with_name("battery.py"))
    _mod = importlib.util.module_from_spec(_spec)
    sys.modules["model_battery"] = _mod
    _spec.loader.exec_module(_mod)
