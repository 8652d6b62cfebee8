"""The workbench window: PySide6 + pyqtgraph panes over a station project (the only layer that imports Qt).

Start it with :func:`workbench.gui.app.run`. Importing this package imports no Qt, so the CLI stays fast.
"""
