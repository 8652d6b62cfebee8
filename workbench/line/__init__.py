"""The line runtime: what a line PC runs (bundle, onnxruntime sessions, verdicts, sinks, the inspector).

* :mod:`~workbench.line.bundle`: read back (sha256 verified) a bundle folder written by ``workbench.export``;
* :mod:`~workbench.line.runtime`: onnxruntime sessions with the provider in use logged, never a silent
  CPU fall-back;
* :mod:`~workbench.line.verdict`: view verdicts, defect boxes and zones, late fusion into a part verdict;
* :mod:`~workbench.line.inspect`: frames -> passes (the import's own tracker, with the rule calibrated at
  import and carried in the bundle) -> best-aligned crop per view -> verdicts per part;
* :mod:`~workbench.line.sinks`: JSON lines, MQTT, NG images, zone alerts;
* :mod:`~workbench.line.cli`: ``workbench-line run``, the line PC's command.

Nothing here imports torch, h5py, scipy or Qt (an import-linter contract and tests/line/test_line_standalone.py
hold it; tests/line/test_line_install.py installs the ``line`` extra alone and runs a bundle).
"""
