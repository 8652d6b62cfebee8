"""The Train pane: a form from the model's own defaults, each view's plan (time, memory, working size; a fit
that would not fit in memory refused), training in a worker process that adds its runs to the open
station with the time left of its fit and predictions, and cancel that leaves the station unchanged."""

from __future__ import annotations

import re

import pytest

TINY = {"backbone": "resnet18", "pretrained": False, "n_features": 20}


@pytest.fixture
def train_pane(opened, qtbot):
    opened._close_confirmed = True  # the tests add runs; closing must not ask about saving them
    opened.show_pane("train")
    pane = opened.analysis_panes["train"]
    qtbot.waitUntil(lambda: pane.model_combo.count() > 0, timeout=120000)
    return pane


def choose(pane, name: str, values: dict) -> None:
    pane.model_combo.setCurrentText(name)
    for key, value in values.items():
        pane.form.set_value(key, value)


def test_the_form_starts_at_the_models_defaults_and_sends_only_changes(train_pane):
    train_pane.model_combo.setCurrentText("padim")
    assert train_pane.form.value("n_features") == 100  # PaDiM's own default, read from describe()
    assert train_pane.form.value("pretrained") is True
    assert "device" not in train_pane.form.fields and "seed" not in train_pane.form.fields
    train_pane.form.set_value("n_features", 20)
    assert train_pane.params()["n_features"] == 20
    assert "sigma" not in train_pane.params()  # unchanged: the model's default applies


def planned(pane) -> bool:
    return bool(pane.plans) and not pane._plan_timer.isActive() and pane.plan.text() != "Planning …"


def test_the_plan_shows_each_views_fit_and_predict_time_memory_and_working_size(opened, train_pane, qtbot):
    from workbench.models.plan import plan_train
    from workbench.project import Project

    choose(train_pane, "padim", TINY)
    qtbot.waitUntil(lambda: planned(train_pane), timeout=300000)
    rows = {r["view"]: r for r in train_pane.plans}
    assert sorted(rows) == ["back", "front"]
    text = train_pane.plan.text()
    snap = opened.model.snapshot
    with Project.open(snap.path) as project:
        for view, row in rows.items():
            train = project.samples(view=view, split="train", label="good")
            images = [project.sample_image(s.id) for s in train]
            n_test = len(project.samples(view=view, split="test"))
            # the plan `workbench train` makes before this view's fit: same sizes, counts and memory
            job = plan_train("padim", train_pane.params(), len(images), [im.shape for im in images], n_test)
            assert (row["n_train"], row["n_predict"]) == (len(images), n_test)
            assert tuple(row["working_size"]) == job.working_size == images[0].shape[:2]
            assert row["peak_ram_bytes"] == pytest.approx(job.peak_ram_bytes, rel=0.05)
            assert row["fit_s"] > 0 and row["predict_s"] > 0 and row["fits_memory"]
            h, w = job.working_size
            assert f"padim at {w}x{h} on {len(images)} images: fit ~" in text
            assert f"predict {n_test} ~" in text
    assert "peak memory ~" in text
    assert "working size 64x48: the images' own size" in text.replace("&#x27;", "'")
    assert train_pane.train_button.isEnabled() and not train_pane.plan.refusal


