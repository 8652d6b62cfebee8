"""The Report pane writes index.html in a worker process and hands it to the browser."""

from __future__ import annotations

import pytest
from test_pane_thresholds import add_scored_runs


def test_the_report_is_written_to_the_folder_and_opened(window, station, qtbot, tmp_path, monkeypatch):
    from workbench.gui.panes import report_pane

    add_scored_runs(station)
    opened: list[str] = []
    monkeypatch.setattr(report_pane, "open_in_browser", lambda path: opened.append(path) or True)
    window.open_project(str(station))
    qtbot.waitUntil(lambda: window.model.snapshot is not None, timeout=20000)
    window.show_pane("report")
    pane = window.analysis_panes["report"]
    pane.folder.setText(str(tmp_path / "out"))
    assert not pane.robustness.isChecked()
    with qtbot.waitSignal(pane.written, timeout=300000) as done:
        pane.write_button.click()
    index = tmp_path / "out" / "index.html"
    assert done.args[0] == str(index)
    assert index.is_file() and "Evaluation report" in index.read_text(encoding="utf-8")
    assert opened == [str(index)]
    assert "Wrote" in pane.bar.message.text()
    assert pane.open_button.isEnabled()  # and it opens again later
    pane.open_button.click()
    assert opened == [str(index), str(index)]
    pane.folder.setText(str(tmp_path / "elsewhere"))
    assert not pane.open_button.isEnabled()


def test_without_a_folder_nothing_starts_and_the_pane_says_why(window, station, qtbot):
    add_scored_runs(station)
    window.open_project(str(station))
    qtbot.waitUntil(lambda: window.model.snapshot is not None, timeout=20000)
    pane = window.analysis_panes["report"]
    pane.folder.setText("")
    pane.write()
    assert not pane.job.running
    assert "Choose a folder" in pane.bar.message.text()


def test_the_pane_lists_each_runs_test_metrics_before_anything_is_written(window, station, qtbot):
    """The step is not an empty page: the runs the report covers, with their test AUROC from the stored
    scores (checked against scikit-learn), their masking (as the run recorded it) and test-split size."""
    from sklearn.metrics import roc_auc_score

    from workbench.project import Project

    scores = add_scored_runs(station)
    with Project.open(station) as p:
        expected = {}
        for rid, by_sample in scores.items():
            test = p.samples(view=p.run(rid).view, split="test")
            y = [s.label == "defective" for s in test]
            expected[rid] = (len(test), roc_auc_score(y, [by_sample[s.id] for s in test]))
    window.open_project(str(station))
    qtbot.waitUntil(lambda: window.model.snapshot is not None, timeout=20000)
    window.show_pane("report")
    pane = window.analysis_panes["report"]
    qtbot.waitUntil(lambda: pane.runs.rowCount() == len(scores), timeout=20000)
    header = [pane.runs.horizontalHeaderItem(j).text() for j in range(pane.runs.columnCount())]
    for i in range(pane.runs.rowCount()):
        row = dict(zip(header, (pane.runs.item(i, j).text() for j in range(pane.runs.columnCount()))))
        n, auc = expected[row["Run"]]
        assert row["Test samples"].startswith(f"{n} (")
        assert float(row["Image AUROC"]) == pytest.approx(auc, abs=5e-3)  # three significant digits
        assert row["Masking"] == "–" and row["Model"] == "padim"
