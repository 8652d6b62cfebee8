"""Import and line mode share one pass tracker: the demo station's video, imported into the project and then
run through its exported bundle, gives the same passes, the same best-aligned frames and the same crops."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
from exported_station import exported_station  # noqa: E402

from workbench.line.bundle import Bundle  # noqa: E402
from workbench.line.inspect import run_line  # noqa: E402
from workbench.line.sinks import Outputs  # noqa: E402
from workbench.project import Project  # noqa: E402


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    return exported_station(tmp_path_factory.getbasetemp())


class Capture(Outputs):
    """Outputs that keep every part's result and crops."""

    def __init__(self) -> None:
        super().__init__(stdout=io.StringIO(), stderr=io.StringIO())
        self.parts: list[tuple[dict, dict]] = []

    def part(self, result, crops, maps):
        self.parts.append((result, {k: v.copy() for k, v in crops.items()}))
        return super().part(result, crops, maps)


def test_import_and_line_mode_give_the_same_passes_frames_and_crops(station):
    bundle = Bundle.load(station["bundle"])
    rule = bundle.manifest["pass_rule"]
    assert rule["kind"] == "match-peaks" and {v["name"] for v in rule["views"]} == {
        v.name for v in bundle.views
    }
    out = Capture()
    summary = run_line(station["bundle"], str(station["video"]), out, device="cpu", realtime=False)
    with Project.open(station["project"]) as p:
        (source,) = [s for s in p.sources if s.kind == "video"]
        imported = {}
        for s in p.samples():
            if s.source == source.id and s.meta.get("rank", 0) == 0 and not s.synthetic:
                imported[(s.pass_index, s.view)] = (s.frame, p.sample_image(s.id))
        passes = source.meta["passes"]
    assert summary.parts == len(out.parts) == len(passes) > 0
    compared = 0
    for k, (result, crops) in enumerate(out.parts):
        assert result["frames"] == list(passes[k]), f"pass {k}"
        assert result["status"] == source.meta["pass_status"][k]["status"]
        for view, r in result["views"].items():
            if (k, view) not in imported:
                assert r["verdict"] == "MISSING"
                continue
            frame, image = imported[(k, view)]
            assert r["frame"] == frame, f"pass {k} view {view}"
            assert np.array_equal(crops[view], image), f"pass {k} view {view}: the crops differ"
            compared += 1
    assert compared == len(imported) >= 2 * len(passes)
