"""What the machine can still give a job: the memory estimates are checked against it."""

from __future__ import annotations

import os
from pathlib import Path


def available_ram_bytes() -> int | None:
    """Bytes the system can still give (Linux MemAvailable, else psutil's available memory when psutil is
    installed, else physical memory), or None when unknown."""
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - not installed, or no answer on this system
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None
