"""Bit-flip sweep: single random bit flips in a trained station's main file and in its blobs, each followed by
`info`, `eval`, a save and `export`; every flip must change nothing that is read or give a clear error.

The station is small but real: the demo video (16 passes, 424x240), a tiny PatchCore run per view, stored
test and validation predictions, a far policy per run and one edited GT mask. For every flip the four steps
run in this process through the CLI's own handlers (``workbench info --json``, ``workbench eval --json``,
``Project.open/set_meta/save``, ``workbench export``), and each step's outcome is classified:

* ``error``: a clear error (ProjectError, BundleError: one sentence naming what is damaged);
* ``same``: it succeeded and its output equals the pristine station's;
* ``silent``: it succeeded with a different output (the failure this benchmark exists to count);
* ``unclear``: any other exception (raw text a user could not act on).

A flip is ``silent`` if any step is, ``unclear`` if any step is and none silent, ``error`` if any step gave a
clear error, else ``same``. After the save, every blob the pristine station refers to must still exist
(``blobs_lost``). Export's ONNX conversion and parity check are memoised on a digest of everything export
read (views, weights, policies, crops, station): equal inputs give the pristine bundle, so only the reading
is repeated per flip; a different digest with no error counts as silent. The baseline measured in the same
run is one pass of the four steps on the pristine station (``ratio_flip_to_clean``).

    .venv/bin/python benchmarks/bench_bitflip.py [--main 1000] [--meta 1000] [--blobs 500] [--seed 0]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

TINY = {
    "backbone": "resnet18",
    "pretrained": False,
    "image_size": [32, 48],
    "embed_dim": 16,
    "coreset_ratio": 0.5,
}
STEPS = ("info", "eval", "save", "export")


def build_station(folder: Path, views: list[str] | None = None) -> Path:
    """The trained station of the sweep under ``folder`` (a run for every view, or for ``views``); its path."""
    from workbench.cli.main import main
    from workbench.jobs.demo import build_demo_station
    from workbench.project import Project

    res = build_demo_station(folder / "demo", passes=16, defect_rate=0.4, seed=3, width=424, height=240)
    path = Path(res.project_path)
    quiet = contextlib.redirect_stderr(io.StringIO())
    with quiet, contextlib.redirect_stdout(io.StringIO()):
        params = [f"--param={k}={json.dumps(v)}" for k, v in TINY.items()]
        only = [a for v in views or [] for a in ("--view", v)]
        argv = ["train", str(path), "--model", "patchcore", "--device", "cpu", "--seed", "0", *only, *params]
        assert main(argv) == 0
        with Project.open(path) as p:
            runs = [r.id for r in p.runs]
        for rid in runs:
            assert main(["policy", str(path), "--run", rid, "--source", "far", "--target", "0.5"]) == 0
        assert main(["eval", str(path), "--quiet"]) == 0  # stores the test predictions eval reads
    with Project.open(path) as p:
        s = p.samples(split="test")[0]
        mask = np.zeros((s.height, s.width), np.uint8)
        mask[4:12, 6:30] = 255
        p.set_gt_mask(s.id, mask)  # an edited mask lives in the main file
        p.save()
    return path


def _digest(obj: Any, h: Any = None) -> str:
    """A stable hash of nested JSON-like values and numpy arrays."""
    top = h is None
    h = h or hashlib.blake2b(digest_size=16)
    if isinstance(obj, np.ndarray):
        h.update(f"a{obj.dtype.str}{obj.shape}".encode())
        h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, dict):
        h.update(b"{")
        for k in sorted(obj, key=str):
            h.update(str(k).encode())
            _digest(obj[k], h)
        h.update(b"}")
    elif isinstance(obj, list | tuple):
        h.update(b"[")
        for v in obj:
            _digest(v, h)
        h.update(b"]")
    elif hasattr(obj, "detach"):  # a torch tensor
        _digest(obj.detach().cpu().numpy(), h)
    else:
        h.update(repr(obj).encode())
    return h.hexdigest() if top else ""


class ExportMemo:
    """Replaces write_bundle: the digest of its inputs is the outcome; the real export runs once per digest."""

    def __init__(self) -> None:
        import workbench.jobs.export as export_job

        self.module, self.real = export_job, export_job.write_bundle
        self.done: dict[str, Any] = {}
        self.last: str | None = None

    def __call__(self, out, items, **kw) -> Any:
        key = _digest(
            {
                "items": [
                    {
                        "view": {**vars(it.view), "crop": vars(it.view.crop)},
                        "state": it.model.state_dict(),
                        "params": it.model.get_params(),
                        "run": it.run,
                        "policy": it.policy.to_dict(),
                        "note": it.policy_note,
                        "images": it.images,
                        "ids": it.sample_ids,
                        "split_note": it.split_note,
                    }
                    for it in items
                ],
                "station": {k: v for k, v in (kw.get("station") or {}).items() if k != "project"},
                "rest": {k: v for k, v in kw.items() if k not in ("station", "progress", "cancel")},
            }
        )
        self.last = key
        if key not in self.done:
            self.done[key] = self.real(out, items, **kw) if not self.done else None
        return self.done[key] or next(iter(self.done.values()))

    def __enter__(self) -> ExportMemo:
        self.module.write_bundle = self
        return self

    def __exit__(self, *exc: object) -> None:
        self.module.write_bundle = self.real


def _cli(argv: list[str]) -> str:
    """Run a CLI handler in this process; its stdout (exceptions propagate)."""
    from workbench.cli.main import build_parser

    args = build_parser().parse_args(argv)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = args.func(args)
    if code not in (0, None):
        raise RuntimeError(f"exit code {code}")
    return out.getvalue()


def _state_digest(path: Path) -> str:
    """Everything a reopened project holds, read through the API (images, masks, weights, maps included)."""
    from workbench.project import Project

    with Project.open(path) as p:
        meta = {k: v for k, v in p.meta.items() if k != "bitflip_probe"}
        return _digest(
            {
                "meta": meta,
                "sources": [vars(s) for s in p.sources],
                "views": {k: {**vars(v), "crop": vars(v.crop)} for k, v in p.views.items()},
                "samples": [repr(vars(s)) for s in p.samples()],
                "images": [p.sample_image(s.id) for s in p.samples()],
                "masks": [p.gt_mask(s.id) for s in p.samples() if s.has_mask],
                "runs": [(vars(r), p.run_state(r.id)) for r in p.runs],
                "results": [
                    (vars(r), p.result_scores(r.id), p.result_maps(r.id) if p.result_has_maps(r.id) else None)
                    for r in p.results()
                ],
                "policies": p.policies,
            }
        )


def run_steps(path: Path, work: Path, memo: ExportMemo, probe: int) -> dict[str, tuple[str, Any]]:
    """Each step's (kind, value): ('ok', normalised output) or ('error'|'unclear', message)."""
    from workbench.line.bundle import BundleError
    from workbench.project import Project, ProjectError

    out: dict[str, tuple[str, Any]] = {}

    def attempt(name: str, fn) -> None:
        try:
            out[name] = ("ok", fn())
        except (ProjectError, BundleError) as exc:
            out[name] = ("error", f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001 - anything else is what the sweep must find
            out[name] = ("unclear", f"{type(exc).__name__}: {exc}")

    def info() -> str:
        summary = json.loads(_cli(["info", str(path), "--json"]))
        summary.pop("path", None)
        return _digest(summary)

    def evaluate() -> str:
        return _digest(json.loads(_cli(["eval", str(path), "--json", "--quiet"])))

    def save() -> str:
        with Project.open(path) as p:
            p.set_meta("bitflip_probe", probe)
            p.save()
        return _state_digest(path)

    def export() -> str:
        shutil.rmtree(work / "bundle", ignore_errors=True)
        _cli(["export", str(path), "--out", str(work / "bundle"), "--accept-small-validation"])
        return memo.last

    for name, fn in (("info", info), ("eval", evaluate), ("save", save), ("export", export)):
        attempt(name, fn)
    return out


def data_regions(path: Path) -> list[tuple[int, int, str]]:
    """(start, end, name) byte ranges of the datasets' raw data in an HDF5 file; the rest is metadata or free."""
    import h5py

    regions: list[tuple[int, int, str]] = []
    with h5py.File(path, "r") as f:

        def visit(name: str, obj: Any) -> None:
            if not isinstance(obj, h5py.Dataset):
                return
            kind = name.split("/")[0] + "/" + name.rsplit("/", 1)[-1] if "/" in name else name
            if obj.chunks is None:
                offset = obj.id.get_offset()
                if offset is not None:
                    regions.append((offset, offset + obj.id.get_storage_size(), kind))
                return
            for i in range(obj.id.get_num_chunks()):
                info = obj.id.get_chunk_info(i)
                regions.append((info.byte_offset, info.byte_offset + info.size, kind))

        f.visititems(visit)
    return sorted(regions)


def region_of(regions: list[tuple[int, int, str]], byte: int) -> str:
    for start, end, name in regions:
        if start <= byte < end:
            return name
    return "metadata/free"


def classify(steps: dict[str, tuple[str, Any]], clean: dict[str, Any]) -> str:
    kinds = []
    for name, (kind, value) in steps.items():
        kinds.append("silent" if kind == "ok" and value != clean[name] else "same" if kind == "ok" else kind)
    for k in ("silent", "unclear", "error"):
        if k in kinds:
            return k
    return "same"


class Sweep:
    """A pristine copy of the station, flipped one bit at a time and restored after each flip."""

    def __init__(self, station: Path, work: Path) -> None:
        from workbench.project import Project

        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.path = work / "station.awb"
        shutil.copyfile(station, self.path)
        self.sidecar = work / "station.awb.d"
        shutil.copytree(station.with_name(station.name + ".d"), self.sidecar, dirs_exist_ok=True)
        self.main_bytes = self.path.read_bytes()
        self.regions = data_regions(self.path)
        self.blob_bytes = {f.name: f.read_bytes() for f in self.sidecar.iterdir() if f.name.endswith(".h5")}
        with Project.open(self.path) as p:
            self.referenced = {f"{n}.h5" for n in p._state.referenced_blobs()}
        self.memo = ExportMemo()
        t0 = time.perf_counter()
        with self.memo:
            steps = run_steps(self.path, work, self.memo, 0)
        bad = {k: v for k, v in steps.items() if v[0] != "ok"}
        if bad:
            raise RuntimeError(f"the pristine station fails: {bad}")
        self.clean = {k: v[1] for k, v in steps.items()}
        self.restore()
        with self.memo:
            t1 = time.perf_counter()
            again = run_steps(self.path, work, self.memo, 0)
            self.clean_seconds = time.perf_counter() - t1
        self.first_seconds = t1 - t0
        assert {k: v[1] for k, v in again.items()} == self.clean, "the steps are not deterministic"
        self.restore()

    def restore(self) -> None:
        tmp = self.path.with_name("restore.tmp")
        tmp.write_bytes(self.main_bytes)
        os.replace(tmp, self.path)
        for name, data in self.blob_bytes.items():
            f = self.sidecar / name
            if not f.is_file() or f.stat().st_size != len(data) or f.read_bytes() != data:
                f.write_bytes(data)

    def flip(self, target: Path, bit: int) -> None:
        with open(target, "r+b") as f:
            f.seek(bit // 8)
            byte = f.read(1)[0]
            f.seek(bit // 8)
            f.write(bytes([byte ^ (1 << (bit % 8))]))

    def one(self, target: Path, bit: int, probe: int) -> dict[str, Any]:
        self.flip(target, bit)
        with self.memo:
            steps = run_steps(self.path, self.work, self.memo, probe)
        present = {f.name for f in self.sidecar.iterdir()}
        lost = sorted(self.referenced - present)
        outcome = classify(steps, self.clean)
        self.restore()
        return {"file": target.name, "bit": bit, "outcome": outcome, "blobs_lost": lost,
                "steps": {k: (v[0], v[1] if v[0] != "ok" else v[1] == self.clean[k]) for k, v in steps.items()}}  # fmt: skip


def sweep(
    station: Path, work: Path, n_main: int, n_blobs: int, seed: int, log=None, n_meta: int = 0
) -> dict[str, Any]:
    """Run ``n_main`` flips anywhere in the main file, ``n_meta`` in its bytes outside the view templates
    (attributes, records, indexes: most of a file is template pixels) and ``n_blobs`` in blobs (chosen by
    size); counts and details."""
    s = Sweep(station, work)
    rng = random.Random(seed)
    main_bits = len(s.main_bytes) * 8
    in_templates = np.zeros(len(s.main_bytes), bool)
    for start, end, name in s.regions:
        if name == "views/template":
            in_templates[start:end] = True
    outside = np.flatnonzero(~in_templates)
    blob_names = sorted(s.blob_bytes)
    weights = [len(s.blob_bytes[n]) for n in blob_names]
    records = []
    t0 = time.perf_counter()
    for i in range(n_main + n_meta + n_blobs):
        if i < n_main:
            target, bit = s.path, rng.randrange(main_bits)
        elif i < n_main + n_meta:
            target, bit = s.path, int(outside[rng.randrange(len(outside))]) * 8 + rng.randrange(8)
        else:
            name = rng.choices(blob_names, weights)[0]
            target, bit = s.sidecar / name, rng.randrange(len(s.blob_bytes[name]) * 8)
        rec = s.one(target, bit, i + 1)
        rec["where"] = "main" if i < n_main else "meta" if i < n_main + n_meta else "blob"
        rec["region"] = region_of(s.regions, bit // 8) if rec["where"] != "blob" else "blob"
        records.append(rec)
        if log is not None and (rec["outcome"] in ("silent", "unclear") or rec["blobs_lost"]):
            log(json.dumps(rec))
    seconds = time.perf_counter() - t0
    counts = {w: Counter(r["outcome"] for r in records if r["where"] == w) for w in ("main", "meta", "blob")}
    by_region: dict[str, Counter] = {}
    for r in records:
        if r["where"] != "blob":
            by_region.setdefault(r["region"], Counter())[r["outcome"]] += 1
    return {
        "records": records,
        "counts": {w: dict(c) for w, c in counts.items()},
        "main_by_region": {k: dict(v) for k, v in sorted(by_region.items())},
        "blobs_lost": sum(len(r["blobs_lost"]) for r in records),
        "seconds": seconds,
        "clean_seconds": s.clean_seconds,
        "main_file_bytes": len(s.main_bytes),
        "blob_bytes": sum(weights),
        "exports_run": len(s.memo.done),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--main", type=int, default=1000, help="flips in the main file (default 1000)")
    ap.add_argument("--blobs", type=int, default=500, help="flips in blob files (default 500)")
    ap.add_argument("--meta", type=int, default=1000, help="flips in the main file outside template pixels")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--station", type=Path, default=None, help="reuse a station built by an earlier run")
    ap.add_argument("--details", type=Path, default=None, help="write every flip's record here (JSON lines)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_bitflip_"))
    try:
        station = args.station or build_station(tmp / "build")
        result = sweep(
            station,
            tmp / "work",
            args.main,
            args.blobs,
            args.seed,
            lambda m: print(m, file=sys.stderr),
            args.meta,
        )
        if args.details:
            with open(args.details, "w", encoding="utf-8") as f:
                for r in result["records"]:
                    f.write(json.dumps(r) + "\n")
        n = args.main + args.meta + args.blobs
        per_flip = result["seconds"] / max(n, 1)
        print(
            json.dumps(
                {
                    "benchmark": "bitflip_sweep",
                    "flips_main": args.main,
                    "flips_main_outside_templates": args.meta,
                    "flips_blobs": args.blobs,
                    "seed": args.seed,
                    "main": result["counts"]["main"],
                    "main_outside_templates": result["counts"]["meta"],
                    "blobs": result["counts"]["blob"],
                    "main_by_region": result["main_by_region"],
                    "silent": sum(c.get("silent", 0) for c in result["counts"].values()),
                    "unclear": sum(c.get("unclear", 0) for c in result["counts"].values()),
                    "blobs_lost": result["blobs_lost"],
                    "main_file_kb": round(result["main_file_bytes"] / 1e3, 1),
                    "blob_kb": round(result["blob_bytes"] / 1e3, 1),
                    "seconds": round(result["seconds"], 1),
                    "per_flip_s": round(per_flip, 3),
                    "baseline_clean_steps_s": round(result["clean_seconds"], 3),
                    "ratio_flip_to_clean": round(per_flip / result["clean_seconds"], 3),
                    "exports_run": result["exports_run"],
                }
            )
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
