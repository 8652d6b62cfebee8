"""Content checks of blobs: a blob's name is the hash of its content, and every read is checked against it.

Since schema 2 a blob carries ``leaves``: one hash per array it holds (an image, a mask, a tensor, a map
plane), and its name is the hash of that list. Reading one image then hashes only that image and the short
list, not the whole 64 MB batch. Blobs of schema 1 have no list: they are checked whole (their old name is
the hash of all their arrays) the first time anything in them is read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import h5py
import numpy as np

from workbench.project import integrity as ia
from workbench.project.integrity import DamagedError

_LEGACY_OK = "legacy"


def _utf8(text: str) -> bytes:
    # damaged text read back from HDF5 carries lone surrogates: it must still hash (to a mismatch)
    return text.encode("utf-8", "surrogatepass")


def leaf_digest(key: str, array: np.ndarray) -> str:
    """Hash of one array of a blob, with its key, dtype and shape."""
    data = np.ascontiguousarray(array)
    h = hashlib.blake2b(_utf8(f"|{key}|{data.dtype.str}|{data.shape}|"), digest_size=16)
    h.update(data.tobytes())
    return h.hexdigest()


def name_of(kind: str, leaves_text: str) -> str:
    return f"{kind}-{hashlib.blake2b(_utf8(f'{kind}|{leaves_text}'), digest_size=16).hexdigest()}"


class Digest:
    """The leaves of a blob being written, and the name they give it."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.leaves: list[list[str]] = []

    def add(self, key: str, array: np.ndarray) -> None:
        self.leaves.append([key, leaf_digest(key, array)])

    def leaves_text(self) -> str:
        return json.dumps(self.leaves, separators=(",", ":"))

    def name(self) -> str:
        return name_of(self.kind, self.leaves_text())


