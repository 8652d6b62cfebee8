"""EfficientAD: plus its own behaviour."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.models.backbones import MissingWeightsError
from workbench.models.checks import factory_for, tiny_images, tiny_roi
from workbench.models.components.pdn import Autoencoder, pdn
from workbench.models.components.procedural import procedural_images
from workbench.models.efficientad import EfficientAD, teacher_path

torch.set_num_threads(2)

factory = factory_for("efficientad")


def test_pdn_small_sees_33_pixel_patches_and_student_has_twice_the_channels():
    net = pdn("small", 384)
    x = torch.zeros(1, 3, 64, 64, requires_grad=True)
    out = net(x)
    assert out.shape == (1, 384, 16, 16)
    out[0, :, 8, 8].sum().backward()
    rows = torch.nonzero(x.grad[0].abs().sum(0).sum(1)).ravel()
    cols = torch.nonzero(x.grad[0].abs().sum(0).sum(0)).ravel()
    assert int(rows.max() - rows.min() + 1) <= 33 and int(cols.max() - cols.min() + 1) <= 33
    model = EfficientAD(pretrained_teacher=False)
    nets = model._build_nets(for_loading=True)
    assert nets["student"][-1].out_channels == 768
    assert sum(isinstance(m, torch.nn.Conv2d) for m in pdn("small")) == 4
    assert sum(isinstance(m, torch.nn.Conv2d) for m in pdn("medium")) == 6


def test_autoencoder_output_matches_the_teacher_grid():
    ae = Autoencoder(384)
    with torch.no_grad():
        out = ae(torch.zeros(2, 3, 40, 56), (10, 14))
    assert out.shape == (2, 384, 10, 14)


def test_missing_teacher_names_the_script_to_run(tmp_path):
    model = EfficientAD(teacher_weights=str(tmp_path / "nope.safetensors"), image_size=(24, 32), device="cpu")
    with pytest.raises(MissingWeightsError, match="make_efficientad_teacher"):
        model.fit(tiny_images())


@pytest.mark.parametrize("size", ["small", "medium"])
def test_packaged_teacher_is_loaded_by_default_and_saved_with_the_run(size):
    from safetensors.torch import load_file

    if not teacher_path(size).is_file():
        pytest.skip(f"packaged {size} teacher not generated")
    model = EfficientAD(pdn_size=size, image_size=(24, 32), max_iters=1, penalty_images=1, device="cpu")
    model.fit(tiny_images(2))
    file_w = load_file(str(teacher_path(size)))["0.weight"].float().numpy()
    np.testing.assert_array_equal(model.state_dict()["net.teacher.0.weight"], file_w)


def test_training_streams_loss_and_keeps_history():
    messages = []
    model = factory(max_iters=4).fit(tiny_images(), progress=lambda f, m: messages.append((f, m)))
    assert [h["iter"] for h in model.history_] == [1, 2, 3, 4]
    assert all(np.isfinite(h["loss"]) for h in model.history_)
    assert any("loss" in m for _, m in messages) and messages[-1][0] == 1.0


def test_quantile_scaling_comes_from_the_training_set():
    model = factory().fit(tiny_images(), roi=tiny_roi())
    assert model.q_local_[0] < model.q_local_[1] and model.q_global_[0] < model.q_global_[1]
    scores, maps = model.predict(tiny_images(4))
    # Normal training-like images land near the 0.9 quantile mark: 0.1-scaled maps stay small.
    assert float(np.abs(maps).max()) < 1.0


def test_validation_with_labels_records_auroc_and_can_stop_early():
    good = tiny_images(2, seed=11)
    bad = [img.copy() for img in good]
    for img in bad:
        img[10:20, 20:30] = (255, 0, 255)
    model = factory(max_iters=6, val_every=1, patience=1).fit(
        tiny_images(), val_images=good + bad, val_labels=[0, 0, 1, 1]
    )
    vals = [h["val"] for h in model.history_ if "val" in h]
    assert vals and all(-1.0 <= v <= 0.0 for v in vals)  # minus the AUROC
    assert len(model.history_) <= 6


def test_procedural_images_are_seeded_and_varied():
    a = procedural_images(6, (32, 40), seed=3)
    b = procedural_images(6, (32, 40), seed=3)
    assert a.shape == (6, 32, 40, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, procedural_images(6, (32, 40), seed=4))
    assert a.reshape(6, -1).std(1).min() > 1.0


def _student_inputs(model_factory, **params):
    """Fit a tiny model and record the input shape of every student forward pass while training."""
    model = model_factory(**params)
    shapes = []
    build = model._build_nets

    def build_and_hook(for_loading):
        nets = build(for_loading)
        nets["student"].register_forward_hook(
            lambda mod, args, out: shapes.append(tuple(args[0].shape[-2:])) if mod.training else None
        )
        return nets

    model._build_nets = build_and_hook
    model.fit(tiny_images())
    return model, shapes


def test_one_student_pass_serves_both_losses_unless_the_papers_separate_passes_are_asked_for():
    shared, shared_shapes = _student_inputs(factory, max_iters=3)
    paper, paper_shapes = _student_inputs(factory, max_iters=3, separate_passes=True)
    # Per step: the augmented image (+ the plain image with separate passes) and one penalty image.
    assert len(shared_shapes) == 3 * 2 and len(paper_shapes) == 3 * 3
    assert shared.is_fitted and paper.is_fitted


def test_penalty_images_are_generated_at_penalty_size():
    _, shapes = _student_inputs(factory, max_iters=2, penalty_size=16)
    assert shapes.count((24, 32)) == 2 and shapes.count((16, 16)) == 2


def test_time_budget_counts_the_preparation_too():
    # A budget already spent by the teacher statistics still runs one step, then stops.
    model = factory(max_iters=50, time_budget_s=1e-6).fit(tiny_images())
    assert len(model.history_) == 1 and model.is_fitted


def test_schedule_auto_picks_the_cpu_schedule_without_cuda_and_explicit_values_win():
    cpu = EfficientAD(device="cpu").resolved()
    assert cpu == {"schedule": "cpu", "image_size": (128, 128), "lr": 1e-3, "time_budget_s": 300.0}
    paper = EfficientAD(schedule="paper", device="cpu").resolved()
    assert paper == {"schedule": "paper", "image_size": (256, 256), "lr": 1e-4, "time_budget_s": None}
    mixed = EfficientAD(schedule="paper", image_size=(64, 96), lr=5e-4, time_budget_s=20, device="cpu")
    assert mixed.resolved() == {"schedule": "paper", "image_size": (64, 96), "lr": 5e-4, "time_budget_s": 20}
    # The working size the fit uses is the schedule's, and it is what predict and export read back.
    model = EfficientAD(pretrained_teacher=False, max_iters=1, penalty_images=1, device="cpu").fit(
        tiny_images(2)
    )
    assert tuple(model.image_size_) == (128, 128)
    scores, maps = model.predict(tiny_images(1))
    assert maps.shape[1:] == tiny_images(1)[0].shape[:2]


def test_unknown_schedule_and_bad_rate_are_refused_before_training():
    with pytest.raises(ValueError, match="schedule"):
        EfficientAD(schedule="fastest", pretrained_teacher=False, device="cpu").fit(tiny_images(2))
    with pytest.raises(ValueError, match="lr"):
        factory(lr=0.0).fit(tiny_images(2))