def test_a_fit_that_would_not_fit_in_memory_is_refused_with_a_size_that_would(train_pane, qtbot):
    huge = {"backbone": "resnet18", "pretrained": False, "batch_size": 16, "image_size": [8192, 8192]}
    choose(train_pane, "patchcore", huge)
    qtbot.waitUntil(lambda: planned(train_pane), timeout=300000)
    assert all(r.get("refused") for r in train_pane.plans)
    assert not train_pane.train_button.isEnabled()
    reason = train_pane.train_button.toolTip()
    assert "8192x8192 needs about" in reason and "is available" in reason
    assert "refused" in train_pane.plan.text()
    hint = [int(v) for v in re.search(r"image_size=\[(\d+), (\d+)\] would need about", reason).groups()]
    assert hint[0] < 8192 and hint[0] == hint[1]  # a size that fits, keeping the aspect
    # a size well inside that one (the free memory moves on a shared machine) lets training start
    small = [hint[0] // 4, hint[1] // 4]
    train_pane.form.set_value("image_size", small)
    qtbot.waitUntil(lambda: planned(train_pane) and not train_pane.plan.refusal, timeout=300000)
    assert all(r["fits_memory"] and list(r["working_size"]) == small for r in train_pane.plans)
    assert train_pane.train_button.isEnabled() and train_pane.train_button.toolTip() == ""


def test_training_adds_one_run_per_view_to_the_open_station(opened, train_pane, qtbot):
    choose(train_pane, "padim", TINY)
    train_pane.form.set_value("batch_size", 1)  # a report per image: the time left moves
    before = {r.id for r in opened.model.snapshot.runs}
    shown = []
    train_pane.bar.progressed.connect(lambda _f, text: shown.append(text))
    with qtbot.waitSignal(train_pane.trained, timeout=240000) as done:
        train_pane.start()
    runs = done.args[0]["runs"]
    # the bar says how far the fit and the test predictions are and how long each has left
    assert any(re.search(r"· fit \d+ %, left \d+:\d\d · all left \d+:\d\d", t) for t in shown), shown
    assert any(re.search(r"· predict \d+/\d+, left \d+:\d\d", t) for t in shown), shown
    snap = opened.model.snapshot
    new = [r for r in snap.runs if r.id not in before]
    assert sorted(r.id for r in new) == sorted(runs)
    assert sorted(r.view for r in new) == ["back", "front"]
    assert all(r.model == "padim" and r.params["n_features"] == 20 for r in new)
    assert all(r.meta["masking"] == "roi" for r in new)  # the switch starts checked: the view's ROI
    assert all("train_augmentation" not in r.meta for r in new)
    assert len(snap.results) == 2  # each run scored its view's test split
    assert opened.model.dirty  # added to the open station; File > Save keeps them
    assert "Trained" in train_pane.bar.message.text()
    qtbot.waitUntil(
        lambda: "image AUROC" in train_pane.result.text() or "needs normal" in train_pane.result.text(),
        timeout=30000,
    )
    for rid in runs:
        assert rid in train_pane.result.text()
    assert train_pane.compare_button.isVisible()
    with qtbot.waitSignal(train_pane.compareRequested) as asked:
        train_pane.compare_button.click()
    assert asked.args[0] == runs
    opened.show_pane("compare")  # the window wires the button to the Compare step


def test_unchecking_the_roi_switch_trains_unmasked_and_augmentation_is_recorded(opened, train_pane, qtbot):
    """Seed 000's ablation from the window: the same model without the ROI; seeds 001/003's augmentation."""
    choose(train_pane, "padim", TINY)
    assert train_pane.roi.isChecked()
    train_pane.roi.setChecked(False)
    train_pane.augment.set_names(["rotation", "gaussian_noise"])
    train_pane.augment.copies.setValue(2)
    assert "Rotation" in train_pane.augment.button.text()
    n_train = {
        v: sum(
            s.view == v and s.split == "train" and s.label == "good" for s in opened.model.snapshot.samples
        )
        for v in ("back", "front")
    }
    with qtbot.waitSignal(train_pane.trained, timeout=240000) as done:
        train_pane.start()
    new = [r for r in opened.model.snapshot.runs if r.id in done.args[0]["runs"]]
    assert sorted(r.view for r in new) == ["back", "front"]
    for r in new:
        assert r.meta["masking"] == "none"
        aug = r.meta["train_augmentation"]
        assert aug["names"] == ["rotation", "gaussian_noise"] and aug["p"] == 0.5 and aug["copies"] == 2
        assert aug["n_images"] == 3 * n_train[r.view]  # the originals and two augmented copies of each


def test_cancel_stops_training_and_leaves_the_station_unchanged(opened, train_pane, qtbot):
    choose(train_pane, "padim", TINY)
    with qtbot.waitSignal(train_pane.job.cancelled, timeout=60000):
        train_pane.start()
        qtbot.waitUntil(lambda: train_pane.job._proc is not None, timeout=60000)
        train_pane.cancel()
    assert opened.model.snapshot.runs == []
    assert not opened.model.dirty
    assert "unchanged" in train_pane.bar.message.text()
    assert train_pane.train_button.isEnabled()


def test_a_bad_parameter_gets_a_message_and_changes_nothing(opened, train_pane, qtbot):
    choose(train_pane, "padim", {**TINY, "layers": []})  # every layer unticked
    with qtbot.waitSignal(train_pane.job.failed, timeout=240000):
        train_pane.start()
    assert "Training failed" in train_pane.bar.message.text()
    assert opened.model.snapshot.runs == []


def test_small_float_defaults_are_not_rounded_into_a_change(qtbot):
    from workbench.gui.widgets.param_form import ParamForm

    form = ParamForm()
    qtbot.addWidget(form)
    form.set_params(
        {"weight_decay": {"default": 1e-5, "type": "float"}, "lr": {"default": 0.4, "type": "float"}}
    )
    assert form.value("weight_decay") == 1e-5  # FastFlow's and SimpleNet's default; 4 decimals made it 0.0
    assert form.values() == {}


def test_parameters_have_editors_of_their_type(train_pane, qtbot):
    from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox

    from workbench.gui.widgets.param_fields import ChecklistField, ChoiceField, PairField, WeightsField

    train_pane.model_combo.setCurrentText("patchcore")
    fields = {name: w for name, (w, _d) in train_pane.form.fields.items()}
    assert isinstance(fields["layers"], ChecklistField)
    assert fields["layers"].value() == ["layer2", "layer3"]  # the model's default, as ticks
    assert isinstance(fields["image_size"], PairField) and fields["image_size"].value() is None
    assert isinstance(fields["pretrained"], QCheckBox)
    assert isinstance(fields["backbone"], ChoiceField) and "resnet18" in [
        fields["backbone"].box.itemText(i) for i in range(fields["backbone"].box.count())
    ]
    assert isinstance(fields["coreset_ratio"], QDoubleSpinBox)
    assert fields["coreset_ratio"].text() == "0.0500"  # three significant digits
    train_pane.form.set_value("image_size", [128, 160])
    assert train_pane.params()["image_size"] == [128, 160]
    assert "coreset_ratio" not in train_pane.params()
    qtbot.waitUntil(lambda: bool(train_pane.form.installed), timeout=120000)
    weights = fields["weights"]
    assert isinstance(weights, WeightsField)
    listed = [weights.box.itemText(i) for i in range(weights.box.count())]
    assert any("efficientnet_lite0" in t and "✔" in t for t in listed)
    assert weights.value() is None  # the packaged default
