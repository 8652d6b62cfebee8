"""The window stays responsive while a model trains through the Train pane: training runs in a worker
process (never in the window's), and the GUI thread keeps turning its event loop meanwhile. How long the
longest gap is, over the whole tour of the window, is benchmarks/bench_gui_responsiveness.py's figure
(no wall-clock limit in a test: this machine's load decides it)."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer


class Heartbeat:
    """Records the largest gap between ticks of a 10 ms timer in the GUI thread."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.largest = 0.0
        self.ticks = 0
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.largest = max(self.largest, now - self.last)
        self.last = now
        self.ticks += 1

    def start(self) -> None:
        self.last = time.perf_counter()
        self.largest = 0.0
        self.ticks = 0
        self.timer.start()


def test_the_gui_thread_keeps_beating_while_a_model_trains(opened, qtbot, capsys):
    opened._close_confirmed = True
    opened.show_pane("train")
    pane = opened.analysis_panes["train"]
    qtbot.waitUntil(lambda: pane.model_combo.count() > 0, timeout=120000)
    pane.model_combo.setCurrentText("padim")
    for key, value in {"backbone": "resnet18", "pretrained": False, "n_features": 20}.items():
        pane.form.set_value(key, value)
    qtbot.waitUntil(lambda: not pane.busy, timeout=120000)
    import os

    beat = Heartbeat()
    beat.start()
    children = []
    with qtbot.waitSignal(pane.trained, timeout=240000):
        pane.start()
        qtbot.waitUntil(lambda: pane.job._proc is not None, timeout=120000)
        children.append(pane.job._proc.pid)
    beat.timer.stop()
    with capsys.disabled():
        print(f"\nlargest GUI-thread gap while training: {beat.largest * 1000:.0f} ms")
    assert opened.model.snapshot.runs  # the training did happen
    assert children and children[0] != os.getpid()  # in a worker process
    assert beat.ticks > 20  # the event loop kept turning while the model trained
