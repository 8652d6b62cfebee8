"""The project file's layout (schema 2): reading it into a State and writing a State out whole.

::

    /                      attrs: format, schema_version, created, uid, generation, meta, counters, sources,
                           policies (JSON), records (JSON: a checksum per record), records_digest
    /views/<k>             attrs: info (JSON); datasets template, roi?, zones? (uint8)
    /samples/table         uint8 bytes: JSON columns {"id": [...], "view": [...], ..., "blob": [...]}
    /gt_masks/<id>         uint8 (H, W) 0/255: masks edited after import
    /runs/<id>             attrs: model, view, params, created, meta (JSON), blob (weights)
    /results/<id>          attrs: run, created, meta (JSON), maps_blob; datasets sample_ids, scores
    /blobs/<name>          only in packed files: the blobs otherwise in the sidecar folder
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import h5py
import numpy as np

from workbench.project import integrity as ia
from workbench.project import jsonattr
from workbench.project.integrity import DamagedError
from workbench.project.schema import FORMAT, SCHEMA_VERSION
from workbench.project.state import MASK_MAIN, SampleRef, State
from workbench.project.types import CropWindow, ResultInfo, RunInfo, SampleInfo, SourceInfo, ViewInfo

SAMPLE_FIELDS = [f.name for f in fields(SampleInfo) if f.name != "has_mask"]
REF_FIELDS = ["blob", "key", "row", "mask"]
_MASK_COMPRESSION = {"compression": "gzip", "compression_opts": 4}


_ROOT_TEXT = ("format", "created", "uid", "meta", "counters", "policies", "sources")
_ROOT_INT = ("schema_version", "generation")
_RUN_ATTRS = ("model", "view", "params", "created", "meta", "blob")
_RESULT_ATTRS = ("run", "created", "meta", "maps_blob")


# --- reading ---------------------------------------------------------------------------------------
class _Checker:
    """Compares each record read with its stored checksum (schema 2 on); schema 1 files carry none."""

    def __init__(self, f: h5py.File, name: str, verify: bool) -> None:
        self.name, self.verify = name, verify
        self.records: dict[str, str] = {}
        if not verify:
            return
        raw = ia.attr_text(f, "records", f"{name} (its record checksums)")
        if ia.records_digest(raw) != ia.attr_text(f, "records_digest", f"{name} (its record checksums)"):
            raise DamagedError(
                f"{name} is damaged: its table of record checksums does not match its own checksum; "
                "restore the file from a backup"
            )
        self.records = jsonattr.loads(raw, f"{name}: the record checksums")
        if not isinstance(self.records, dict):
            raise DamagedError(f"{name} is damaged: its record checksums are not a table")

    def check(self, key: str, kind: str, items: list[tuple[str, Any]], what: str) -> str:
        digest = ia.digest_of(kind, items)
        if self.verify and self.records.get(key) != digest:
            why = "is not listed" if key not in self.records else "does not match its checksum"
            raise DamagedError(
                f"{self.name} is damaged: {what} {why} (changed bits in the file); restore it from a backup"
            )
        return digest

    def members(self, prefix: str, found: list[str], what: str) -> None:
        """The members of a group must be exactly those the checksums list (none lost, none added)."""
        if not self.verify:
            return
        listed = {k[len(prefix) :] for k in self.records if k.startswith(prefix)}
        if listed != set(found):
            lost = sorted(listed - set(found))
            extra = sorted(set(found) - listed)
            detail = f"{len(lost)} missing (first: {lost[0]})" if lost else f"unexpected '{extra[0]}'"
            raise DamagedError(f"{self.name} is damaged: {what}: {detail}; restore it from a backup")


def read_state(f: h5py.File, name: str = "the project file", verify: bool = True) -> State:
    """The metadata of an opened project file, every record checked against its checksum (``verify``).

    Strict: a group or attribute that cannot be read raises DamagedError (a ProjectError), never an empty
    default. No images, weights or maps are read.
    """
    ck = _Checker(f, name, verify)
    s = State()
    root_items = []
    root_items += [(key, ia.attr_text(f, key, name)) for key in _ROOT_TEXT]
    root_items += [(key, ia.attr_int(f, key, name)) for key in _ROOT_INT]
    ck.check("/", "root", root_items, "the station record (metadata, sources, policies)")
    root = dict(root_items)
    s.created, s.uid, s.generation = root["created"], root["uid"], int(root["generation"])
    s.meta = jsonattr.loads(root["meta"], f"{name}: the station metadata")
    s.counters.update(jsonattr.loads(root["counters"], f"{name}: the id counters"))
    s.policies = jsonattr.loads(root["policies"], f"{name}: the threshold policies")
    for src in jsonattr.loads(root["sources"], f"{name}: the source list"):
        s.sources[src["id"]] = SourceInfo(**src)

    views = ia.group(f, "views", name)
    view_keys = ia.keys(views, f"{name}: the views")
    ck.members("views/", view_keys, "the list of views")
    for key in sorted(view_keys, key=int):
        view = _read_view(ia.group(views, key, f"{name}: view {key}"), ck, f"views/{key}", name)
        s.views[view.name] = view

    table = ia.dataset(ia.group(f, "samples", name), "table", f"{name}: the sample table")
    ck.check("samples", "samples", [("table", table)], "the sample table")
    _read_samples(table, s, name)

    masks = ia.group(f, "gt_masks", name)
    mask_keys = ia.keys(masks, f"{name}: the edited masks")
    ck.members("gt_masks/", mask_keys, "the list of edited masks")
    s.mask_digests = {int(k): ck.records.get(f"gt_masks/{k}", "") for k in mask_keys}
    for sid, ref in s.refs.items():
        if ref.mask == MASK_MAIN and sid not in s.mask_digests and verify:
            raise DamagedError(f"{name} is damaged: the edited mask of sample {sid} is missing")

    runs = ia.group(f, "runs", name)
    run_keys = ia.keys(runs, f"{name}: the runs")
    ck.members("runs/", run_keys, "the list of runs")
    for rid in run_keys:
        g = ia.group(runs, rid, f"{name}: run {rid}")
        what = f"{name}: run {rid}"
        items = [(k, ia.attr_text(g, k, what)) for k in _RUN_ATTRS]
        ck.check(f"runs/{rid}", "run", items, f"the record of run {rid}")
        a = dict(items)
        s.runs[rid] = RunInfo(
            id=rid,
            model=a["model"],
            view=a["view"],
            params=jsonattr.loads(a["params"], f"the parameters of run {rid}"),
            created=a["created"],
            meta=jsonattr.loads(a["meta"], f"the metadata of run {rid}"),
        )
        s.run_blobs[rid] = ia.check_blob_name(a["blob"], f"run {rid}")

    results = ia.group(f, "results", name)
    result_keys = ia.keys(results, f"{name}: the results")
    ck.members("results/", result_keys, "the list of results")
    for rid in result_keys:
        g = ia.group(results, rid, f"{name}: result {rid}")
        what = f"{name}: result {rid}"
        items: list[tuple[str, Any]] = [(k, ia.attr_text(g, k, what)) for k in _RESULT_ATTRS]
        ids = ia.dataset(g, "sample_ids", what)
        scores = ia.dataset(g, "scores", what)
        items += [("sample_ids", ids), ("scores", scores)]
        ck.check(f"results/{rid}", "result", items, f"the record of result {rid}")
        a = dict(items)
        s.results[rid] = ResultInfo(
            id=rid,
            run=a["run"],
            sample_ids=[int(i) for i in ids],
            created=a["created"],
            meta=jsonattr.loads(a["meta"], f"the metadata of result {rid}"),
        )
        s.scores[rid] = np.asarray(scores, dtype=np.float32)
        s.map_blobs[rid] = a["maps_blob"] and ia.check_blob_name(a["maps_blob"], f"result {rid}")
    for ref_sid, ref in s.refs.items():
        if ref.blob:
            ia.check_blob_name(ref.blob, f"sample {ref_sid}")
    # keep the on-disk order of ids (HDF5 lists keys sorted as text: run10 < run2)
    s.runs = dict(sorted(s.runs.items(), key=lambda kv: _number(kv[0])))
    s.results = dict(sorted(s.results.items(), key=lambda kv: _number(kv[0])))
    return s


def _number(rid: str) -> int:
    digits = "".join(c for c in rid if c.isdigit())
    return int(digits) if digits else 0


def _read_view(g: h5py.Group, ck: _Checker, key: str, name: str) -> ViewInfo:
    number = key.rsplit("/", 1)[-1]
    what = f"{name}: view {number}"
    info_text = ia.attr_text(g, "info", what)
    members = set(ia.keys(g, what))
    items: list[tuple[str, Any]] = [("info", info_text), ("template", ia.dataset(g, "template", what))]
    for plane in ("roi", "zones"):
        if plane in members:
            items.append((plane, ia.dataset(g, plane, what)))
    ck.check(key, "view", items, f"the record of view {number}")
    a = dict(items)
    info = jsonattr.loads(info_text, "a view")
    origin = info.get("template_origin")
    return ViewInfo(
        name=info["name"],
        template=a["template"],
        crop=CropWindow(**info["crop"]),
        match_threshold=float(info.get("match_threshold", 0.6)),
        roi=a.get("roi"),
        roi_margin=int(info.get("roi_margin", 0)),
        zones=a.get("zones"),
        zone_names=list(info.get("zone_names", [])),
        template_origin=tuple(origin) if origin is not None else None,
        meta=info.get("meta", {}),
    )


def _read_samples(raw: np.ndarray, s: State, name: str) -> None:
    cols = jsonattr.loads(raw, f"{name}: the sample table")
    ids = cols["id"]
    for i, sid in enumerate(ids):
        info = SampleInfo(**{field: cols[field][i] for field in SAMPLE_FIELDS})
        info.synthetic = bool(info.synthetic)
        info.match_score = float("nan") if info.match_score is None else float(info.match_score)
        ref = SampleRef(**{field: cols[field][i] for field in REF_FIELDS})
        info.has_mask = bool(ref.mask)
        s.samples[int(sid)] = info
        s.refs[int(sid)] = ref


# --- writing ---------------------------------------------------------------------------------------
def mask_digest(mask: np.ndarray) -> str:
    return ia.digest_of("mask", [("mask", mask)])


def write_state(f: h5py.File, s: State, masks: dict[int, np.ndarray | h5py.Dataset]) -> dict[int, str]:
    """Write ``s`` into the empty, writable file ``f`` with a checksum per record; ``masks`` are the edited
    GT masks by sample id (arrays, or datasets of the previous file copied raw). Returns the masks' checksums."""
    records: dict[str, str] = {}
    root_text = {
        "format": FORMAT,
        "created": s.created,
        "uid": s.uid,
        "meta": jsonattr.dumps(s.meta, "the station metadata"),
        "counters": jsonattr.dumps(s.counters, "the id counters"),
        "policies": jsonattr.dumps(s.policies, "the threshold policies"),
        "sources": jsonattr.dumps(
            [{"id": x.id, "kind": x.kind, "uri": x.uri, "meta": x.meta} for x in s.sources.values()],
            "the sources",
        ),
    }
    root_int = {"schema_version": SCHEMA_VERSION, "generation": int(s.generation)}
    for key, value in root_text.items():
        f.attrs[key] = value
    for key, value in root_int.items():
        f.attrs[key] = np.int64(value)
    records["/"] = ia.digest_of(
        "root", [(k, root_text[k]) for k in _ROOT_TEXT] + [(k, root_int[k]) for k in _ROOT_INT]
    )
    views = f.create_group("views")
    for k, view in enumerate(s.views.values()):
        records[f"views/{k}"] = _write_view(views.create_group(str(k)), view)
    records["samples"] = _write_samples(f.create_group("samples"), s)
    gt = f.create_group("gt_masks")
    digests: dict[int, str] = {}
    for sid, mask in sorted(masks.items()):
        if isinstance(mask, h5py.Dataset):
            try:
                mask.file.copy(mask, gt, name=str(sid))  # raw chunk copy from the previous file
                digests[sid] = s.mask_digests.get(sid) or mask_digest(mask[()])
            except (KeyError, OSError, RuntimeError, ValueError) as exc:
                raise DamagedError(
                    f"the project file is damaged: the edited mask of sample {sid} cannot be copied ({exc}); "
                    "nothing was written; restore the file from a backup"
                ) from None
        else:
            gt.create_dataset(str(sid), data=mask, chunks=True, **_MASK_COMPRESSION)
            digests[sid] = mask_digest(mask)
        records[f"gt_masks/{sid}"] = digests[sid]
    runs = f.create_group("runs")
    for rid, run in s.runs.items():
        g = runs.create_group(rid)
        values = {
            "model": run.model,
            "view": run.view,
            "params": jsonattr.dumps(run.params, f"the parameters of run {rid}"),
            "created": run.created,
            "meta": jsonattr.dumps(run.meta, f"the metadata of run {rid}"),
            "blob": s.run_blobs[rid],
        }
        for key in _RUN_ATTRS:
            g.attrs[key] = values[key]
        records[f"runs/{rid}"] = ia.digest_of("run", [(k, values[k]) for k in _RUN_ATTRS])
    results = f.create_group("results")
    for rid, res in s.results.items():
        g = results.create_group(rid)
        values = {
            "run": res.run,
            "created": res.created,
            "meta": jsonattr.dumps(res.meta, f"the metadata of result {rid}"),
            "maps_blob": s.map_blobs.get(rid, ""),
        }
        for key in _RESULT_ATTRS:
            g.attrs[key] = values[key]
        ids = np.asarray(res.sample_ids, dtype=np.int64)
        scores = np.asarray(s.scores[rid], dtype=np.float32)
        g.create_dataset("sample_ids", data=ids)
        g.create_dataset("scores", data=scores)
        items = [(k, values[k]) for k in _RESULT_ATTRS] + [("sample_ids", ids), ("scores", scores)]
        records[f"results/{rid}"] = ia.digest_of("result", items)
    text = ia.dumps_records(records)
    f.attrs["records"] = text
    f.attrs["records_digest"] = ia.records_digest(text)
    return digests