class _LegacyDigest:
    """The schema 1 naming: one running hash over every array of the blob, in writing order."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._h = hashlib.blake2b(kind.encode(), digest_size=16)

    def add(self, key: str, array: np.ndarray) -> None:
        self._h.update(_utf8(f"|{key}|{array.dtype.str}|{array.shape}|"))
        self._h.update(np.ascontiguousarray(array).data)

    def name(self) -> str:
        return f"{self.kind}-{self._h.hexdigest()}"


def _damaged(name: str, what: str, why: str) -> DamagedError:
    return DamagedError(
        f"{what} is damaged: data file {name}.h5 {why}; restore the project's data folder from a backup"
    )


class BlobChecker:
    """Checks arrays read from blobs against the blob's name; remembers which blobs' lists were checked."""

    def __init__(self) -> None:
        self._leaves: dict[str, dict[str, str] | str] = {}

    def forget(self, name: str) -> None:
        self._leaves.pop(name, None)

    def check(self, name: str, g: h5py.Group, key: str, array: np.ndarray, what: str) -> np.ndarray:
        """``array`` (read from blob ``name`` under leaf ``key``) when it is what was written, else DamagedError."""
        leaves = self._table(name, g, what)
        if leaves == _LEGACY_OK:
            return array
        expected = leaves.get(key)
        if expected is None:
            raise _damaged(name, what, f"holds no '{key}'")
        if leaf_digest(key, array) != expected:
            raise _damaged(name, what, "does not match its content checksum (changed bits)")
        return array

    def leaf_keys(self, name: str, g: h5py.Group, what: str) -> list[str] | None:
        leaves = self._table(name, g, what)
        return None if leaves == _LEGACY_OK else list(leaves)

    def check_all(self, name: str, g: h5py.Group, what: str) -> None:
        """Read and check every array of the blob (before it is copied elsewhere, e.g. packed)."""
        leaves = self._table(name, g, what)
        if leaves == _LEGACY_OK:
            return
        seen = 0
        for key, array in arrays(name.split("-", 1)[0], g, what):
            if key in leaves:
                self.check(name, g, key, array, what)
                seen += 1
        if seen != len(leaves):
            raise _damaged(name, what, f"holds {seen} of its {len(leaves)} arrays")

    def _table(self, name: str, g: h5py.Group, what: str) -> dict[str, str] | str:
        if name in self._leaves:
            return self._leaves[name]
        try:
            raw = g.attrs["leaves"] if "leaves" in g.attrs else None
        except (OSError, KeyError, RuntimeError) as exc:
            raise _damaged(name, what, f"cannot be read ({exc})") from None
        if raw is None:
            _check_legacy(name, g, what)
            self._leaves[name] = _LEGACY_OK
            return _LEGACY_OK
        text = ia.text(raw)
        kind = name.split("-", 1)[0]
        if name_of(kind, text) != name:
            raise _damaged(name, what, "does not match its content checksum (its table of contents changed)")
        try:
            table = {str(k): str(v) for k, v in json.loads(text)}
        except (ValueError, TypeError) as exc:
            raise _damaged(name, what, f"has an unreadable table of contents ({exc})") from None
        self._leaves[name] = table
        return table


def arrays(kind: str, g: h5py.Group, what: str) -> Iterator[tuple[str, np.ndarray]]:
    """(leaf key, array) of everything a blob of ``kind`` holds, in writing order."""
    if kind == "img":
        images = ia.group(g, "images", what)
        masks = ia.group(g, "masks", what)
        mask_keys = set(ia.keys(masks, what))
        for k in sorted(ia.keys(images, what), key=int):
            ds = images[k]
            mds = masks[k] if k in mask_keys else None
            for r in range(ds.shape[0]):
                yield f"{k}/{r}", ds[r]
                if mds is not None:
                    yield f"m{k}/{r}", mds[r]
    elif kind == "run":
        tensors = ia.group(g, "tensors", what)
        names = json.loads(ia.attr_text(g, "keys", what))
        for i, key in enumerate(names):
            yield str(key), tensors[f"t{i}"][()]
    elif kind == "map":
        maps = ia.group(g, "maps", what)
        if bool(ia.attr(g, "stacked", what)):
            ds = maps["all"]
            for r in range(ds.shape[0]):
                yield str(r), ds[r]
            yield "stacked", np.zeros(0)
        else:
            for r in range(len(ia.keys(maps, what))):
                yield str(r), maps[str(r)][()]
            yield "list", np.zeros(0)
    else:
        raise DamagedError(f"{what}: unknown kind of data file '{kind}'")


def _check_legacy(name: str, g: h5py.Group, what: str) -> None:
    """Recompute a schema 1 blob's name from all its arrays (the old layout of keys)."""
    kind = name.split("-", 1)[0]
    try:
        if kind == "img":
            ok = _legacy_images(name, g, what, empty_masks=False) or _legacy_images(name, g, what, True)
        else:
            d = _LegacyDigest(kind)
            for key, array in arrays(kind, g, what):
                if kind == "map" and key in ("stacked", "list"):
                    d.add(key, array)
                elif kind == "map":
                    d.add(key, array.astype(np.float16))
                else:
                    d.add(key, array)
            ok = d.name() == name
    except (OSError, KeyError, ValueError, TypeError, IndexError, RuntimeError) as exc:
        raise _damaged(name, what, f"cannot be read ({exc})") from None
    if not ok:
        raise _damaged(name, what, "does not match its content checksum (changed bits)")


def _legacy_images(name: str, g: h5py.Group, what: str, empty_masks: bool) -> bool:
    """Schema 1 image blobs hashed a row's mask only when it had one: rows without one read as zeros, so
    all-zero mask rows are taken as 'no mask' first, then as empty masks."""
    d = _LegacyDigest("img")
    images, masks = g["images"], g["masks"]
    for k in sorted(images, key=int):
        ds = images[k]
        mds = masks[k] if k in masks else None
        shape = tuple(ds.shape[1:])
        for r in range(ds.shape[0]):
            d.add(f"{k}/{r}/{shape}", ds[r])
            if mds is not None:
                m = mds[r]
                if m.any() or empty_masks:
                    d.add(f"m{k}/{r}", m)
    return d.name() == name
