"""Exceptions raised for bad input. Each names the file (if any), the field and what was expected."""

from __future__ import annotations

__all__ = ["SimbenchInputError", "ConfError", "ProfileError", "TraceError", "MissingExtraError", "require_extra"]


class SimbenchInputError(ValueError):
    """Base class: invalid user input (a file, a setting, a flag). The CLI prints it without a traceback."""


class ConfError(SimbenchInputError):
    """A malformed ``mlperf.conf`` / ``user.conf`` line or value."""


class ProfileError(SimbenchInputError):
    """A hardware profile that is missing, malformed or fails validation."""


class TraceError(SimbenchInputError):
    """A trace file that is missing, malformed or does not follow the Trace schema."""


class MissingExtraError(SimbenchInputError, ImportError):
    """An optional dependency is not installed; the message names the pip extra to install."""


def require_extra(module: str, extra: str, what: str):
    """Import ``module`` or raise ``MissingExtraError`` naming ``pip install 'simbench[extra]'``.

    Parameters
    ----------
    module : str
        The module to import (``'onnxruntime'``, ``'mlperf_loadgen'``, ``'dask.distributed'``).
    extra : str
        The simbench extra that installs it (``'onnx'``, ``'mlcommons'``, ``'dask'``).
    what : str
        What needs it, for the message (``'--sut onnx:resnet50'``).

    Raises
    ------
    MissingExtraError
        ``module`` cannot be imported.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{what} needs {module.split('.')[0]}, which is not installed: pip install 'simbench[{extra}]'"
        ) from exc
