"""Line bundles: fitted models exported to ONNX with their views, templates and policy, checked against torch,
and run with onnxruntime.

* each model's one forward (``forward_module()``, the module ``predict`` runs) becomes ONNX through
  :mod:`workbench.models.onnx`, part of the model contract;
* :mod:`~workbench.export.writer`: write a bundle folder (temp folder + rename); the line side
  (:mod:`workbench.line`) reads it back and runs it;
* :mod:`~workbench.export.parity`: onnxruntime vs torch maps and verdicts, as a JSON report;
"""
