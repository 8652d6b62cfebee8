"""The project store: one station in one ``.awb`` HDF5 file, saved crash-safely, opened lazily.

Design
------
* The file the user sees (``station.awb``) holds only small things: station metadata, sources,
  views (templates, ROI, zones), the sample table (JSON columns), edited GT masks, runs'
  parameters, results' scores and threshold policies. Root attributes ``format =
  "anomaly-workbench-project"`` and ``schema_version``; JSON in attributes; nothing pickled.
  Layout: :mod:`workbench.project.mainfile`.
* Bulky immutable data lives in content-addressed HDF5 blob files in the sidecar folder
  ``station.awb.d/`` (:mod:`workbench.project.blobs`): a batch of sample images (uint8, one chunk
  per image, gzip level 1) with their imported masks; a run's weights (one dataset per tensor);
  a result's anomaly maps (float16). Added images are buffered and written as one blob per
  ~64 MB (or at the next save); weights and maps are written when added. A blob goes to a temp
  file, is fsynced and renamed; identical content is stored once.
* ``save()`` rewrites the small file whole to a temp file in the same folder, fsyncs it and
  renames it over the old one (:mod:`workbench.project.atomic`); only then are blobs no longer
  referenced deleted, with temp files of dead writers. A process killed at any moment leaves the
  old or the new file, and every blob either refers to (tests/project/test_project_kill.py).
* ``pack(out)`` writes one self-contained file with the blobs under ``/blobs/<name>`` (raw chunk
  copies); it opens with the same API, and its first save moves the blobs out into a sidecar.
  ``save_as`` hard-links (else copies) the blobs into the new file's sidecar.
* Old schema versions are migrated in memory on open (:mod:`workbench.project.schema`), so
  opening never changes a file; the next save writes the current schema.

Measured (2,000 textured 400x400x3 crops, 0.96 GB raw, 0.78 GB on disk; 2-core VM, warm cache):
open + ``samples()`` 0.018 s vs 6.2 s to read every image; a policy edit saves in 0.03 s
(main file 22 KB) vs 3.3 s to rewrite everything (``pack``). gzip level 1 was chosen over level 4
(no smaller on noisy crops, 25 % slower), LZF (no saving) and none: 49 MB/s write, 190 MB/s read.

Behaviour worth knowing
-----------------------
* Records returned (``samples()``, ``views``, ``runs``...) are copies; change them through the API.
* ``result_maps`` returns float32 arrays of the float16 values stored.
* ``remove_run`` removes the run's results too; removing samples keeps results' scores.
* Opening a project whose sidecar lacks a referenced blob raises ProjectError naming the file.
"""

from workbench.project.errors import ProjectError
from workbench.project.integrity import DamagedError
from workbench.project.lock import ProjectBusyError, ProjectChangedError
from workbench.project.project import Project
from workbench.project.schema import FORMAT, SCHEMA_VERSION

__all__ = [
    "FORMAT",
    "SCHEMA_VERSION",
    "DamagedError",
    "Project",
    "ProjectBusyError",
    "ProjectChangedError",
    "ProjectError",
]
