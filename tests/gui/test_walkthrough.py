"""A person sets up the demo station from nothing in the window alone: new station, the video opened and
its passes found, three templates dragged on frames with their crop windows, the import, labels and a
split, an ROI polygon with a margin and two named zones, two models trained, their heatmaps compared,
a threshold moved with the counts following, a policy saved, a bundle written with it in the Export step
(its thresholds are the saved policy's, and `workbench export` ships the same), the bundle run on the
video in the Line step with a verdict per part, the station saved, reopened and all there.

Every step goes through the window's own widgets (clicks, drags and values set on them) or the slots
those widgets call; the project is only read back to check.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QPushButton
from test_pane_views import drag
from workflow import MODELS, ROI_MARGIN, SPLIT, render_video

from workbench.gui.widgets.threshold_row import plain, shown_text

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SLOW = 300_000  # ms: a training or an import on two busy cores


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("walkthrough")
    truth, views = render_video(folder / "video")
    return folder, truth, views


def settle(w, qtbot, timeout: int = 30000) -> None:
    qtbot.waitUntil(
        lambda: not w.model.busy and not any(p.busy for p in w.setup_panes.values()), timeout=timeout
    )


def button(pane, text: str) -> QPushButton:
    return next(b for b in pane.findChildren(QPushButton) if b.text() == text)


def click(qtbot, widget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def good_pass(truth: dict) -> dict:
    return next(p for p in truth["passes"] if not p["defects"])


def sample_truth(truth: dict, sample) -> bool:
    """True when the renderer put a defect in this sample's view of its part."""
    part = next(p for p in truth["passes"] if p["first_frame"] <= sample.frame <= p["last_frame"])
    return any(d["view"] == sample.view for d in part["defects"])


def roi_polygon(path) -> list[tuple[int, int]]:
    """The corners of a rough polygon around the demo's ROI (what a user would click around the bead)."""
    roi = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    hull = cv2.convexHull(cv2.findNonZero((roi > 0).astype(np.uint8)))
    corners = cv2.approxPolyDP(hull, 6.0, True).reshape(-1, 2)
    return [(int(x), int(y)) for x, y in corners]


# --- the steps --------------------------------------------------------------------------------------
def new_station(w, qtbot, path) -> None:
    w.files.ask_save_path = lambda _title: str(path)  # the file dialog's answer
    click(qtbot, w.start_page.new_button)
    qtbot.waitUntil(lambda: w.model.snapshot is not None, timeout=20000)


def open_video(w, qtbot, video, n_passes: int) -> None:
    w.show_pane("import")
    pane = w.import_pane
    assert pane.open_path(str(video))  # what the Video … dialog or a drop does
    qtbot.waitUntil(lambda: pane.info is not None and pane.canvas.image is not None, timeout=20000)
    click(qtbot, pane.find_button)
    qtbot.waitUntil(lambda: not pane.job.running, timeout=SLOW)
    assert len(pane.timeline.passes) == n_passes, pane.job.message.text()


def cut_template(w, qtbot, name: str, frame: int, xy: tuple[int, int], size: tuple[int, int], crop) -> None:
    """Scrub to ``frame``, drag the template's rectangle, name the view, cut it, set the crop window."""
    w.show_pane("import")
    w.import_pane.scrubber.slider.setValue(frame)
    w.show_pane("views")
    pane = w.views_pane
    pane.tabs.setCurrentIndex(0)
    qtbot.waitUntil(lambda: pane.frame_index == frame, timeout=20000)
    pane.view_box.setEditText(name)
    settle(w, qtbot)
    (x, y), (tw, th) = xy, size
    drag(qtbot, pane.canvas, (x + 0.5, y + 0.5), (x + tw + 0.5, y + th + 0.5))
    assert pane.rect is not None and abs(pane.rect[2] - tw) <= 3 and abs(pane.rect[3] - th) <= 3
    click(qtbot, pane.cut_button)
    qtbot.waitUntil(lambda: name in w.model.snapshot.views, timeout=20000)
    settle(w, qtbot)
    for key, value in zip("xywh", crop):
        pane.crop_spins[key].setValue(value)
        settle(w, qtbot)
    pane.threshold.setValue(0.5)
    qtbot.waitUntil(lambda: w.model.snapshot.views[name].match_threshold == pytest.approx(0.5), timeout=20000)
    settle(w, qtbot)


