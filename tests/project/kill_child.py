"""Child process of the kill test: saves two alternating project states until it is killed.

``python kill_child.py PROJECT`` opens PROJECT (state A or B), then forever switches to the other
state and saves, printing "ready" once before its first save and "saved" after each save.
"""

from __future__ import annotations

import sys

import numpy as np

from workbench.project import Project

SHAPE = (96, 96, 3)


def _images(seed: int, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, SHAPE, dtype=np.uint8) for _ in range(n)]


BASE = _images(1, 3)
EXTRA = _images(2, 2)
MASK = np.zeros(SHAPE[:2], np.uint8)
MASK[10:30, 40:60] = 255
WEIGHTS = {"w": np.random.default_rng(3).standard_normal((64, 64)).astype(np.float32)}
MAPS = np.random.default_rng(4).random((2, *SHAPE[:2])).astype(np.float16)
POLICY = {"A": {"t": 0.25}, "B": {"t": 0.75}}


def make_state_a(path: str) -> None:
    with Project.create(path, overwrite=True) as p:
        p.set_meta("state", "A")
        p.set_policy("default", POLICY["A"])
        p.add_samples(BASE, [{"label": "good"}] * 3)
        p.save()


def apply(p: Project, which: str) -> None:
    """Turn a project in the other state into state ``which``."""
    base = p.samples(label="good")
    if which == "B":
        ids = p.add_samples(EXTRA, [{"label": "defective"}] * 2, [MASK, MASK])
        run = p.add_run("m", "v", {"k": 1}, WEIGHTS)
        p.add_result(run, ids, np.array([1.0, 2.0]), MAPS)
        p.set_gt_mask(base[0].id, MASK)
    else:
        p.remove_samples([s.id for s in p.samples(label="defective")])
        for r in p.runs:
            p.remove_run(r.id)
        p.set_gt_mask(base[0].id, None)
    p.set_meta("state", which)
    p.set_policy("default", POLICY[which])


def which_state(p: Project) -> str:
    """'A' or 'B' after checking that every part of the project belongs to that same state."""
    which = p.meta["state"]
    assert p.policies == {"default": POLICY[which]}
    good, bad = p.samples(label="good"), p.samples(label="defective")
    assert [p.sample_image(s.id).tolist() for s in good] == [a.tolist() for a in BASE]
    if which == "A":
        assert bad == [] and p.runs == [] and p.results() == []
        assert p.gt_mask(good[0].id) is None
    else:
        assert [p.sample_image(s.id).tolist() for s in bad] == [a.tolist() for a in EXTRA]
        assert all(np.array_equal(p.gt_mask(s.id), MASK) for s in bad + good[:1])
        (run,) = p.runs
        assert np.array_equal(p.run_state(run.id)["w"], WEIGHTS["w"])
        (res,) = p.results()
        assert res.sample_ids == [s.id for s in bad]
        assert np.array_equal(np.stack(p.result_maps(res.id)), MAPS.astype(np.float32))
    return which


def main(path: str) -> None:
    p = Project.open(path)
    which = p.meta["state"]
    print("ready", flush=True)
    while True:
        which = "B" if which == "A" else "A"
        apply(p, which)
        p.save()
        print("saved", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
