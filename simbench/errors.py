"""Exceptions raised for bad input. Each names the file (if any), the field and what was expected."""

from __future__ import annotations

__all__ = ["SimbenchInputError", "ConfError", "ProfileError", "TraceError"]


class SimbenchInputError(ValueError):
    """Base class: invalid user input (a file, a setting, a flag). The CLI prints it without a traceback."""


class ConfError(SimbenchInputError):
    """A malformed ``mlperf.conf`` / ``user.conf`` line or value."""


class ProfileError(SimbenchInputError):
    """A hardware profile that is missing, malformed or fails validation."""


class TraceError(SimbenchInputError):
    """A trace file that is missing, malformed or does not follow the Trace schema."""