def paint_roi(w, qtbot, name: str, corners: list[tuple[int, int]], zones: bool) -> None:
    """A polygon for the ROI, the margin slider, and (``zones``) two zones painted as rectangles."""
    pane = w.views_pane
    w.show_pane("views")
    pane.view_box.setCurrentText(name)
    pane.tabs.setCurrentWidget(pane.roi_editor)
    settle(w, qtbot)
    roi = pane.roi_editor
    qtbot.waitUntil(lambda: roi.editor.mask is not None and roi.view.name == name, timeout=20000)
    roi.layers.setCurrentRow(0)
    roi.editor.tool_buttons["polygon"].click()
    canvas = roi.editor.canvas
    for x, y in corners:
        qtbot.mouseClick(
            canvas.viewport(), Qt.MouseButton.LeftButton, pos=canvas.widget_pos(x + 0.5, y + 0.5).toPoint()
        )
    qtbot.keyClick(canvas, Qt.Key.Key_Return)  # closes the polygon
    qtbot.waitUntil(
        lambda: w.model.snapshot.views[name].roi is not None and w.model.snapshot.views[name].roi.any(),
        timeout=20000,
    )
    settle(w, qtbot)
    roi.margin.setValue(ROI_MARGIN)
    qtbot.waitUntil(lambda: w.model.snapshot.views[name].roi_margin == ROI_MARGIN, timeout=20000)
    settle(w, qtbot)
    if not zones:
        return
    v = w.model.snapshot.views[name]
    for k, zone in enumerate(("left", "right")):
        roi.add_zone(zone)
        qtbot.waitUntil(lambda z=zone: z in w.model.snapshot.views[name].zone_names, timeout=20000)
        settle(w, qtbot)
        assert roi.layer == k + 1
        roi.editor.tool_buttons["rect"].click()
        half = v.crop.w // 2  # the two rectangles overlap and pass the edges: every pixel in a zone
        x0, x1 = (-3, half + 3) if k == 0 else (half - 3, v.crop.w + 3)
        drag(qtbot, canvas, (x0, -3), (x1, v.crop.h + 3))
        qtbot.waitUntil(lambda k=k: (w.model.snapshot.views[name].zones == k + 1).any(), timeout=20000)
        settle(w, qtbot)


def import_video(w, qtbot, n_passes: int) -> None:
    w.show_pane("import")
    click(qtbot, w.import_pane.import_button)
    qtbot.waitUntil(lambda: not w.import_pane.job.running, timeout=SLOW)
    settle(w, qtbot)
    assert f"Imported {3 * n_passes} samples" in w.import_pane.job.message.text()


def label_and_split(w, qtbot, truth: dict) -> None:
    w.show_pane("samples")
    pane = w.samples_pane
    settle(w, qtbot)
    snap = w.model.snapshot
    defective = [s.id for s in snap.samples if sample_truth(truth, s)]
    for label, ids in (("good", [s.id for s in snap.samples]), ("defective", defective)):
        pane.select_ids(ids)
        pane.label_box.setCurrentText(label)
        click(qtbot, button(pane, "Set label"))
        qtbot.waitUntil(
            lambda ids=ids, lab=label: all(w.model.snapshot.sample(i).label == lab for i in ids),
            timeout=20000,
        )
        settle(w, qtbot)
    pane.train.setValue(SPLIT["train"])
    pane.val.setValue(SPLIT["val"])
    pane.test.setValue(SPLIT["test"])
    click(qtbot, pane.split_button)
    qtbot.waitUntil(lambda: all(s.split != "unassigned" for s in w.model.snapshot.samples), timeout=20000)
    settle(w, qtbot)


def train(w, qtbot, model: str, params: dict) -> list[str]:
    w.show_pane("train")
    pane = w.analysis_panes["train"]
    qtbot.waitUntil(lambda: pane.model_combo.count() > 0, timeout=SLOW)
    pane.model_combo.setCurrentText(model)
    for key, value in params.items():
        pane.form.set_value(key, value)
    with qtbot.waitSignal(pane.trained, timeout=SLOW) as done:
        click(qtbot, pane.train_button)
    settle(w, qtbot)
    return done.args[0]["runs"]


