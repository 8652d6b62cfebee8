"""One module per pane of the workbench window; each takes the shared StationModel."""