def _write_view(g: h5py.Group, view: ViewInfo) -> str:
    info = {
        "name": view.name,
        "crop": {"x": view.crop.x, "y": view.crop.y, "w": view.crop.w, "h": view.crop.h},
        "match_threshold": view.match_threshold,
        "roi_margin": view.roi_margin,
        "zone_names": view.zone_names,
        "template_origin": list(view.template_origin) if view.template_origin is not None else None,
        "meta": view.meta,
    }
    text = jsonattr.dumps(info, f"view '{view.name}'")
    g.attrs["info"] = text
    items: list[tuple[str, Any]] = [("info", text), ("template", np.asarray(view.template))]
    g.create_dataset("template", data=view.template, **_MASK_COMPRESSION)
    for plane in ("roi", "zones"):
        data = getattr(view, plane)
        if data is not None:
            g.create_dataset(plane, data=data, **_MASK_COMPRESSION)
            items.append((plane, np.asarray(data)))
    return ia.digest_of("view", items)


def _write_samples(g: h5py.Group, s: State) -> str:
    cols: dict[str, list[Any]] = {name: [] for name in SAMPLE_FIELDS + REF_FIELDS}
    for sid, info in s.samples.items():
        for name in SAMPLE_FIELDS:
            cols[name].append(getattr(info, name))
        ref = s.refs[sid]
        for name in REF_FIELDS:
            cols[name].append(getattr(ref, name))
    # NaN match scores become null: the table stays standard JSON
    cols["match_score"] = [None if v != v else v for v in cols["match_score"]]
    text = jsonattr.dumps(cols, "the sample metadata").encode("utf-8")
    table = np.frombuffer(text, dtype=np.uint8)
    g.create_dataset("table", data=table, chunks=True, compression="gzip", compression_opts=1)
    return ia.digest_of("samples", [("table", table)])
