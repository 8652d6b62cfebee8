"""Bad input on the command line gets one sentence naming the problem, before any work, and changes nothing:
the cases a probe of the CLI found giving raw exception text (or silently doing something else)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from workbench.cli.main import main
from workbench.project import Project
from workbench.project.types import CropWindow, ViewInfo


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad_input")
    empty = root / "empty.awb"
    Project.create(empty).close()
    station = root / "station.awb"
    with Project.create(station) as p:
        template = np.random.default_rng(0).integers(0, 255, (16, 16), dtype=np.uint8)
        p.set_view(ViewInfo("front", template, CropWindow(-8, -8, 400, 300)))
        images = [np.random.default_rng(i).integers(0, 255, (300, 400, 3), dtype=np.uint8) for i in range(3)]
        p.add_samples(images, [{"view": "front", "split": "train", "label": "good"}] * 3)
        p.save()
    video = root / "v.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 25, (64, 48))
    for _ in range(4):
        writer.write(np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.release()
    a_file = root / "a_file"
    a_file.write_text("not a folder")
    bundle = root / "bundle"
    bundle.mkdir()
    return {
        "empty": empty,
        "station": station,
        "video": video,
        "file": a_file,
        "bundle": bundle,
        "root": root,
    }


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


CASES = {
    # name: (argv with {placeholders}, expected text of the error line)
    "window -5x10": (
        ["import-video", "{station}", "{video}", "--window", "-5x10"],
        "argument --window: expected a window WxH in pixels (e.g. 320x240), found '-5x10'",
    ),
    "synth on an empty project": (
        ["synth", "{empty}", "--count", "5"],
        "project empty has no views to draw defects on",
    ),
    "synth --count 100000000": (
        ["synth", "{station}", "--count", "100000000"],
        "synth --count 100000000: the new samples would need about",
    ),
    "synth --seed -1": (
        ["synth", "{station}", "--count", "2", "--seed", "-1"],
        "argument --seed: expected a whole number",
    ),
    "split --seed -1": (["split", "{station}", "--seed", "-1"], "argument --seed: expected a whole number"),
    "demo --seed -1": (
        ["demo", "--out", "{root}/d", "--seed", "-1"],
        "argument --seed: expected a whole number",
    ),
    "train --seed -1": (
        ["train", "{station}", "--model", "patchcore", "--seed", "-1"],
        "argument --seed: expected",
    ),
    "split --train nan": (
        ["split", "{station}", "--train", "nan"],
        "argument --train: expected a number from 0 to 1",
    ),
    "split --train 2": (
        ["split", "{station}", "--train", "2"],
        "argument --train: expected a number from 0 to 1",
    ),
    "samples --split nope": (
        ["samples", "{station}", "--split", "nope"],
        "argument --split: invalid choice: 'nope'",
    ),
    "samples --view nope": (["samples", "{station}", "--view", "nope"], "has no view 'nope'; views: front"),
    "sweep --model nope": (
        ["sweep", "{station}", "--model", "nope", "--seeds", "0"],
        "sweep: unknown model 'nope'; known: draem,",
    ),
    "template --out in a missing folder": (
        ["template", "{video}", "--frame", "1", "--out", "{root}/no/such/t.png"],
        "the folder {root}/no/such does not exist",
    ),
    "report --out a file": (
        ["report", "{station}", "--out", "{file}"],
        "is a file; give a folder for the report",
    ),
    "run --max-parts -1": (
        ["run", "{bundle}", "--source", "{video}", "--max-parts", "-1"],
        "--max-parts: expected a whole number >= 1; found -1",
    ),
    "run --threads -1": (
        ["run", "{bundle}", "--source", "{video}", "--threads", "-1"],
        "--threads: expected a whole number >= 1; found -1",
    ),
    "import-video --presence-high nan": (
        ["import-video", "{station}", "{video}", "--presence-high", "nan"],
        "pass rule: high must be a finite number, found nan",
    ),
    "policy --min-area -5": (
        ["policy", "{station}", "--run", "run1", "--min-area", "-5"],
        "argument --min-area: expected a whole number >= 0, found '-5'",
    ),
    "policy --target nan": (
        ["policy", "{station}", "--run", "run1", "--target", "nan"],
        "--target: expected a finite",
    ),
    # model parameters (checked by the model contract before any work)
    "train patch_size=abc": (
        ["train", "{station}", "--model", "patchcore", "--param", "patch_size=abc"],
        "patch_size='abc': expected an odd integer",
    ),
    "train sigma=NaN": (
        ["train", "{station}", "--model", "patchcore", "--param", "sigma=NaN"],
        "sigma=nan: expected a finite number",
    ),
    "train image_size=[20000,20000]": (
        ["train", "{station}", "--model", "patchcore", "--param", "image_size=[20000,20000]"],
        "image_size=[20000, 20000]: expected (height, width) of",
    ),
    "train coreset_ratio=abc": (
        ["train", "{station}", "--model", "patchcore", "--param", "coreset_ratio=abc"],
        "coreset_ratio='abc': expected a finite number",
    ),
    "train padim n_features=-3": (
        ["train", "{station}", "--model", "padim", "--param", "n_features=-3"],
        "n_features=-3: expected an integer >= 1",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gives_one_sentence_and_changes_nothing(case, files, capsys):
    argv, expected = CASES[case]
    fill = {k: str(v) for k, v in files.items()}
    argv = [a.format(**fill) for a in argv]
    before = {k: _sha(files[k]) for k in ("empty", "station")}
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse refuses while reading the command line
        code = exc.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert code in (1, 2), err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert expected.format(**fill) in lines[0], lines[0]
    assert {k: _sha(files[k]) for k in ("empty", "station")} == before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="address-space limit via resource (Linux)")
def test_a_huge_synth_count_is_refused_within_a_small_memory_limit(files):
    """The refusal comes before the plan is built: the command runs within a 3 GB address space."""
    limit = 3 * 2**30
    code = (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))\n"
        "from workbench.cli.main import main\n"
        f"sys.exit(main(['synth', {str(files['station'])!r}, '--count', '100000000', '--quiet']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, timeout=300
    )
    assert proc.returncode == 1, proc.stderr
    assert "add at most" in proc.stderr and "MemoryError" not in proc.stderr


def test_save_ng_refuses_a_file_before_any_part(files):
    from workbench.line.sinks import Outputs

    with pytest.raises(ValueError, match="--save-ng .* is a file; give a folder"):
        Outputs(save_ng=files["file"])
