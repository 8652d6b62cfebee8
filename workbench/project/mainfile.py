"""The project file's layout (schema 1): reading it into a State and writing a State out whole.

::

    /                      attrs: format, schema_version, created, meta, counters, sources, policies (JSON)
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

from workbench.project import jsonattr
from workbench.project.schema import FORMAT, SCHEMA_VERSION
from workbench.project.state import SampleRef, State
from workbench.project.types import CropWindow, ResultInfo, RunInfo, SampleInfo, SourceInfo, ViewInfo

SAMPLE_FIELDS = [f.name for f in fields(SampleInfo) if f.name != "has_mask"]
REF_FIELDS = ["blob", "key", "row", "mask"]
_MASK_COMPRESSION = {"compression": "gzip", "compression_opts": 4}


def _json_attr(node: h5py.HLObject, key: str, default: Any, what: str) -> Any:
    if key not in node.attrs:
        return default
    return jsonattr.loads(node.attrs[key], what)


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


# --- reading ---------------------------------------------------------------------------------------
def read_state(f: h5py.File) -> State:
    """The metadata of an opened, checked project file (no images, weights or maps are read)."""
    s = State()
    s.created = _text(f.attrs.get("created", ""))
    s.meta = _json_attr(f, "meta", {}, "the station metadata")
    s.counters.update(_json_attr(f, "counters", {}, "the id counters"))
    s.policies = _json_attr(f, "policies", {}, "the threshold policies")
    for src in _json_attr(f, "sources", [], "the source list"):
        s.sources[src["id"]] = SourceInfo(**src)
    for key in sorted(f.get("views", {}), key=int):
        view = _read_view(f["views"][key])
        s.views[view.name] = view
    if "samples" in f and "table" in f["samples"]:
        _read_samples(f["samples"]["table"][()], s)
    for rid, g in f.get("runs", {}).items():
        s.runs[rid] = RunInfo(
            id=rid,
            model=_text(g.attrs["model"]),
            view=_text(g.attrs["view"]),
            params=jsonattr.loads(g.attrs["params"], f"the parameters of run {rid}"),
            created=_text(g.attrs["created"]),
            meta=_json_attr(g, "meta", {}, f"the metadata of run {rid}"),
        )
        s.run_blobs[rid] = _text(g.attrs["blob"])
    for rid, g in f.get("results", {}).items():
        s.results[rid] = ResultInfo(
            id=rid,
            run=_text(g.attrs["run"]),
            sample_ids=[int(i) for i in g["sample_ids"][()]],
            created=_text(g.attrs["created"]),
            meta=_json_attr(g, "meta", {}, f"the metadata of result {rid}"),
        )
        s.scores[rid] = np.asarray(g["scores"][()], dtype=np.float32)
        s.map_blobs[rid] = _text(g.attrs.get("maps_blob", ""))
    # keep the on-disk order of ids (dicts above are filled from sorted HDF5 keys: run10 < run2)
    s.runs = dict(sorted(s.runs.items(), key=lambda kv: int(kv[0][3:])))
    s.results = dict(sorted(s.results.items(), key=lambda kv: int(kv[0][3:])))
    return s


def _read_view(g: h5py.Group) -> ViewInfo:
    info = jsonattr.loads(g.attrs["info"], "a view")
    origin = info.get("template_origin")
    return ViewInfo(
        name=info["name"],
        template=g["template"][()],
        crop=CropWindow(**info["crop"]),
        match_threshold=float(info.get("match_threshold", 0.6)),
        roi=g["roi"][()] if "roi" in g else None,
        roi_margin=int(info.get("roi_margin", 0)),
        zones=g["zones"][()] if "zones" in g else None,
        zone_names=list(info.get("zone_names", [])),
        template_origin=tuple(origin) if origin is not None else None,
        meta=info.get("meta", {}),
    )


def _read_samples(raw: np.ndarray, s: State) -> None:
    cols = jsonattr.loads(raw, "the sample table")
    ids = cols["id"]
    for i, sid in enumerate(ids):
        info = SampleInfo(**{name: cols[name][i] for name in SAMPLE_FIELDS})
        info.synthetic = bool(info.synthetic)
        info.match_score = float("nan") if info.match_score is None else float(info.match_score)
        ref = SampleRef(**{name: cols[name][i] for name in REF_FIELDS})
        info.has_mask = bool(ref.mask)
        s.samples[int(sid)] = info
        s.refs[int(sid)] = ref


# --- writing ---------------------------------------------------------------------------------------
def write_state(f: h5py.File, s: State, masks: dict[int, np.ndarray | h5py.Dataset]) -> None:
    """Write ``s`` into the empty, writable file ``f``; ``masks`` are the edited GT masks by sample id."""
    f.attrs["format"] = FORMAT
    f.attrs["schema_version"] = SCHEMA_VERSION
    f.attrs["created"] = s.created
    f.attrs["meta"] = jsonattr.dumps(s.meta, "the station metadata")
    f.attrs["counters"] = jsonattr.dumps(s.counters, "the id counters")
    f.attrs["policies"] = jsonattr.dumps(s.policies, "the threshold policies")
    f.attrs["sources"] = jsonattr.dumps(
        [{"id": x.id, "kind": x.kind, "uri": x.uri, "meta": x.meta} for x in s.sources.values()],
        "the sources",
    )
    views = f.create_group("views")
    for k, view in enumerate(s.views.values()):
        _write_view(views.create_group(str(k)), view)
    _write_samples(f.create_group("samples"), s)
    gt = f.create_group("gt_masks")
    for sid, mask in sorted(masks.items()):
        if isinstance(mask, h5py.Dataset):
            mask.file.copy(mask, gt, name=str(sid))  # raw chunk copy from the previous file
        else:
            gt.create_dataset(str(sid), data=mask, chunks=True, **_MASK_COMPRESSION)
    runs = f.create_group("runs")
    for rid, run in s.runs.items():
        g = runs.create_group(rid)
        g.attrs["model"] = run.model
        g.attrs["view"] = run.view
        g.attrs["params"] = jsonattr.dumps(run.params, f"the parameters of run {rid}")
        g.attrs["created"] = run.created
        g.attrs["meta"] = jsonattr.dumps(run.meta, f"the metadata of run {rid}")
        g.attrs["blob"] = s.run_blobs[rid]
    results = f.create_group("results")
    for rid, res in s.results.items():
        g = results.create_group(rid)
        g.attrs["run"] = res.run
        g.attrs["created"] = res.created
        g.attrs["meta"] = jsonattr.dumps(res.meta, f"the metadata of result {rid}")
        g.attrs["maps_blob"] = s.map_blobs.get(rid, "")
        g.create_dataset("sample_ids", data=np.asarray(res.sample_ids, dtype=np.int64))
        g.create_dataset("scores", data=np.asarray(s.scores[rid], dtype=np.float32))


def _write_view(g: h5py.Group, view: ViewInfo) -> None:
    info = {
        "name": view.name,
        "crop": {"x": view.crop.x, "y": view.crop.y, "w": view.crop.w, "h": view.crop.h},
        "match_threshold": view.match_threshold,
        "roi_margin": view.roi_margin,
        "zone_names": view.zone_names,
        "template_origin": list(view.template_origin) if view.template_origin is not None else None,
        "meta": view.meta,
    }
    g.attrs["info"] = jsonattr.dumps(info, f"view '{view.name}'")
    g.create_dataset("template", data=view.template, **_MASK_COMPRESSION)
    if view.roi is not None:
        g.create_dataset("roi", data=view.roi, **_MASK_COMPRESSION)
    if view.zones is not None:
        g.create_dataset("zones", data=view.zones, **_MASK_COMPRESSION)


def _write_samples(g: h5py.Group, s: State) -> None:
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
    g.create_dataset(
        "table", data=np.frombuffer(text, dtype=np.uint8), chunks=True, compression="gzip", compression_opts=1
    )
