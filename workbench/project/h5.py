"""Opening HDF5 files the one way the project store does."""

from __future__ import annotations

from pathlib import Path

import h5py

# v110: large attributes (JSON) are allowed, and HDF5 1.10+ readers can open the files
LIBVER = ("v110", "v110")


def h5file(path: str | Path, mode: str = "r") -> h5py.File:
    """An HDF5 file opened for reading ("r") or created ("w").

    Locking is best-effort: saving never writes a file in place (it renames finished files), so HDF5's
    own locks are a courtesy, and network shares without lock support must still open projects.
    """
    if mode == "w":
        return h5py.File(path, "w", libver=LIBVER, locking="best-effort")
    return h5py.File(path, mode, locking="best-effort")
