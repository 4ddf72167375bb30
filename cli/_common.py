"""Shared CLI helpers: error handling and the rich console. Only ``cli/`` imports rich."""

from __future__ import annotations

import functools
import sys
from typing import Any, Callable

import typer


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn bad input (``ValueError`` and simbench's input errors) into one clear line and
    exit code 2, instead of a traceback; Ctrl-C exits 130."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ValueError, FileNotFoundError) as exc:
            msg = str(exc) or exc.__class__.__name__
            print(f"error: {msg}", file=sys.stderr)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise typer.Exit(130) from None

    return wrapper
