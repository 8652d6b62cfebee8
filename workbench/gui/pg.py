"""pyqtgraph, imported once for the whole GUI without its optional CUDA interop (0.1-0.2 s less start-up)."""

from __future__ import annotations

import sys

# pyqtgraph's RawImageWidget imports cuda.bindings when present (PyTorch's CUDA wheels bring it) for
# GPU-to-OpenGL copies the workbench never uses; a None entry makes that import fail fast, and the entry
# is removed right after so torch and others can still import the real package later.
_block = "cuda.bindings" not in sys.modules
if _block:
    sys.modules["cuda.bindings"] = None  # type: ignore[assignment]
try:
    import pyqtgraph  # noqa: E402
finally:
    if _block and sys.modules.get("cuda.bindings", 0) is None:
        del sys.modules["cuda.bindings"]

pyqtgraph.setConfigOptions(imageAxisOrder="row-major", antialias=False)

__all__ = ["pyqtgraph"]
