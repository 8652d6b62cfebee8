"""The checks every anomaly model must pass, shipped with the package (as scikit-learn ships ``estimator_checks``).

A plugin author runs them on a model before publishing it::

    from workbench.models.checks import check_model
    check_model("pixelstats")                       # a registered name: its ``quick_params`` are used
    check_model(lambda **kw: MyModel(**kw))         # or a factory of fresh, unfitted models

Each ``check_*`` takes a factory (``factory(**overrides)`` -> a fresh, unfitted model set up for
tiny CPU work) and raises ``AssertionError`` saying what failed. Together they ask: fit on tiny data
and predict shapes; a defect scores higher; pixels outside the ROI change nothing; a saved and
reloaded state gives bitwise identical maps; the same seed gives the same maps; cancel stops fit and
predict promptly and leaves the model unfitted; bad input and bad parameter values are refused
before any work with one line naming them; grey, 16-bit and RGBA images are accepted; and the
exported ONNX graph gives predict's maps (within 1e-3 of their range; RGB and single-channel 8- and
16-bit frames) and verdicts in onnxruntime.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np

from workbench.core.progress import Cancelled, CancelToken
from workbench.core.working import maps_to_images, to_rgb8, working_batch

Factory = Callable[..., Any]
H, W = 48, 64
PARITY_TOLERANCE = 1e-3  # of the map range, as the export's parity gate


def tiny_images(n: int = 4, seed: int = 0) -> list[np.ndarray]:
    """n (H, W, 3) uint8 'normal' images: a smooth gradient with mild noise (same scene each time)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    base = np.stack([60 + xx * 2, 80 + yy * 2, 120 + (xx + yy)], axis=-1).astype(np.float32)
    return [np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8) for _ in range(n)]


def tiny_roi() -> np.ndarray:
    """(H, W) uint8 ROI: a rectangle inside the tiny images."""
    roi = np.zeros((H, W), dtype=np.uint8)
    roi[8:40, 12:52] = 255
    return roi


def with_defect(image: np.ndarray) -> np.ndarray:
    """A copy of a tiny image with a saturated magenta square in the middle of the ROI."""
    bad = image.copy()
    bad[16:28, 24:36] = (255, 0, 255)
    return bad


def check_fit_predict_shapes(factory: Factory) -> None:
    model = factory()
    assert model.fit(tiny_images()) is model, "fit must return self"
    scores, maps = model.predict(tiny_images(2, seed=1))
    assert scores.shape == (2,) and scores.dtype == np.float32, f"scores: {scores.shape} {scores.dtype}"
    assert maps.shape == (2, H, W) and maps.dtype == np.float32, f"maps: {maps.shape} {maps.dtype}"
    assert np.isfinite(scores).all() and np.isfinite(maps).all(), "scores and maps must be finite"
    params = model.get_params()
    json.dumps(params)
    assert params == factory().get_params(), "fit must not change the parameters"


def check_defect_scores_higher(factory: Factory) -> None:
    model = factory().fit(tiny_images(6))
    good = tiny_images(1, seed=5)[0]
    scores, maps = model.predict([good, with_defect(good)])
    assert scores[1] > scores[0], f"a defect must score higher: {scores}"
    assert maps[1, 16:28, 24:36].mean() > maps[1, :, :8].mean(), "the map must be higher on the defect"


def check_roi_respected(factory: Factory) -> None:
    roi = tiny_roi()
    images = tiny_images()
    a = factory().fit(images, roi=roi)
    changed = [img.copy() for img in images]
    for img in changed:
        img[roi == 0] = 255 - img[roi == 0]  # scramble everything outside the ROI
    b = factory().fit(changed, roi=roi)
    sa, sb = a.state_dict(), b.state_dict()
    for key in sa:
        np.testing.assert_allclose(sa[key], sb[key], rtol=1e-5, atol=1e-5, err_msg=key)
    test = tiny_images(2, seed=3)
    _, maps = a.predict(test)
    assert np.all(maps[:, roi == 0] == 0), "maps must be 0 outside the ROI"
    test2 = [t.copy() for t in test]
    for t in test2:
        t[roi == 0] = 0
    _, maps2 = a.predict(test2)
    np.testing.assert_allclose(
        maps, maps2, rtol=1e-5, atol=1e-5, err_msg="pixels outside the ROI changed the map"
    )


