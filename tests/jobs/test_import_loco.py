"""`import-dataset --layout loco` (MVTec LOCO / AutoVI) and AUsPRO with per-defect-type saturation
thresholds, both checked against plain reference code that reads the fixture folder itself."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from workbench.cli.main import main
from workbench.core.regions import decode_region
from workbench.jobs.evaluate import evaluate
from workbench.jobs.import_dataset import import_dataset
from workbench.metrics import auspro
from workbench.project import Project

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loco_fixture import CONFIG, REGIONS, make_loco  # noqa: E402

LIMIT = 0.05


def reference_regions(root: Path) -> dict[str, list[tuple[np.ndarray, float]]]:
    """{'kind/stem': [(region bool, saturation pixels)]} read straight from the folder, as LOCO's code does."""
    config = {e["pixel_value"]: e for e in json.loads((root / "defects_config.json").read_text())}
    out = {}
    for folder in sorted((root / "ground_truth").glob("*/*")):
        regions = []
        for f in sorted(folder.glob("*.png")):
            values = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
            (value,) = [v for v in np.unique(values) if v > 0]
            e, region = config[int(value)], values > 0
            area = int(region.sum())
            sat = (
                e["saturation_threshold"] * area
                if e["relative_saturation"]
                else min(e["saturation_threshold"], area)
            )
            regions.append((region, float(sat)))
        out[f"{folder.parent.name}/{folder.name}"] = regions
    return out


def reference_auspro(good_maps, regions, maps_of_regions, limit=LIMIT) -> float:
    """A plain AUsPRO: a loop over descending thresholds, FPR on the defect-free images only, sPRO the mean
    of min(1, overlap / saturation) over every region, trapezoids up to ``limit`` (interpolated), / limit."""
    good = np.concatenate([m.ravel() for m in good_maps]).astype(np.float64)
    thresholds = np.unique(np.concatenate([good] + [m.ravel() for m in maps_of_regions]))[::-1]
    xs, ys = [0.0], [0.0]
    for t in thresholds:
        fpr = float(np.mean(good >= t))
        spro = np.mean(
            [min(1.0, np.count_nonzero(m[r] >= t) / s) for (r, s), m in zip(regions, maps_of_regions)]
        )
        xs.append(fpr)
        ys.append(float(spro))
        if fpr > limit:
            break
    xs, ys = np.array(xs), np.array(ys)
    inside = xs <= limit
    x, y = xs[inside], ys[inside]
    if x[-1] < limit and (~inside).any():
        j = int(np.flatnonzero(~inside)[0])
        y_lim = ys[j - 1] + (ys[j] - ys[j - 1]) * (limit - xs[j - 1]) / (xs[j] - xs[j - 1])
        x, y = np.r_[x, limit], np.r_[y, y_lim]
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2) / limit)


@pytest.fixture()
def loco(tmp_path):
    return make_loco(tmp_path / "parts")


def test_loco_import_keeps_splits_regions_saturations_and_the_config(loco, tmp_path, capsys):
    path = tmp_path / "p.awb"
    Project.create(path).close()
    assert main(["import-dataset", str(path), str(loco), "--layout", "loco"]) == 0
    assert "train/good 6, val/good 3" in capsys.readouterr().out
    ref = reference_regions(loco)
    with Project.open(path) as p:
        assert p.meta["defects_config"] == CONFIG
        defective = [s for s in p.samples() if s.label == "defective"]
        assert len(defective) == len(REGIONS) and all(s.split == "test" for s in defective)
        for s in defective:
            key = f"{s.meta['defect_type']}/{s.meta['stem']}"
            recs = s.meta["gt_regions"]
            assert len(recs) == len(ref[key])
            union = np.zeros((s.height, s.width), bool)
            for rec, (region, sat) in zip(recs, ref[key]):
                got = decode_region(rec, (s.height, s.width))
                assert np.array_equal(got, region) and rec["saturation"] == pytest.approx(sat)
                union |= region
            assert np.array_equal(p.gt_mask(s.id) > 0, union)
        # the disconnected "misplaced" region is one region, not two components
        first = next(s for s in defective if s.meta["stem"] == "000")
        assert [r["defect"] for r in first.meta["gt_regions"]] == ["missing_part", "misplaced_part"]


