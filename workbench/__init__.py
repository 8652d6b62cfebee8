"""Anomaly inspection workbench: set up visual anomaly detection stations offline."""

__version__ = "0.1.0"
