"""Sources, views, runs, results and threshold policies of a project."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from workbench.project import jsonattr
from workbench.project.blobs import Digest
from workbench.project.errors import ProjectError
from workbench.project.integrity import DamagedError
from workbench.project.samples_api import check_image
from workbench.project.types import CropWindow, ResultInfo, RunInfo, SourceInfo, ViewInfo

if TYPE_CHECKING:
    from workbench.project.blobs import BlobStore
    from workbench.project.state import State

MAP_COMPRESSION = {"compression": "gzip", "compression_opts": 1, "shuffle": True}
_F16_MAX = float(np.finfo(np.float16).max)


def _now() -> str:
    from workbench.project.project import now_iso

    return now_iso()


def _copy_view(v: ViewInfo) -> ViewInfo:
    return dataclasses.replace(
        v,
        template=v.template.copy(),
        crop=dataclasses.replace(v.crop),
        roi=None if v.roi is None else v.roi.copy(),
        zones=None if v.zones is None else v.zones.copy(),
        zone_names=list(v.zone_names),
        meta=jsonattr.copy(v.meta, "view meta"),
    )


def _check_plane(a: Any, shape: tuple[int, int], what: str) -> np.ndarray:
    if not isinstance(a, np.ndarray) or a.dtype != np.uint8 or a.shape != shape:
        found = (
            f"a {a.dtype} array of shape {a.shape}" if isinstance(a, np.ndarray) else f"a {type(a).__name__}"
        )
        raise ProjectError(f"{what}: expected uint8 of shape {shape} (the crop window), found {found}")
    return a.copy()


class RecordsMixin:
    """Source, view, run, result and policy methods of :class:`workbench.project.Project`."""

    _state: State
    _blobs: BlobStore

    # --- sources -------------------------------------------------------------------------------
    def add_source(self, kind: str, uri: str, meta: dict | None = None) -> str:
        """Record where images come from; its new id ("src1", ...)."""
        self._check_open()
        sid = f"src{self._state.next_id('src')}"
        self._state.sources[sid] = SourceInfo(
            sid, str(kind), str(uri), jsonattr.copy(meta or {}, "source meta")
        )
        self._touch()
        return sid

    @property
    def sources(self) -> list[SourceInfo]:
        return [
            dataclasses.replace(s, meta=jsonattr.copy(s.meta, "source meta"))
            for s in self._state.sources.values()
        ]

    def update_source(self, sid: str, meta: dict | None = None) -> None:
        """Replace a source's metadata."""
        self._check_open()
        if sid not in self._state.sources:
            raise ProjectError(f"no source '{sid}' in project {self.name}")
        if meta is not None:
            self._state.sources[sid].meta = jsonattr.copy(meta, f"the metadata of source {sid}")
            self._touch()

    # --- views ---------------------------------------------------------------------------------
    def set_view(self, view: ViewInfo) -> None:
        """Add or replace a view (by name): template, crop window, ROI mask and zones."""
        self._check_open()
        if not isinstance(view, ViewInfo) or not view.name:
            raise ProjectError(f"set_view: expected a ViewInfo with a name, found {view!r:.80}")
        what = f"view '{view.name}'"
        check_image(view.template, f"{what} template")
        if not isinstance(view.crop, CropWindow) or view.crop.w <= 0 or view.crop.h <= 0:
            raise ProjectError(
                f"{what}: expected a crop window with positive width and height, found {view.crop}"
            )
        shape = (view.crop.h, view.crop.w)
        v = _copy_view(view)
        if v.roi is not None:
            if isinstance(v.roi, np.ndarray) and v.roi.dtype == bool:  # painted masks often arrive as bool
                v.roi = np.where(v.roi, np.uint8(255), np.uint8(0))
            v.roi = _check_plane(v.roi, shape, f"{what} ROI mask")
        if v.zones is not None:
            v.zones = _check_plane(v.zones, shape, f"{what} zones")
            if int(v.zones.max(initial=0)) > len(v.zone_names):
                raise ProjectError(
                    f"{what}: zones use {int(v.zones.max())} zone numbers but only "
                    f"{len(v.zone_names)} zone names are given"
                )
        self._state.views[v.name] = v
        self._touch()

    @property
    def views(self) -> dict[str, ViewInfo]:
        return {k: _copy_view(v) for k, v in self._state.views.items()}

    def remove_view(self, name: str) -> None:
        self._check_open()
        if name not in self._state.views:
            raise ProjectError(
                f"no view '{name}' in project {self.name} (views: {', '.join(self._state.views) or 'none'})"
            )
        del self._state.views[name]
        self._touch()

    # --- runs ----------------------------------------------------------------------------------
    def add_run(
        self, model: str, view: str, params: dict, state: dict[str, np.ndarray], meta: dict | None = None
    ) -> str:
        """Store a trained model: parameters as JSON, weights one dataset per tensor; its id ("run1")."""
        self._check_open()
        params = jsonattr.copy(params, f"the parameters of model {model}")
        meta = jsonattr.copy(meta or {}, f"the metadata of model {model}")
        if not isinstance(state, dict):
            raise ProjectError(
                f"add_run: expected the weights as a dict of name -> numpy array, found "
                f"a {type(state).__name__}"
            )
        tensors = []
        digest = Digest("run")
        for key, value in state.items():
            arr = np.asarray(value) if not isinstance(value, np.ndarray) else value
            if arr.dtype.kind not in "biufc":
                raise ProjectError(
                    f"add_run: weight '{key}' must be a numeric numpy array, found "
                    f"dtype {arr.dtype} (convert tensors with .cpu().numpy())"
                )
            tensors.append((str(key), arr))
            digest.add(str(key), arr)

        def fill(f: h5py.Group) -> None:
            f.attrs["keys"] = jsonattr.dumps([k for k, _ in tensors], "weight names")
            g = f.create_group("tensors")
            for i, (_, arr) in enumerate(tensors):
                big = arr.size >= 4096  # compressing tiny tensors costs more than it saves
                g.create_dataset(
                    f"t{i}",
                    data=arr,
                    **({"compression": "gzip", "compression_opts": 1, "shuffle": True} if big else {}),
                )

        blob = self._blobs.write(digest, fill)
        rid = f"run{self._state.next_id('run')}"
        self._state.runs[rid] = RunInfo(rid, str(model), str(view), params, _now(), meta)
        self._state.run_blobs[rid] = blob
        self._touch()
        return rid

    @property
    def runs(self) -> list[RunInfo]:
        return [self.run(r) for r in self._state.runs]

    def run(self, rid: str) -> RunInfo:
        r = self._run(rid)
        return dataclasses.replace(
            r, params=jsonattr.copy(r.params, "params"), meta=jsonattr.copy(r.meta, "meta")
        )

    def run_state(self, rid: str) -> dict[str, np.ndarray]:
        """The run's weights as numpy arrays, by the names they were given."""
        self._check_open()
        self._run(rid)
        name, what = self._state.run_blobs[rid], f"the weights of run {rid}"
        g = self._blobs.group(name, what)
        try:
            keys = jsonattr.loads(g.attrs["keys"], f"the weight names of run {rid}")
        except (KeyError, OSError) as exc:
            raise DamagedError(f"{what} cannot be read: data file {name}.h5 is damaged ({exc})") from None
        listed = self._blobs.leaf_keys(name, what)
        if listed is not None and listed != [str(k) for k in keys]:
            raise DamagedError(f"{what} are damaged: data file {name} lists other weights than it holds")
        return {
            k: self._blobs.read(name, str(k), lambda g, i=i: g["tensors"][f"t{i}"][()], what)
            for i, k in enumerate(keys)
        }

    def update_run(self, rid: str, meta: dict | None = None) -> None:
        """Replace a run's metadata (timings, notes)."""
        self._check_open()
        run = self._run(rid)
        if meta is not None:
            run.meta = jsonattr.copy(meta, f"the metadata of run {rid}")
            self._touch()

    def remove_run(self, rid: str) -> None:
        """Forget a run and the results it produced."""
        self._check_open()
        self._run(rid)
        del self._state.runs[rid], self._state.run_blobs[rid]
        for res in [r.id for r in self._state.results.values() if r.run == rid]:
            self._drop_result(res)
        self._touch()

    # --- results -------------------------------------------------------------------------------
    def add_result(
        self,
        run_id: str,
        sample_ids: list[int],
        scores: np.ndarray,
        maps: np.ndarray | list[np.ndarray] | None,
        meta: dict | None = None,
    ) -> str:
        """Store a run's scores (N,) and anomaly maps ((N, H, W) or one (H, W) per sample); its id."""
        self._check_open()
        self._run(run_id)
        ids = [int(i) for i in sample_ids]
        unknown = [i for i in ids if i not in self._state.samples]
        if unknown:
            raise ProjectError(f"add_result: unknown sample id(s) {unknown[:5]} in project {self.name}")
        scores = np.asarray(scores, dtype=np.float32)
        if scores.shape != (len(ids),):
            raise ProjectError(
                f"add_result: expected {len(ids)} scores (one per sample), found shape {scores.shape}"
            )
        meta = jsonattr.copy(meta or {}, "result meta")
        blob = "" if maps is None else self._write_maps(maps, len(ids))
        rid = f"res{self._state.next_id('res')}"
        self._state.results[rid] = ResultInfo(rid, run_id, ids, _now(), meta)
        self._state.scores[rid] = scores.copy()
        self._state.map_blobs[rid] = blob
        self._touch()
        return rid

    def results(self, run_id: str | None = None) -> list[ResultInfo]:
        return [
            dataclasses.replace(r, sample_ids=list(r.sample_ids), meta=jsonattr.copy(r.meta, "meta"))
            for r in self._state.results.values()
            if run_id is None or r.run == run_id
        ]

    def result_scores(self, result_id: str) -> np.ndarray:
        """Image scores, float32 (N,), in the order of the result's sample ids."""
        self._result(result_id)
        return self._state.scores[result_id].copy()

    def result_has_maps(self, result_id: str) -> bool:
        """Whether a result stored anomaly maps (evaluation stores only scores for training normals)."""
        self._check_open()
        self._result(result_id)
        return bool(self._state.map_blobs[result_id])

    def result_maps(self, result_id: str, sample_ids: list[int] | None = None) -> list[np.ndarray]:
        """Anomaly maps as float32 (H, W) arrays (stored as float16), for all or the given samples."""
        self._check_open()
        res = self._result(result_id)
        blob = self._state.map_blobs[result_id]
        if not blob:
            raise ProjectError(f"result {result_id} has no anomaly maps (only scores were stored)")
        if sample_ids is None:
            rows = list(range(len(res.sample_ids)))
        else:
            where = {s: i for i, s in enumerate(res.sample_ids)}
            missing = [s for s in sample_ids if s not in where]
            if missing:
                raise ProjectError(f"result {result_id} has no map for sample(s) {missing[:5]}")
            rows = [where[s] for s in sample_ids]
        what = f"the maps of result {result_id}"
        g = self._blobs.group(blob, what)
        try:
            stacked = bool(g.attrs["stacked"])
        except (KeyError, OSError) as exc:
            raise DamagedError(f"{what} cannot be read: data file {blob}.h5 is damaged ({exc})") from None
        listed = self._blobs.leaf_keys(blob, what)
        if listed is not None and ("stacked" if stacked else "list") not in listed:
            raise DamagedError(f"{what} are damaged: data file {blob} does not hold the maps it lists")

        def row(g: h5py.Group, r: int) -> np.ndarray:
            return g["maps"]["all"][r] if stacked else g["maps"][str(r)][()]

        return [
            self._blobs.read(blob, str(r), lambda g, r=r: row(g, r), what).astype(np.float32) for r in rows
        ]

    def remove_result(self, result_id: str) -> None:
        self._check_open()
        self._result(result_id)
        self._drop_result(result_id)
        self._touch()

    # --- policies ------------------------------------------------------------------------------
    def set_policy(self, name: str, policy: dict) -> None:
        """Add or replace a threshold policy (a JSON dict) under ``name``."""
        self._check_open()
        if not isinstance(policy, dict):
            raise ProjectError(f"policy '{name}': expected a dict, found a {type(policy).__name__}")
        self._state.policies[str(name)] = jsonattr.copy(policy, f"policy '{name}'")
        self._touch()

    @property
    def policies(self) -> dict[str, dict]:
        return jsonattr.copy(self._state.policies, "policies")

    def remove_policy(self, name: str) -> None:
        self._check_open()
        if name not in self._state.policies:
            raise ProjectError(f"no threshold policy '{name}' in project {self.name}")
        del self._state.policies[name]
        self._touch()

    # --- helpers -------------------------------------------------------------------------------
    def _run(self, rid: str) -> RunInfo:
        try:
            return self._state.runs[rid]
        except (KeyError, TypeError):
            raise ProjectError(f"no run '{rid}' in project {self.name}") from None

    def _result(self, rid: str) -> ResultInfo:
        try:
            return self._state.results[rid]
        except (KeyError, TypeError):
            raise ProjectError(f"no result '{rid}' in project {self.name}") from None

    def _drop_result(self, rid: str) -> None:
        del self._state.results[rid], self._state.scores[rid], self._state.map_blobs[rid]

    def _write_maps(self, maps: np.ndarray | list[np.ndarray], n: int) -> str:
        stacked = isinstance(maps, np.ndarray)
        planes = list(maps) if not stacked else None
        if stacked and (maps.ndim != 3 or maps.shape[0] != n):
            raise ProjectError(f"add_result: expected maps of shape ({n}, H, W), found {maps.shape}")
        if not stacked:
            if len(planes) != n:
                raise ProjectError(f"add_result: expected {n} maps (one per sample), found {len(planes)}")
            for i, m in enumerate(planes):
                if not isinstance(m, np.ndarray) or m.ndim != 2:
                    raise ProjectError(
                        f"add_result: map {i} must be a 2-D array, found "
                        f"{getattr(m, 'shape', type(m).__name__)}"
                    )
        digest = Digest("map")
        # float16 keeps ~3 significant digits, enough to rank pixels; out-of-range values saturate
        half = [np.clip(m, -_F16_MAX, _F16_MAX).astype(np.float16) for m in (maps if stacked else planes)]
        for i, m in enumerate(half):
            digest.add(str(i), m)
        digest.add("stacked" if stacked else "list", np.zeros(0))

        def fill(f: h5py.Group) -> None:
            f.attrs["stacked"] = stacked
            g = f.create_group("maps")
            if stacked:
                shape = half[0].shape
                ds = g.create_dataset(
                    "all", shape=(n, *shape), dtype=np.float16, chunks=(1, *shape), **MAP_COMPRESSION
                )
                for i, m in enumerate(half):
                    ds[i] = m
            else:
                for i, m in enumerate(half):
                    g.create_dataset(str(i), data=m, chunks=m.shape, **MAP_COMPRESSION)

        return self._blobs.write(digest, fill)
