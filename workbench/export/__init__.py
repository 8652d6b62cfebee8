"""Line bundles: fitted models exported to ONNX with their views, templates and policy, checked against torch,
and run with onnxruntime.

* :mod:`~workbench.export.graphs` / :mod:`~workbench.export.operators`: one exportable ``nn.Module`` per model
  (preprocessing, ROI, nearest-neighbour search and map post-processing inside the graph);
* :mod:`~workbench.export.onnx_export`: the dynamo exporter, TorchScript only as a logged fall-back;
* :mod:`~workbench.export.writer`: write a bundle folder (temp folder + rename); the line side
  (:mod:`workbench.line`) reads it back and runs it;
* :mod:`~workbench.export.parity`: onnxruntime vs torch maps and verdicts, as a JSON report;
"""
