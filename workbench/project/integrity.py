"""Checksums of what a project file holds, and strict reads of HDF5 nodes.

HDF5 hands back defaults and partial data for damaged metadata (``f.get`` returns its default when a
group's header fails its checksum), and raw dataset chunks carry no checksum at all. So every record of
the main file (the root attributes, each view, the sample table, each edited mask, run and result) is
hashed when it is written; the hashes are stored in the root attribute ``records`` (JSON) which is itself
hashed into ``records_digest``. Reading recomputes each hash from what was actually read: a flipped digit
anywhere is an error naming the record, never a silently different station.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

import h5py
import numpy as np

from workbench.project.errors import ProjectError

# blob names are generated ("img-<32 hex>"); anything else in a file is damage or an attempt to reach
# outside the sidecar folder (e.g. "../x")
BLOB_NAME = re.compile(r"[a-z]{2,8}-[0-9a-f]{32}")


class DamagedError(ProjectError):
    """A project file or data file holds something other than what was written (checksum mismatch)."""


def check_blob_name(name: Any, what: str) -> str:
    """``name`` when it is a plain generated blob name, else ProjectError (no paths, no '..')."""
    if not isinstance(name, str) or not BLOB_NAME.fullmatch(name):
        raise DamagedError(
            f"{what} refers to the data file {str(name)[:80]!r}, which is not a plain data-file name "
            "(damaged or edited project file)"
        )
    return name


class RecordHash:
    """A hash over named values (text, numbers, arrays with dtype and shape), framed so that no two
    different sequences of values hash alike."""

    def __init__(self, kind: str) -> None:
        self._h = hashlib.blake2b(kind.encode(), digest_size=16)

    def add(self, key: str, value: Any) -> RecordHash:
        if isinstance(value, np.ndarray):
            data = np.ascontiguousarray(value)
            head = f"{key}|a|{data.dtype.str}|{data.shape}"
            body = data.tobytes()
        elif isinstance(value, bytes):
            head, body = f"{key}|b", value
        else:
            # damaged text read back from HDF5 carries lone surrogates: it must still hash (to a mismatch)
            head, body = f"{key}|t", str(value).encode("utf-8", "surrogatepass")
        self._h.update(head.encode("utf-8", "surrogatepass"))
        self._h.update(len(body).to_bytes(8, "little"))
        self._h.update(body)
        return self

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def digest_of(kind: str, items: Iterable[tuple[str, Any]]) -> str:
    h = RecordHash(kind)
    for key, value in items:
        h.add(key, value)
    return h.hexdigest()


def records_digest(text: str) -> str:
    """The hash that protects the ``records`` attribute itself."""
    return digest_of("records", [("records", text)])


def dumps_records(records: dict[str, str]) -> str:
    return json.dumps(records, sort_keys=True, separators=(",", ":"))


# --- strict reads ----------------------------------------------------------------------------------
def text(value: Any) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else str(value)


def _child(parent: h5py.Group, key: str, what: str, kind: type, held: str, noun: str) -> Any:
    """``parent[key]`` when it is a ``kind``; DamagedError when it is missing, unreadable or another kind.
    ``held``: what the error calls the missing node ('group', 'data'); ``noun``: the kind's name."""
    try:
        node = parent[key]
    except KeyError:
        raise DamagedError(f"{what} is damaged: its {held} '{key}' cannot be read") from None
    if not isinstance(node, kind):
        raise DamagedError(f"{what} is damaged: '{key}' is not a {noun}")
    return node


def group(parent: h5py.Group, key: str, what: str) -> h5py.Group:
    """``parent[key]`` as a group; DamagedError when it is missing or unreadable (never a default)."""
    return _child(parent, key, what, h5py.Group, "group", "group")


def dataset(parent: h5py.Group, key: str, what: str) -> np.ndarray:
    """The whole dataset ``parent[key]``; DamagedError when it is missing or unreadable."""
    node = _child(parent, key, what, h5py.Dataset, "data", "dataset")
    try:
        return node[()]
    except (OSError, ValueError, TypeError) as exc:
        raise DamagedError(f"{what} is damaged: its data '{key}' cannot be read ({exc})") from None


def attr(node: h5py.HLObject, key: str, what: str) -> Any:
    """Attribute ``key`` of ``node``; DamagedError when it is missing or unreadable."""
    try:
        return node.attrs[key]
    except (KeyError, OSError) as exc:
        raise DamagedError(f"{what} is damaged: its attribute '{key}' cannot be read ({exc})") from None


def attr_text(node: h5py.HLObject, key: str, what: str) -> str:
    return text(attr(node, key, what))


def attr_int(node: h5py.HLObject, key: str, what: str) -> int:
    value = attr(node, key, what)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DamagedError(f"{what} is damaged: its attribute '{key}' is not a number") from None


def keys(node: h5py.Group, what: str) -> list[str]:
    """The member names of a group; DamagedError when its index cannot be read."""
    try:
        return list(node.keys())
    except (KeyError, OSError, RuntimeError) as exc:
        raise DamagedError(f"{what} is damaged: its list of members cannot be read ({exc})") from None
