"""A station of single-channel (grey) samples trains: the one format conversion step sits in the models."""

from __future__ import annotations

import numpy as np

from workbench.jobs.train import train_views
from workbench.project import Project
from workbench.project.types import CropWindow, ViewInfo


def test_grey_samples_train_and_score(tmp_path):
    rng = np.random.default_rng(0)
    p = Project.create(tmp_path / "grey.awb")
    src = p.add_source("synthetic", "test://grey")
    roi = np.zeros((40, 40), np.uint8)
    roi[8:32, 8:32] = 255
    p.set_view(
        ViewInfo(name="v", template=np.zeros((8, 8), np.uint8), crop=CropWindow(0, 0, 40, 40), roi=roi)
    )
    images, infos = [], []
    for k in range(8):
        img = np.clip(120 + rng.normal(0, 4, (40, 40)), 0, 255).astype(np.uint8)  # (H, W): one channel
        split, label = ("train", "good") if k < 5 else ("test", "good" if k < 7 else "defective")
        if label == "defective":
            img[16:24, 16:24] = 255
        images.append(img)
        infos.append({"source": src, "pass_index": k, "view": "v", "split": split, "label": label})
    p.add_samples(images, infos)
    assert p.sample_image(p.samples(view="v")[0].id).ndim == 2
    params = {"backbone": "resnet18", "pretrained": False, "embed_dim": 16, "device": "cpu"}
    out = train_views(p, "patchcore", params)
    scores = p.result_scores(out["results"][0])
    assert scores.shape == (3,) and scores[2] > scores[:2].max()
    p.close()
