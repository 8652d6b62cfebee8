"""The line runtime: what a line PC runs (bundle, onnxruntime sessions, verdicts, sinks, the inspector).

* :mod:`~workbench.line.bundle`: read back (sha256 verified) a bundle folder written by ``workbench.export``;
* :mod:`~workbench.line.runtime`: onnxruntime sessions with the provider in use logged, never a silent
  CPU fall-back;
* :mod:`~workbench.line.verdict`: view verdicts, defect boxes and zones, late fusion into a part verdict;
* :mod:`~workbench.line.inspect`: frames -> passes -> best-aligned crop per view -> verdicts per part;
* :mod:`~workbench.line.sinks`: JSON lines, MQTT, NG images, zone alerts.
"""