def export_bundle(w, qtbot, runs: list[str], policy: str, out) -> Path:
    w.show_pane("export")
    pane = w.analysis_panes["export"]
    snap = w.model.snapshot
    for rid in runs:
        view = next(r.view for r in snap.runs if r.id == rid)
        pane.choose(view, rid, policy)
    chosen_runs, names = pane.chosen()
    assert sorted(chosen_runs) == sorted(runs) and names == [policy]
    pane.folder.setText(str(out))
    with qtbot.waitSignal(pane.job.failed, timeout=SLOW) as refused:
        click(qtbot, pane.write_button)
    assert "normals" in refused.args[0] and "normal" in pane.bar.message.text()
    pane.accept_small.setChecked(True)  # read, understood: a small demo station
    with qtbot.waitSignal(pane.exported, timeout=SLOW) as done:
        click(qtbot, pane.write_button)
    result = done.args[0]
    assert result["parity"]["passed"] and pane.manifest.topLevelItemCount() > 0
    assert "parity passed" in pane.parity.text()
    return Path(result["path"])


def assert_ships(bundle: Path, saved: dict, runs: list[str], snap) -> None:
    """The bundle's threshold of every view is the saved policy's, for the run it was saved for."""
    import json

    from workbench.metrics import ThresholdPolicy

    manifest = json.loads((bundle / "manifest.json").read_text())
    want = ThresholdPolicy.from_dict(saved)
    for v in manifest["views"]:
        shipped = ThresholdPolicy.from_dict(v["policy"])
        assert v["run"]["id"] in runs and saved["params"]["runs"][v["name"]] == v["run"]["id"]
        assert shipped.level == want.level
        assert shipped.threshold_for(v["name"]) == pytest.approx(want.threshold_for(v["name"]))
        for zone, t in want.per_zone.get(v["name"], {}).items():
            assert shipped.threshold_for(v["name"], zone) == pytest.approx(t)


def cli_export(station: Path, runs: list[str], policy: str, out: Path) -> Path:
    """The bundle `workbench export STATION --run ... --policy POLICY` writes (a small demo: accepted)."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "workbench", "export", str(station), "--out", str(out), "--policy", policy]
    cmd += [a for rid in runs for a in ("--run", rid)] + ["--accept-small-validation"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=SLOW / 1000)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def shipped_policies(bundle: Path) -> dict[str, dict]:
    """{view: (run id, level, its threshold, its zone thresholds)} of a bundle's manifest."""
    import json

    from workbench.metrics import ThresholdPolicy

    out = {}
    for v in json.loads((bundle / "manifest.json").read_text())["views"]:
        pol = ThresholdPolicy.from_dict(v["policy"])
        out[v["name"]] = (
            v["run"]["id"],
            pol.level,
            pol.threshold_for(v["name"]),
            pol.per_zone.get(v["name"]),
        )
    return out


def line_preview(w, qtbot, bundle: Path, n_passes: int) -> None:
    export = w.analysis_panes["export"]
    click(qtbot, export.preview_button)  # "Try it on a video"
    pane = w.analysis_panes["line"]
    assert w.workspace.current == "line" and pane.bundle.text() == str(bundle)
    assert pane.source.text() == w.model.snapshot.video_sources()[0].uri
    with qtbot.waitSignal(pane.finished, timeout=SLOW) as done:
        click(qtbot, pane.run_button)
    assert done.args[0]["parts"] == n_passes == pane.table.rowCount()
    verdicts = {pane.table.item(r, 2).text() for r in range(pane.table.rowCount())}
    assert verdicts <= {"OK", "NG"} and verdicts
    assert f"{n_passes}</b> parts" in pane.totals.text()
    pane.table.selectRow(0)
    assert pane.picture_grid.count() >= 2  # the chosen part's views with their heatmaps


def colour_scales(compare) -> set[tuple[float, float]]:
    return {tuple(np.round(h.getLevels(), 6)) for _v, _i, h in compare.cells.values()}


