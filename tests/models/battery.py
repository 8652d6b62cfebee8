"""The shared test battery every registered model must pass (plugins can reuse it).

Use: ``run_battery(factory)`` where ``factory(**overrides)`` returns a fresh, unfitted model set up
for tiny CPU work (e.g. a random-init backbone); each ``check_*`` can also be called alone.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from workbench.core.progress import Cancelled, CancelToken

Factory = Callable[..., object]
H, W = 48, 64


def tiny_images(n: int = 4, seed: int = 0) -> list[np.ndarray]:
    """n (H, W, 3) uint8 'normal' images: a smooth gradient with mild noise (same scene each time)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    base = np.stack([60 + xx * 2, 80 + yy * 2, 120 + (xx + yy)], axis=-1).astype(np.float32)
    return [np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8) for _ in range(n)]


def tiny_roi() -> np.ndarray:
    roi = np.zeros((H, W), dtype=np.uint8)
    roi[8:40, 12:52] = 255
    return roi


def check_fit_predict_shapes(factory: Factory) -> None:
    model = factory()
    assert model.fit(tiny_images()) is model
    scores, maps = model.predict(tiny_images(2, seed=1))
    assert scores.shape == (2,) and scores.dtype == np.float32
    assert maps.shape == (2, H, W) and maps.dtype == np.float32
    assert np.isfinite(scores).all() and np.isfinite(maps).all()
    params = model.get_params()
    import json

    json.dumps(params)
    assert params == factory().get_params()


def check_defect_scores_higher(factory: Factory) -> None:
    model = factory().fit(tiny_images(6))
    good = tiny_images(1, seed=5)[0]
    bad = good.copy()
    bad[16:28, 24:36] = (255, 0, 255)
    scores, maps = model.predict([good, bad])
    assert scores[1] > scores[0]
    assert maps[1, 16:28, 24:36].mean() > maps[1, :, :8].mean()


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
    scores, maps = a.predict(test)
    assert np.all(maps[:, roi == 0] == 0)
    test2 = [t.copy() for t in test]
    for t in test2:
        t[roi == 0] = 0
    scores2, maps2 = a.predict(test2)
    np.testing.assert_allclose(maps, maps2, rtol=1e-5, atol=1e-5)


def check_state_round_trip(factory: Factory) -> None:
    model = factory().fit(tiny_images())
    state = model.state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    test = tiny_images(2, seed=7)
    scores, maps = model.predict(test)
    clone = factory().load_state_dict({k: v.copy() for k, v in state.items()})
    scores2, maps2 = clone.predict(test)
    assert np.array_equal(maps, maps2) and np.array_equal(scores, scores2)


def check_deterministic(factory: Factory) -> None:
    test = tiny_images(2, seed=9)
    s1, m1 = factory().fit(tiny_images()).predict(test)
    s2, m2 = factory().fit(tiny_images()).predict(test)
    assert np.array_equal(m1, m2) and np.array_equal(s1, s2)


def check_cancel_prompt(factory: Factory) -> None:
    """Cancel set at the first progress report: fit stops before doing much more work."""
    token = CancelToken()
    calls = []

    def progress(fraction, message=""):
        calls.append(fraction)
        token.cancel()

    model = factory()
    with pytest.raises(Cancelled):
        model.fit(tiny_images(12), progress=progress, cancel=token)
    assert len(calls) <= 2, f"fit kept reporting after cancel: {calls}"
    assert not model.is_fitted
    pre = CancelToken()
    pre.cancel()
    fitted = factory().fit(tiny_images())
    with pytest.raises(Cancelled):
        fitted.predict(tiny_images(2), cancel=pre)


def check_bad_input(factory: Factory) -> None:
    model = factory()
    with pytest.raises(ValueError, match="empty"):
        model.fit([])
    with pytest.raises(ValueError, match="uint8"):
        model.fit([img.astype(np.float32) for img in tiny_images()])
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        model.fit([img[..., 0] for img in tiny_images()])
    with pytest.raises(ValueError, match="roi"):
        model.fit(tiny_images(), roi=np.ones((10, 10), np.uint8))
    with pytest.raises(Exception, match="fit"):
        factory().predict(tiny_images(1))


CHECKS = [
    check_fit_predict_shapes,
    check_defect_scores_higher,
    check_roi_respected,
    check_state_round_trip,
    check_deterministic,
    check_cancel_prompt,
    check_bad_input,
]


def run_battery(factory: Factory) -> None:
    for check in CHECKS:
        check(factory)
