"""Line bundles: fitted models exported to ONNX with their views, templates and policy, checked against torch,
and run with onnxruntime.

* :mod:`~workbench.export.graphs` / :mod:`~workbench.export.operators`: one exportable ``nn.Module`` per model
  (preprocessing, ROI, nearest-neighbour search and map post-processing inside the graph);
* :mod:`~workbench.export.onnx_export`: the dynamo exporter, TorchScript only as a logged fall-back;
* :mod:`~workbench.export.writer` / :mod:`~workbench.export.bundle`: write (temp folder + rename) and read
  back (sha256 verified) a bundle folder;
* :mod:`~workbench.export.parity`: onnxruntime vs torch maps and verdicts, as a JSON report;
* :mod:`~workbench.export.runtime`: onnxruntime sessions with the provider in use logged, never a silent
  CPU fall-back;
* :mod:`~workbench.export.verdict`: view verdicts, defect boxes and zones, late fusion into a part verdict.
"""
