"""What an open project holds in memory: metadata, and where each bulky array lives on disk."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.project.types import ResultInfo, RunInfo, SampleInfo, SourceInfo, ViewInfo

MASK_NONE, MASK_BLOB, MASK_MAIN = "", "blob", "main"


@dataclass
class SampleRef:
    """Where a sample's image (and its imported mask) is: blob name, dataset key, row."""

    blob: str
    key: str
    row: int
    mask: str = MASK_NONE  # "" no mask, "blob": beside the image, "main": edited, in the project file


@dataclass
class State:
    """The metadata of a project; images, weights and maps stay on disk until asked for."""

    created: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=lambda: {"sample": 0, "src": 0, "run": 0, "res": 0})
    sources: dict[str, SourceInfo] = field(default_factory=dict)
    views: dict[str, ViewInfo] = field(default_factory=dict)
    samples: dict[int, SampleInfo] = field(default_factory=dict)
    refs: dict[int, SampleRef] = field(default_factory=dict)
    runs: dict[str, RunInfo] = field(default_factory=dict)
    run_blobs: dict[str, str] = field(default_factory=dict)
    results: dict[str, ResultInfo] = field(default_factory=dict)
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    map_blobs: dict[str, str] = field(default_factory=dict)  # "" when a result has no maps
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    uid: str = ""  # the project's identity, kept for its life: another file at this path has another
    generation: int = 0  # how many saves made this file; with uid, tells whether another process saved
    mask_digests: dict[int, str] = field(default_factory=dict)  # checksums of edited masks on disk

    def next_id(self, counter: str) -> int:
        """A fresh number for ``counter``; numbers are never reused, even after removal."""
        self.counters[counter] = self.counters.get(counter, 0) + 1
        return self.counters[counter]

    def referenced_blobs(self) -> set[str]:
        names = {ref.blob for ref in self.refs.values() if ref.blob}  # "" = still buffered in memory
        names.update(self.run_blobs.values())
        names.update(b for b in self.map_blobs.values() if b)
        return names