def check_state_round_trip(factory: Factory) -> None:
    model = factory().fit(tiny_images())
    state = model.state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values()), "state_dict must hold numpy arrays only"
    test = tiny_images(2, seed=7)
    scores, maps = model.predict(test)
    clone = factory().load_state_dict({k: v.copy() for k, v in state.items()})
    scores2, maps2 = clone.predict(test)
    assert np.array_equal(maps, maps2) and np.array_equal(scores, scores2), (
        "a reloaded state gives other maps"
    )


def check_deterministic(factory: Factory) -> None:
    test = tiny_images(2, seed=9)
    s1, m1 = factory().fit(tiny_images()).predict(test)
    s2, m2 = factory().fit(tiny_images()).predict(test)
    assert np.array_equal(m1, m2) and np.array_equal(s1, s2), "two fits with the same seed differ"


def check_cancel_prompt(factory: Factory) -> None:
    """Cancel set at the first progress report: fit stops before doing much more work, predict at once."""
    token = CancelToken()
    calls = []

    def progress(fraction, message="", **_):
        calls.append(fraction)
        token.cancel()

    model = factory()
    try:
        model.fit(tiny_images(12), progress=progress, cancel=token)
    except Cancelled:
        pass
    else:
        raise AssertionError("fit ignored cancel")
    assert len(calls) <= 2, f"fit kept reporting after cancel: {calls}"
    assert not model.is_fitted, "a cancelled fit must leave the model unfitted"
    pre = CancelToken()
    pre.cancel()
    fitted = factory().fit(tiny_images())
    try:
        fitted.predict(tiny_images(2), cancel=pre)
    except Cancelled:
        return
    raise AssertionError("predict ignored cancel")


def _raises(fn: Callable[[], Any], kind: type[BaseException], words: str) -> None:
    try:
        fn()
    except kind as exc:
        assert words in str(exc), f"the error should say {words!r}: {exc}"
        assert "\n" not in str(exc).strip(), f"the error should be one line: {exc!r}"
        return
    raise AssertionError(f"expected {kind.__name__} mentioning {words!r}")


def check_bad_input(factory: Factory) -> None:
    model = factory()
    _raises(lambda: model.fit([]), ValueError, "empty")
    _raises(lambda: model.fit([img.astype(np.float32) for img in tiny_images()]), ValueError, "uint8")
    _raises(lambda: model.fit([img[..., :2] for img in tiny_images()]), ValueError, "(H, W) grey")
    _raises(lambda: model.fit(tiny_images(), roi=np.ones((10, 10), np.uint8)), ValueError, "roi")
    _raises(lambda: factory().predict(tiny_images(1)), Exception, "fit")


def bad_value(param: Any) -> Any:
    """A value a parameter of this kind must refuse: text for numbers, NaN for reals, far too large sizes."""
    return {"int": "abc", "float": float("nan"), "bool": "yes", "tuple": [20000, 20000]}.get(
        param.type, 12345
    )


def check_params_validated(factory: Factory) -> None:
    """Every declared parameter refuses a bad value before any work, naming itself in one line."""
    spec = getattr(factory(), "params", {})
    for name, param in spec.items():
        value = bad_value(param)
        calls = []
        try:
            model = factory(**{name: value})
            model.fit(tiny_images(), progress=lambda *a, _calls=calls, **k: _calls.append(a))
        except ValueError as exc:
            assert f"{name}=" in str(exc), f"{name}={value!r}: the error does not name it: {exc}"
            assert not calls, f"{name}={value!r}: work started before the value was refused"
            continue
        raise AssertionError(f"{name}={value!r} was accepted")


def check_input_formats(factory: Factory) -> None:
    """Grey (H, W), grey (H, W, 1), 16-bit and RGBA images are accepted and mean the same as their RGB copies."""
    grey = [img[..., 1].copy() for img in tiny_images()]
    model = factory().fit(grey)
    test = [img[..., 1].copy() for img in tiny_images(2, seed=4)]
    test[1][16:28, 24:36] = 255
    s_grey, m_grey = model.predict(test)
    as_rgb = [to_rgb8(t) for t in test]
    for name, images in {
        "grey (H, W, 1)": [t[..., None] for t in test],
        "16-bit grey": [t.astype(np.uint16) * 257 for t in test],
        "RGB copy": as_rgb,
        "RGBA": [np.concatenate([t, np.full((*t.shape[:2], 1), 255, np.uint8)], axis=2) for t in as_rgb],
    }.items():
        s, m = model.predict(images)
        assert np.array_equal(s, s_grey) and np.array_equal(m, m_grey), f"{name} images give other maps"
    wide = factory().fit([g.astype(np.uint16) * 257 for g in grey])
    assert np.array_equal(wide.predict(test)[1], m_grey), "a 16-bit fit differs from the 8-bit one"


