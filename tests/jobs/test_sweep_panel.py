"""The Train step's sweep panel: a queued sweep runs in a child, its grid fills in cell by cell, and every
finished cell's runs reach the open station (unsaved, like trained runs)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from evaluate_station import build_station  # noqa: E402

from workbench.models import registry  # noqa: E402


@pytest.fixture
def panel(qtbot, tmp_path):
    from workbench.gui.panes.sweep_panel import SweepPanel
    from workbench.gui.station_model import StationModel

    path = build_station(
        tmp_path / "station.awb", models=(), n_train=4, val=(1, 1), test=(2, 2), synthetic_test=0
    )
    model = StationModel()
    with qtbot.waitSignal(model.opened, timeout=60000):
        model.open(str(path))
    w = SweepPanel(model)
    qtbot.addWidget(w)
    w.set_catalogue({m: registry.describe(m) for m in ("patchcore", "padim")})
    w.resize(900, 600)
    w.show()
    yield w
    w.shutdown()
    model.close()
    model.wait()
    qtbot.wait(100)  # let the I/O thread's last callbacks arrive before the model goes away


def test_a_queued_sweep_fills_its_grid_and_adds_the_runs(panel, qtbot, tmp_path):
    panel.models.setText("padim, patchcore")
    panel.seeds.setText("0-1")
    # one-value grid lines act as fixed parameters: a tiny network without downloaded weights
    panel.grid_text.setPlainText(
        'backbone=resnet18\npretrained=false\nlayers=["layer1", "layer2"]\nn_features=20\n'
        "embed_dim=32\nprojection_dim=16\ndevice=cpu"
    )
    panel.workers.setValue(2)
    seen: list[tuple[int, str]] = []
    panel.job.cellChanged.connect(lambda i, s, f, t: seen.append((i, s)))
    with qtbot.waitSignal(panel.finished, timeout=900000) as done:
        panel.queue_sweep()
        qtbot.waitUntil(lambda: panel.table.rowCount() == 2, timeout=120000)
        assert panel.table.columnCount() == 2 and {panel.state_of(i) for i in range(4)} <= {
            "waiting",
            "running",
        }
    assert done.args[0]["done"] == 4
    assert all(panel.state_of(i) == "done" for i in range(4))
    assert any(s == "running" for _i, s in seen)  # the grid showed cells at work before they finished
    snap = panel.model.snapshot
    runs = [r for r in snap.runs if "sweep" in r.meta]
    assert sorted(r.meta["sweep"]["cell"] for r in runs) == [0, 1, 2, 3]
    assert panel.model.dirty  # in the open station; File > Save keeps them
    out = os.environ.get("WORKBENCH_SCREENSHOT_DIR")
    if out:
        panel.grab().save(os.path.join(out, "sweep_panel.png"))


def test_a_bad_form_is_named_and_queues_nothing(panel):
    panel.models.setText("nosuchmodel")
    panel.queue_sweep()
    assert "unknown model 'nosuchmodel'" in panel.status.text() and not panel.job.running
    panel.models.setText("padim")
    panel.seeds.setText("3-1")
    panel.queue_sweep()
    assert "runs backwards" in panel.status.text()