# --- the walk-through -------------------------------------------------------------------------------
def test_a_station_is_set_up_from_nothing_in_the_window(window, qtbot, demo, tmp_path, settings):
    folder, truth, views_doc = demo
    n = len(truth["passes"])
    w = window
    w.resize(1600, 1000)
    path = tmp_path / "line1.awb"

    assert w.workspace.current == "start"  # the first look: the start page
    new_station(w, qtbot, path)
    assert w.workspace.current == "import"  # an empty station opens where it is filled
    assert path.exists() and w.model.snapshot.samples == []

    open_video(w, qtbot, folder / "video" / truth["video"], n)
    part = good_pass(truth)
    for doc in views_doc["views"]:
        at = part["views"][doc["name"]]
        size = tuple(doc["template_rect"][2:])
        cut_template(w, qtbot, doc["name"], at["best_frame"], at["template_xy"], size, doc["crop"])
    snap = w.model.snapshot
    assert sorted(snap.views) == ["back", "center", "front"]
    for doc in views_doc["views"]:
        v = snap.views[doc["name"]]
        assert (v.crop.x, v.crop.y, v.crop.w, v.crop.h) == tuple(doc["crop"])
        assert abs(v.template.shape[1] - doc["template_rect"][2]) <= 3

    import_video(w, qtbot, n)
    snap = w.model.snapshot
    assert len(snap.samples) == 3 * n and {s.view for s in snap.samples} == {"back", "center", "front"}
    for s in snap.samples:  # template matching picked the renderer's best frame of each part and view
        part_truth = next(p for p in truth["passes"] if p["first_frame"] <= s.frame <= p["last_frame"])
        assert abs(part_truth["views"][s.view]["best_frame"] - s.frame) <= 2

    for doc in views_doc["views"]:
        paint_roi(
            w,
            qtbot,
            doc["name"],
            roi_polygon(folder / "video" / doc["roi_mask"]),
            zones=doc["name"] == "center",
        )
    label_and_split(w, qtbot, truth)
    snap = w.model.snapshot
    test = [s for s in snap.samples if s.split == "test"]
    assert {s.label for s in test} == {"good", "defective"}
    assert not any(s.label == "defective" for s in snap.samples if s.split == "train")

    trained = {model: train(w, qtbot, model, params) for model, params in MODELS}
    snap = w.model.snapshot
    assert len(snap.runs) == 6 and {r.model for r in snap.runs} == {"patchcore", "padim"}
    assert all(
        sorted(snap.runs[[r.id for r in snap.runs].index(i)].view for i in ids) == ["back", "center", "front"]
        for ids in trained.values()
    )

    # Compare: both runs of a view side by side (a colour scale each, or one); a clicked pixel reads both.
    w.show_pane("compare")
    compare = w.analysis_panes["compare"]
    compare.view_combo.setCurrentText("center")
    n_test = sum(1 for s in test if s.view == "center")
    qtbot.waitUntil(lambda: len(compare.cells) == 2 * min(3, n_test) and not compare.busy, timeout=30000)
    assert colour_scales(compare) == {(0.0, 2.0)}, "by default every map in units of its run's threshold"
    compare.scale_combo.setCurrentIndex(compare.scale_combo.findData("run"))
    assert len(colour_scales(compare)) == 2, "two models score in their own units: a colour scale each"
    compare.scale_combo.setCurrentIndex(compare.scale_combo.findData("shared"))
    assert len(colour_scales(compare)) == 1
    vb, img, _heat = next(iter(compare.cells.values()))
    qtbot.waitUntil(lambda: vb.sceneBoundingRect().width() > 10, timeout=10000)
    centre = compare.grid.mapFromScene(vb.mapViewToScene(img.boundingRect().center()))
    qtbot.mouseClick(compare.grid.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(centre.x(), centre.y()))
    qtbot.waitUntil(lambda: compare.picked is not None, timeout=10000)
    for rid in compare.data.maps:
        assert f"{rid} (" in compare.info.text()

    # Thresholds: the newest training's sliders; moving one changes the counts as the scores say.
    w.show_pane("thresholds")
    pane = w.analysis_panes["thresholds"]
    qtbot.waitUntil(lambda: len(pane.rows) == 3 and not pane.busy, timeout=30000)
    assert set(pane.data) == set(trained["padim"])
    (rid, region), row = next((k, r) for k, r in pane.rows.items() if pane.data[k[0]].view == "center")
    d = pane.data[rid]
    row.slider.setValue(1000)  # above every score: nothing flagged
    none = row.counts.text()
    assert pane.counts(rid).tp + pane.counts(rid).fp == 0
    row.slider.setValue(0)  # below every score: everything flagged
    assert row.counts.text() != none and pane.counts(rid).tp + pane.counts(rid).fp == len(d.scores)
    row.slider.setValue(700)
    t = row.value()
    want = (int(((d.scores >= t) & d.labels).sum()), int(((d.scores >= t) & ~d.labels).sum()))
    assert (pane.counts(rid).tp, pane.counts(rid).fp) == want
    assert shown_text(pane.counts(rid)) == plain(row.counts.text())
    # Per zone: the center view's two zones get their own sliders; the others one for the whole ROI.
    pane.set_scope("zone")
    qtbot.waitUntil(lambda: len(pane.rows) == 4 and not pane.busy, timeout=60000)
    assert sorted(r for (rr, r) in pane.rows if pane.data[rr].view == "center") == ["left", "right"]
    left = next(r for (rr, reg), r in pane.rows.items() if reg == "left")
    left.slider.setValue(1000)
    right = next(r for (rr, reg), r in pane.rows.items() if reg == "right")
    right.slider.setValue(1000)  # both zones above every peak: nothing of center is flagged
    center = next(rr for rr in pane.data if pane.data[rr].view == "center")
    assert pane.counts(center).tp + pane.counts(center).fp == 0
    saved_zone_values = {k: r.value() for k, r in pane.rows.items()}
    pane.name.setText("walkthrough")
    click(qtbot, pane.save_button)
    qtbot.waitUntil(lambda: "walkthrough" in w.model.snapshot.policies, timeout=20000)

    # Export: the padim runs with the policy just saved; export refuses a threshold on too few normals
    # until the user accepts it, writes the bundle, and the bundle's thresholds are the saved policy's.
    bundle = export_bundle(w, qtbot, trained["padim"], "walkthrough", tmp_path / "bundle")
    saved_policy = w.model.snapshot.policies["walkthrough"]
    assert_ships(bundle, saved_policy, trained["padim"], w.model.snapshot)

    # Line: the bundle on the video, in the window: a verdict per part.
    line_preview(w, qtbot, bundle, n)

    # Save (File ▸ Save) and reopen in a fresh window: everything is there.
    w.files.save.trigger()
    qtbot.waitUntil(lambda: not w.model.dirty and not w.model.busy, timeout=60000)
    w._close_confirmed = True
    w.close()

    # `workbench export` on the saved station with the policy saved in the window ships the same thresholds.
    cli_bundle = cli_export(path, trained["padim"], "walkthrough", tmp_path / "cli-bundle")
    assert_ships(cli_bundle, saved_policy, trained["padim"], None)
    assert shipped_policies(cli_bundle) == shipped_policies(bundle)

    from workbench.gui.main_window import MainWindow

    again = MainWindow(settings=settings, probe_device=False)
    qtbot.addWidget(again)
    again.resize(1600, 1000)
    again.show()
    again.open_project(str(path))
    qtbot.waitUntil(lambda: again.model.snapshot is not None, timeout=20000)
    snap = again.model.snapshot
    assert sorted(snap.views) == ["back", "center", "front"]
    assert all(v.roi is not None and v.roi.any() and v.roi_margin == ROI_MARGIN for v in snap.views.values())
    assert snap.views["center"].zone_names == ["left", "right"]
    assert len(snap.samples) == 3 * n and sum(s.label == "defective" for s in snap.samples) == sum(
        sample_truth(truth, s) for s in snap.samples
    )
    assert len(snap.runs) == 6 and len(snap.results) == 6
    assert snap.policies["walkthrough"]["level"] == "pixel"
    again.show_pane("thresholds")
    reopened = again.analysis_panes["thresholds"]
    qtbot.waitUntil(lambda: len(reopened.rows) == 4 and not reopened.busy, timeout=60000)
    assert reopened.scope_combo.currentData() == "zone" and reopened.name.text() == "walkthrough"
    assert {k: r.value() for k, r in reopened.rows.items()} == pytest.approx(saved_zone_values)
    again._close_confirmed = True
    again.close()