def check_export_parity(factory: Factory, tmp_dir: str | None = None) -> None:
    """The ONNX graph of the model's forward gives predict's maps in onnxruntime: difference <= 1e-3 of
    the map range, identical verdicts at a threshold between the scores."""
    import onnxruntime as ort
    import torch

    from workbench.models.onnx import export_module, export_onnx

    roi = tiny_roi()
    model = factory().fit(tiny_images(), roi=roi)
    good = tiny_images(3, seed=11)
    test = [*good, with_defect(good[0]), with_defect(good[1])]
    scores, maps = model.predict(test)
    size, mode = model.working_size(), model.resize_mode
    with tempfile.TemporaryDirectory(dir=tmp_dir) as tmp:
        path = os.path.join(tmp, "model.onnx")
        example = torch.from_numpy(working_batch(test[:1], size, mode))
        export_onnx(export_module(model), example, path, model.name)
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        out_s, out_m = [], []
        for img in test:
            s, m = session.run(None, {session.get_inputs()[0].name: working_batch([img], size, mode)})
            out_s.append(float(s.reshape(-1)[0]))
            out_m.append(maps_to_images(m[:1], [img.shape], mode, model.fitted_roi)[0])
        # Single-channel frames (8- and 16-bit, as monochrome line cameras give) reach the graph
        # through the same conversion as predict's images.
        grey = test[3][..., 1].copy()
        frames = {"grey 8-bit": grey, "grey 16-bit": grey.astype(np.uint16) * 257 + 100}
        grey_maps = model.predict(list(frames.values()))[1]
        grey_diffs = {}
        for (name, frame), expected in zip(frames.items(), grey_maps):
            _, m = session.run(None, {session.get_inputs()[0].name: working_batch([frame], size, mode)})
            got = maps_to_images(m[:1], [frame.shape], mode, model.fitted_roi)[0]
            grey_diffs[name] = float(np.abs(got - expected).max())
    span = float(maps.max() - maps.min()) or 1.0
    diff = float(np.abs(np.stack(out_m) - maps).max())
    assert diff <= PARITY_TOLERANCE * span, f"ONNX maps differ by {diff:.3g} = {diff / span:.3g} of the range"
    ranked = np.sort(scores)
    threshold = 0.5 * (ranked[len(ranked) // 2 - 1] + ranked[len(ranked) // 2])
    assert np.array_equal(np.asarray(out_s) > threshold, scores > threshold), (
        "ONNX verdicts differ from torch's"
    )
    score_span = float(scores.max() - scores.min()) or 1.0
    score_diff = float(np.abs(np.asarray(out_s) - scores).max())
    assert score_diff <= PARITY_TOLERANCE * max(span, score_span), f"ONNX scores differ by {score_diff:.3g}"
    for name, d in grey_diffs.items():
        assert d <= PARITY_TOLERANCE * span, f"{name} frames: ONNX maps differ by {d / span:.3g} of the range"


CHECKS = [
    check_fit_predict_shapes,
    check_defect_scores_higher,
    check_roi_respected,
    check_state_round_trip,
    check_deterministic,
    check_cancel_prompt,
    check_bad_input,
    check_params_validated,
    check_input_formats,
    check_export_parity,
]


def factory_for(name: str, **overrides: Any) -> Factory:
    """A factory of the registered model ``name`` with its ``quick_params`` (tiny, CPU) and ``overrides``."""
    from workbench.models import registry

    quick = dict(getattr(registry.get(name), "quick_params", {}))
    quick.update(overrides)
    return lambda **kw: registry.create(name, **{**quick, **kw})


def check_model(model: str | Factory, checks: list[Callable[[Factory], None]] | None = None) -> None:
    """Run every check (or ``checks``) on a registered model name or a factory; the first failure raises."""
    factory = factory_for(model) if isinstance(model, str) else model
    for check in checks or CHECKS:
        try:
            check(factory)
        except AssertionError as exc:
            raise AssertionError(f"{check.__name__}: {exc}") from exc
