"""PatchCore specifics: non-square inputs, ROI-only memory bank, explanations, streaming chunks."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.models import registry
from workbench.models.checks import tiny_images


def tiny_patchcore(**kw):
    params = dict(backbone="resnet18", pretrained=False, device="cpu", embed_dim=64, coreset_ratio=0.5)
    params.update(kw)
    return registry.create("patchcore", **params)


def wide_images(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:60, 0:106]
    base = np.stack([xx * 2, yy * 3, 100 + 0 * xx], -1).astype(np.float32)
    return [np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8) for _ in range(n)]


def test_non_square_input_keeps_its_aspect_and_finds_the_defect():
    model = tiny_patchcore().fit(wide_images(4))
    assert tuple(model.grid_) == (8, 14)  # stride 8 on 60 x 106: no resizing, no distortion
    bad = wide_images(1, seed=9)[0]
    bad[20:36, 70:90] = (255, 255, 0)
    scores, maps = model.predict([wide_images(1, seed=8)[0], bad])
    assert maps.shape == (2, 60, 106)
    assert scores[1] > 2 * scores[0]
    y, x = np.unravel_index(np.argmax(maps[1]), maps[1].shape)
    assert 14 <= y <= 42 and 62 <= x <= 98


def test_memory_bank_holds_only_patches_touching_the_roi():
    roi = np.zeros((60, 106), np.uint8)
    roi[:, :40] = 255  # left part only
    model = tiny_patchcore(coreset_ratio=1.0).fit(wide_images(3), roi=roi)
    cols = model.bank_yx_[:, 1]
    # Grid cells are 106 / 14 = 7.6 px wide: columns 0..5 touch x < 40, the others never enter the bank.
    assert cols.max() == 5
    assert model.memory_bank_.shape[0] == 3 * 8 * 6
    assert set(model.bank_sample_.tolist()) == {0, 1, 2}


def test_explain_points_to_the_training_patch_it_matched():
    images = wide_images(3)
    marked = [img.copy() for img in images]
    marked[2][24:32, 48:56] = (0, 0, 255)  # a blue square only in training image 2
    model = tiny_patchcore(coreset_ratio=1.0).fit(marked)
    query = images[0].copy()
    query[24:32, 48:56] = (0, 0, 255)
    info = model.explain(query, 28, 52)
    assert info["sample_index"] == 2
    assert info["patch_yx"] == info["query_yx"] == (3, 6)
    y0, x0, y1, x1 = info["box"]  # the matched cell, in training-image pixels, covers the square
    assert y0 <= 28 < y1 and x0 <= 52 < x1


def test_streaming_chunks_bound_the_bank_and_keep_scores_close():
    images = tiny_images(6)
    one = tiny_patchcore(coreset_ratio=0.25).fit(images)
    chunked = tiny_patchcore(coreset_ratio=0.25, chunk_patches=70).fit(images)
    assert abs(one.memory_bank_.shape[0] - chunked.memory_bank_.shape[0]) <= 3
    test = tiny_images(2, seed=4)
    bad = test[1]
    bad[16:28, 24:36] = 255
    s1, _ = one.predict(test)
    s2, _ = chunked.predict(test)
    assert s1[1] > s1[0] and s2[1] > s2[0]


def test_working_size_resizes_mixed_sizes_and_maps_come_back_at_input_size():
    model = tiny_patchcore(image_size=(48, 64)).fit([tiny_images(1)[0], wide_images(1)[0]])
    scores, maps = model.predict([tiny_images(1)[0], wide_images(1)[0]])
    assert [m.shape for m in maps] == [(48, 64), (60, 106)]


def test_mixed_sizes_without_image_size_are_refused():
    with pytest.raises(ValueError, match="image_size"):
        tiny_patchcore().fit([tiny_images(1)[0], wide_images(1)[0]])


def test_bad_parameters_are_explained():
    with pytest.raises(ValueError, match="coreset_ratio"):
        tiny_patchcore(coreset_ratio=0).fit(tiny_images(2))
    with pytest.raises(ValueError, match="device"):
        tiny_patchcore(device="tpu").fit(tiny_images(2))


def test_a_bank_above_the_old_ivf_threshold_is_searched_exactly_in_predict_and_in_the_graph(tmp_path):
    # 4,096 patches was where predict used to switch to an approximate search on CPU while the exported
    # graph searched exactly; now both run the one forward, exact.
    import onnxruntime as ort
    import torch

    from workbench.core.working import maps_to_images, working_batch
    from workbench.models.onnx import export_module, export_onnx

    big = [
        np.ascontiguousarray(np.kron(img[:32, :32], np.ones((3, 3, 1), np.uint8))) for img in tiny_images(42)
    ]
    model = tiny_patchcore(coreset_ratio=1.0, embed_dim=16).fit(big[:40])  # 40 x 12 x 12 patches
    assert model.memory_bank_.shape[0] > 4096
    test = big[40:]
    test[1][36:60, 36:60] = (255, 0, 255)
    scores, maps = model.predict(test)
    module = model.inference_module()
    with torch.inference_mode():
        q, dist, _ = module.patch_distances(torch.from_numpy(working_batch(test, model.working_size())))
    brute = torch.cdist(q.reshape(-1, q.shape[-1]), torch.from_numpy(model.memory_bank_)).min(1).values
    np.testing.assert_allclose(dist.reshape(-1).numpy(), brute.numpy(), rtol=1e-3, atol=1e-3)
    path = tmp_path / "m.onnx"
    export_onnx(export_module(model), torch.from_numpy(working_batch(test[:1], model.working_size())), path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for img, s, m in zip(test, scores, maps):
        s_onnx, m_onnx = session.run(None, {"image": working_batch([img], model.working_size())})
        back = maps_to_images(m_onnx, [img.shape], "stretch", model.fitted_roi)[0]
        assert abs(float(s_onnx[0]) - float(s)) <= 1e-3 * float(maps.max())
        assert float(np.abs(back - m).max()) <= 1e-3 * float(maps.max() - maps.min())
    assert scores[1] > scores[0]
