"""The variation suite in small: short videos of the bracket scene family (not the demo's underbodies) over
every level of every factor of the grid (gaps 0 / 0.1 / 1 s, four frame sizes, four frame rates, three
codecs, grey frames, views inspected off centre) with speed changes, brightness drift and step, shake and
half parts; with default settings the import finds >= 98 % of pass-views within +-1 frame, matches within
+-3 px, no merged or split pass, nothing suspect. The full grid is benchmarks/bench_passes_grid.py."""

from __future__ import annotations

import pytest

from workbench.io.extract import ViewSpec, extract_samples
from workbench.synth.scenes import render_scene
from workbench.synth.scenes.evaluate import score_passes
from workbench.synth.scenes.grid import cell_name, ci_grid, templates_for


def found_passes(ex) -> list[dict[str, tuple[int, int, int]]]:
    """{view: (frame, match x, match y)} of each found pass's best-aligned samples."""
    out = [{} for _ in ex.records]
    for s in ex.samples:
        if s.rank == 0:
            out[s.pass_index][s.view] = (s.frame, s.match_x, s.match_y)
    return out


@pytest.mark.parametrize("params", ci_grid(), ids=cell_name)
def test_grid_cell_with_defaults(params, tmp_path):
    truth = render_scene(tmp_path, params)
    views = [
        ViewSpec(name, tpl, origin=None if origin is None else (origin[1], origin[2], origin[0]))
        for name, (tpl, origin) in templates_for(params, tmp_path, truth).items()
    ]
    ex = extract_samples(tmp_path / truth["video"], views)
    score = score_passes(truth, found_passes(ex), status=[r.status for r in ex.records])
    report = "\n".join([*ex.rule.summary(), *ex.rule.reasons, *score.problems, *ex.warnings])
    assert score.frame_rate >= 0.98 and score.position_rate >= 0.98, report
    assert score.merged == 0 and score.split == 0 and score.extra == 0, report
    assert not ex.suspects, report
    # every part with a view at home is one pass, in order (besides a part cut by the video's start or end)
    assert score.found_passes - score.edge_passes == score.parts, report
