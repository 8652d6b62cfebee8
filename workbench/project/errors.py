"""The one error the project store raises: a message a user can read and act on."""

from __future__ import annotations


class ProjectError(ValueError):
    """A project file could not be read, written or changed; the message says which file and why."""