def test_auspro_of_the_evaluation_agrees_with_the_reference(loco, tmp_path):
    path = tmp_path / "p.awb"
    rng = np.random.default_rng(7)
    with Project.create(path) as p:
        import_dataset(p, loco, layout="loco")
        samples = [s for s in p.samples() if s.split in ("val", "test")]
        maps = []
        for s in samples:  # an anomaly map that finds part of each defect, with noise everywhere
            m = rng.random((s.height, s.width)).astype(np.float32)
            if s.label == "defective":
                g = p.gt_mask(s.id) > 0
                m[g] += rng.random(int(g.sum())).astype(np.float32) * 1.5
            maps.append(m)
        rid = p.add_run("patchcore", "parts", {}, {"unused": np.zeros(1, np.float32)}, {})
        p.add_result(rid, [s.id for s in samples], np.array([m.max() for m in maps]), maps)
        p.save()
    with Project.open(path) as p:
        rec = evaluate(p, [rid])["runs"][0]
        test = [s for s in p.samples(split="test")]
        (res,) = p.results(rid)
        stored = dict(zip(res.sample_ids, p.result_maps(res.id)))
    got = rec["metrics"]["all"]["auspro"]
    ref = reference_regions(loco)
    good_maps = [stored[s.id] for s in test if s.label == "good"]
    regions, region_maps = [], []
    for s in test:
        if s.label == "defective":
            for r in ref[f"{s.meta['defect_type']}/{s.meta['stem']}"]:
                regions.append(r)
                region_maps.append(stored[s.id])
    expected = reference_auspro(good_maps, regions, region_maps)
    assert 0.05 < expected < 0.99
    assert got == pytest.approx(expected, abs=1e-3)
    # the saturations matter: the plain per-component overlap (AUPRO's) at the same limit differs
    union = {k: np.any([r for r, _ in v], axis=0) for k, v in ref.items()}
    y_true = [union[f"{s.meta['defect_type']}/{s.meta['stem']}"] if s.label == "defective" else
              np.zeros_like(stored[s.id], bool) for s in test]  # fmt: skip
    plain = auspro(y_true, [stored[s.id] for s in test], 1.0, LIMIT, fpr_on_good_only=True)
    assert abs(plain - got) > 1e-3


def test_bad_loco_folders_are_refused_in_words_and_change_nothing(loco, tmp_path):
    p = Project.create(tmp_path / "p.awb")
    bad = loco / "ground_truth" / "logical_anomalies" / "000" / "000.png"
    m = cv2.imread(str(bad), cv2.IMREAD_UNCHANGED)
    m[m > 0] = 77
    cv2.imwrite(str(bad), m)
    with pytest.raises(ValueError, match="pixel value 77 is not in defects_config.json"):
        import_dataset(p, loco, layout="loco")
    assert p.samples() == []
    (loco / "defects_config.json").unlink()
    with pytest.raises(ValueError, match="no defects_config.json"):
        import_dataset(p, loco, layout="loco")
    (loco / "defects_config.json").write_text(json.dumps([{"defect_name": "x", "pixel_value": 300}]))
    with pytest.raises(ValueError, match="entry 0"):
        import_dataset(p, loco, layout="loco")


def test_other_projects_take_each_defect_types_saturation_from_the_config():
    from workbench.jobs.evaluate_data import SplitData
    from workbench.jobs.evaluate_metrics import saturation_regions
    from workbench.project.types import RunInfo, SampleInfo

    def sample(i, label, meta, synthetic=False):
        return SampleInfo(
            i, "s", i, "v", 0, 0, 0, "test", label, synthetic, label == "defective", 1.0, 20, 20, meta
        )

    m = np.zeros((20, 20), bool)
    m[2:6, 2:6] = True
    m[10:12, 10:18] = True  # two components
    samples = [
        sample(0, "good", {}),
        sample(1, "defective", {"synthetic": {"type": "hole"}}, synthetic=True),
        sample(2, "defective", {"defect_type": "crack"}),
        sample(3, "defective", {"defect_type": "unlisted"}),
    ]
    masks = [np.zeros_like(m), m, m, m]
    config = [
        {"defect_name": "hole", "pixel_value": 1, "saturation_threshold": 5, "relative_saturation": False},
        {"defect_name": "crack", "pixel_value": 2, "saturation_threshold": 0.5, "relative_saturation": True},
    ]
    data = SplitData(
        RunInfo("run1", "m", "v", {}, ""), "test", samples, np.zeros(4), np.array([0, 1, 1, 1], bool),
        np.array([0, 1, 0, 0], bool), np.array([0, 1, 1, 1], bool), masks, None, None, [], 0, None, config,
    )  # fmt: skip
    regions = saturation_regions(data)
    assert regions[0] is None and regions[3] is None  # normal; no entry: plain components (PRO)
    assert [s for _, s in regions[1]] == [5.0, 5.0]  # absolute: 5 pixels, capped at the area
    assert [s for _, s in regions[2]] == [8.0, 8.0]  # relative: half of 16 pixels in each component
    assert [int(r.sum()) for r, _ in regions[2]] == [16, 16]
