"""PatchCore with packaged EfficientNet-Lite0 weights separates real magnetic-tile defects (slow, real data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "magnetic_tile"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.realdata,
    pytest.mark.skipif(not DATA.is_dir(), reason=f"no magnetic_tile data at {DATA}"),
]


def load(path: Path, size=(160, 160)) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return cv2.cvtColor(cv2.resize(img, size[::-1], interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


def test_patchcore_lite0_ranks_magnetic_tile_defects_above_normals():
    from sklearn.metrics import roc_auc_score

    from workbench.models import registry

    rng = np.random.default_rng(0)
    train = sorted((DATA / "train" / "good").glob("*.jpg"))
    train = [train[i] for i in rng.choice(len(train), 40, replace=False)]
    good = sorted((DATA / "test" / "good").glob("*.jpg"))[:20]
    bad = (
        sorted((DATA / "test" / "break").glob("*.jpg"))[:10]
        + sorted((DATA / "test" / "blowhole").glob("*.jpg"))[:10]
    )
    model = registry.create("patchcore", backbone="efficientnet_lite0", coreset_ratio=0.1, device="cpu")
    model.fit([load(f) for f in train])
    scores, maps = model.predict([load(f) for f in good + bad])
    labels = np.r_[np.zeros(len(good)), np.ones(len(bad))]
    assert roc_auc_score(labels, scores) >= 0.75
    assert maps.shape == (40, 160, 160)
