"""Reusable widgets of the workbench window: image canvas, scrubber, timeline."""
