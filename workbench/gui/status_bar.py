"""The status bar: messages, a busy indicator, the compute device (GPU name or CPU) and the memory in use."""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QProcess, QTimer
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QWidget


def process_memory_bytes() -> int | None:
    """Resident memory of this process, read cheaply from the OS (None when unknown)."""
    try:
        if sys.platform.startswith("linux"):
            with open("/proc/self/statm", "rb") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        if sys.platform == "win32":
            import ctypes
            from ctypes import wintypes

            class Counters(ctypes.Structure):
                _fields_ = [
                    ("cb", wintypes.DWORD),
                    ("PageFaultCount", wintypes.DWORD),
                    ("PeakWorkingSetSize", ctypes.c_size_t),
                    ("WorkingSetSize", ctypes.c_size_t),
                    ("QuotaPeakPagedPoolUsage", ctypes.c_size_t),
                    ("QuotaPagedPoolUsage", ctypes.c_size_t),
                    ("QuotaPeakNonPagedPoolUsage", ctypes.c_size_t),
                    ("QuotaNonPagedPoolUsage", ctypes.c_size_t),
                    ("PagefileUsage", ctypes.c_size_t),
                    ("PeakPagefileUsage", ctypes.c_size_t),
                ]

            c = Counters()
            c.cb = ctypes.sizeof(c)
            psapi = ctypes.WinDLL("psapi")
            kernel = ctypes.WinDLL("kernel32")
            kernel.GetCurrentProcess.restype = wintypes.HANDLE
            if psapi.GetProcessMemoryInfo(kernel.GetCurrentProcess(), ctypes.byref(c), c.cb):
                return int(c.WorkingSetSize)
            return None
        import resource  # macOS: the peak is the best cheap figure there

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    except (OSError, ValueError, AttributeError, IndexError):
        return None


def format_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit in ("B", "KB", "MB") else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def parse_nvidia_smi(text: str) -> list[str]:
    """GPU names from ``nvidia-smi -L`` ("GPU 0: NVIDIA H100 80GB HBM3 (UUID: ...)")."""
    names = []
    for line in text.splitlines():
        if line.startswith("GPU ") and ":" in line:
            names.append(line.split(":", 1)[1].split("(UUID")[0].strip())
    return names


class StatusBar(QStatusBar):
    """Finds the GPU with ``nvidia-smi -L`` in a QProcess (no torch in the GUI thread at start-up)."""

    def __init__(self, parent: QWidget | None = None, memory_interval_ms: int = 2000):
        super().__init__(parent)
        self.busy = QProgressBar(self)
        self.busy.setRange(0, 0)  # indeterminate: project reads and saves have no known length
        self.busy.setMaximumWidth(self.fontMetrics().horizontalAdvance("M" * 8))
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.device = QLabel("Device: …", self)
        self.device.setToolTip("Where models will train and run")
        self.memory = QLabel("", self)
        self.memory.setToolTip("Memory used by the workbench process")
        self.addPermanentWidget(self.busy)
        self.addPermanentWidget(self.device)
        self.addPermanentWidget(self.memory)
        self.gpus: list[str] | None = None
        self._proc = QProcess(self)
        self._proc.finished.connect(self._on_smi_finished)
        self._proc.errorOccurred.connect(self._on_smi_error)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.update_memory)
        self._timer.start(memory_interval_ms)
        self.update_memory()

    def probe_device(self, program: str = "nvidia-smi") -> None:
        self._proc.start(program, ["-L"])

    def _on_smi_finished(self, code: int, _status: object = None) -> None:
        out = bytes(self._proc.readAllStandardOutput().data()).decode(errors="replace")
        self.set_gpus(parse_nvidia_smi(out) if code == 0 else [])

    def _on_smi_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:  # no NVIDIA driver: the CPU it is
            self.set_gpus([])

    def set_gpus(self, names: list[str]) -> None:
        self.gpus = names
        if names:
            extra = f" (+{len(names) - 1})" if len(names) > 1 else ""
            self.device.setText(f"Device: GPU {names[0]}{extra}")
        else:
            self.device.setText("Device: CPU")

    def update_memory(self) -> None:
        self.memory.setText(f"Memory: {format_bytes(process_memory_bytes())}")

    def set_busy(self, on: bool) -> None:
        self.busy.setVisible(on)

    def shutdown(self) -> None:
        self._timer.stop()
        if self._proc.state() != QProcess.ProcessState.NotRunning:
            self._proc.kill()
            self._proc.waitForFinished(1000)
