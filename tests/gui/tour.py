"""A tour of the window on the ready demo station, step by step, as a user would take it: from the start
page (Open the demo station) through every step to a bundle, a line preview and a report. Used by the
responsiveness benchmark (a heartbeat over the whole tour) and the screenshot tests (each step's state).

Each stop starts what a user does there and says when it is done; :class:`Tour` runs them one after
the other from a QTimer, so the GUI thread is never blocked by the tour itself.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal

TINY_TRAIN = (
    "padim",
    {"backbone": "resnet18", "pretrained": False, "n_features": 20, "image_size": [96, 128]},
)
Check = Callable[[], bool]


@dataclass
class Stop:
    key: str  # the step (or "start")
    what: str  # what the user does there
    act: Callable[[object], Check | None]  # starts it; returns "is it done?" (None: done at once)
    timeout_s: float = 120.0


def _ready(win) -> Check:
    return win.is_ready


def open_demo(win) -> Check:
    win.show_pane("start")
    win.start_page.demo_button.click()
    return lambda: win.model.snapshot is not None and win.workspace.current == "station" and win.is_ready()


def station(win) -> Check:
    snap = win.model.snapshot
    sid = next(s.id for s in snap.samples if s.has_mask)
    item = win.station.find(("sample", sid))
    win.station.tree.setCurrentItem(item)
    return lambda: win.inspector.shown == ("sample", sid) and win.is_ready()


def import_video(win) -> Check:
    win.show_pane("import")
    snap = win.model.snapshot
    pane = win.import_pane
    pane.open_path(snap.video_sources()[0].uri)
    state = {"asked": False}

    def done() -> bool:
        if pane.info is None:
            return False
        if not state["asked"]:
            state["asked"] = True
            pane.find_passes()
            return False
        return not pane.job.running and bool(pane.timeline.passes) and win.is_ready()

    return done


def views(win) -> Check:
    win.show_pane("views")
    pane = win.views_pane
    pane.view_box.setCurrentText(sorted(win.model.snapshot.views)[0])
    pane.tabs.setCurrentWidget(pane.roi_editor)
    return _ready(win)


def samples(win) -> Check:
    win.show_pane("samples")
    pane = win.samples_pane
    first = next(s for s in win.model.snapshot.samples if s.has_mask and s.synthetic)
    pane.select_ids([first.id])
    return lambda: pane.editing is not None and pane.editing.id == first.id and win.is_ready()


def synthesis(win) -> Check:
    win.show_pane("synthesis")
    place = win.setup_panes["synthesis"].place
    state = {"clicked": False}

    def done() -> bool:
        if not state["clicked"]:
            if place.bead is None or place.busy:
                return False
            place.type_box.setCurrentIndex(place.type_box.findData("bifurcation"))
            line = max(place.bead.lines, key=lambda ln: ln.length)
            state["clicked"] = True
            place.pick(*line.points[len(line.points) // 2])  # the click on the bead
            return False
        return place.made is not None and not place.busy

    return done


def train(win) -> Check:
    win.show_pane("train")
    pane = win.analysis_panes["train"]
    model, params = TINY_TRAIN
    state = {"started": False, "runs": None}
    pane.trained.connect(lambda ids: state.update(runs=ids["runs"]))

    def done() -> bool:
        if not state["started"]:
            if pane.model_combo.count() == 0:
                return False
            pane.model_combo.setCurrentText(model)
            for key, value in params.items():
                pane.form.set_value(key, value)
            first = sorted(win.model.snapshot.views)[0]
            for i in range(pane.views.count()):
                item = pane.views.item(i)
                item.setCheckState(Qt.CheckState.Checked if item.text() == first else Qt.CheckState.Unchecked)
            state["started"] = True
            pane.train_button.click()
            return False
        return state["runs"] is not None and "image AUROC" in pane.result.text()

    return done


def compare(win) -> Check:
    win.show_pane("compare")
    pane = win.analysis_panes["compare"]
    pane.scale_combo.setCurrentIndex(pane.scale_combo.findData("threshold"))
    snap = win.model.snapshot
    view = snap.runs[0].view
    pane.view_combo.setCurrentText(view)
    state = {"asked": False}

    def done() -> bool:
        if not state["asked"]:
            if pane.busy or not pane.cells:
                return False
            sid = next(iter(pane.cells))[1]
            gt = None
            for s in snap.samples:
                if s.id == sid and s.has_mask:
                    gt = s
            y, x = (np.array(pane.data.images[sid].shape[:2]) // 2).tolist()
            if gt is not None and pane.data.outlines.get(sid) is not None:
                y, x = np.argwhere(pane.data.outlines[sid]).mean(axis=0).astype(int).tolist()
            state["asked"] = True
            pane.pick(sid, int(y), int(x))
            return False
        return "nearest normal patch" in pane.patch_note.text() and "looking up" not in pane.patch_note.text()

    return done


def thresholds(win) -> Check:
    win.show_pane("thresholds")
    pane = win.analysis_panes["thresholds"]
    state = {"phase": 0}

    def done() -> bool:
        if pane.busy or not pane.rows:
            return False
        if state["phase"] == 0:
            pane.select_runs([r.id for r in win.model.snapshot.runs if r.model == "patchcore"])
            state["phase"] = 1
            return False
        if state["phase"] == 1:
            key, row = next(iter(pane.rows.items()))
            d = pane.data[key[0]]
            normals = np.sort(d.peaks(key[1])[~d.labels])
            row.set_value(float(normals[-1]) * 0.98)  # just under the highest normal: one false alarm
            state["phase"] = 2
            return False
        if state["phase"] == 2:
            pane.name.setText("tour")
            pane.save_policy()
            state["phase"] = 3
            return False
        return "tour" in win.model.snapshot.policies and not win.model.busy

    return done


def export(win) -> Check:
    win.show_pane("export")
    pane = win.analysis_panes["export"]
    out = Path(tempfile.mkdtemp(prefix="tour-bundle-")) / "bundle"
    pane.folder.setText(str(out))
    snap = win.model.snapshot
    for view in pane.run_boxes:
        rid = next(r.id for r in snap.runs if r.view == view and r.model == "patchcore")
        pane.choose(view, rid, "tour")
    state = {"result": None}
    pane.exported.connect(lambda r: state.update(result=r))
    pane.write_button.click()
    return lambda: state["result"] is not None


def line(win) -> Check:
    win.analysis_panes["export"].preview_button.click()  # "Try it on a video": the Line step
    pane = win.analysis_panes["line"]
    state = {"summary": None}
    pane.finished.connect(lambda s: state.update(summary=s))
    pane.run_button.click()
    return lambda: state["summary"] is not None


def report(win) -> Check:
    from workbench.gui.panes import report_pane

    report_pane.open_in_browser = lambda path: True  # no browser in a test or a benchmark
    win.show_pane("report")
    pane = win.analysis_panes["report"]
    pane.folder.setText(tempfile.mkdtemp(prefix="tour-report-"))
    pane.robustness.setChecked(False)
    state = {"path": None}
    pane.written.connect(lambda p: state.update(path=p))
    if win.model.dirty:
        win.model.save(on_done=pane.write)
    else:
        pane.write()
    return lambda: state["path"] is not None


STOPS = (
    Stop("start", "open the demo station from the start page", open_demo, 600),
    Stop("station", "click a sample in the tree", station),
    Stop("import", "open the station's video and find its passes", import_video, 300),
    Stop("views", "look at a view's ROI and zones", views),
    Stop("samples", "pick a synthetic sample", samples),
    Stop("synthesis", "click on the bead to place a defect", synthesis),
    Stop("train", "train a small model on one view", train, 600),
    Stop("compare", "read a pixel in Compare, with its nearest normal patch", compare, 300),
    Stop("thresholds", "move a threshold and save the policy", thresholds, 120),
    Stop("export", "write the bundle with the saved policy", export, 900),
    Stop("line", "run the bundle on the video", line, 900),
    Stop("report", "write the report", report, 900),
)


class Tour(QObject):
    """Runs the stops in order; ``arrived(key)`` when a stop is done, ``finished(times)`` at the end
    ({key: seconds}) and ``failed(key, why)`` when a stop took longer than its timeout."""

    arrived = Signal(str)
    finished = Signal(dict)
    failed = Signal(str, str)

    def __init__(self, win, stops=STOPS, until: str | None = None, poll_ms: int = 100, between=None):
        """``between(go_on)``: called after each stop with the function that goes on to the next one
        (a screenshot is taken there); None goes on at once."""
        super().__init__(win)
        self.between = between
        self.win, self.stops = win, list(stops)
        if until is not None:
            self.stops = self.stops[: [s.key for s in self.stops].index(until) + 1]
        self.current: Stop | None = None
        self.times: dict[str, float] = {}
        self._check: Check | None = None
        self._t0 = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self._poll)

    def start(self) -> None:
        self._next()
        self._timer.start()

    def _next(self) -> None:
        if not self.stops:
            self._timer.stop()
            self.current = None
            self.finished.emit(self.times)
            return
        self.current = self.stops.pop(0)
        self._t0 = time.perf_counter()
        self._check = self.current.act(self.win)

    def _poll(self) -> None:
        stop = self.current
        if stop is None:
            return
        if self._check is None or self._check():
            self.times[stop.key] = round(time.perf_counter() - self._t0, 2)
            self.arrived.emit(stop.key)
            if self.between is None:
                self._next()
                return
            self._timer.stop()
            self.current = None

            def go_on() -> None:
                self._next()
                if self.current is not None:
                    self._timer.start()

            self.between(go_on)
        elif time.perf_counter() - self._t0 > stop.timeout_s:
            self._timer.stop()
            self.failed.emit(stop.key, f"not done after {stop.timeout_s:.0f} s: {stop.what}")


def demo_dir_from_env() -> Path | None:
    value = os.environ.get("WORKBENCH_DEMO_DIR")
    return Path(value) if value else None
