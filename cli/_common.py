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


# Upper bounds of the size/count flags, checked by typer before any work (each derived from
# what a run can hold; tests/cli/test_input_cases.py checks them against the library's own).
MAX_QPS = 1e9
"""--target-qps: one query per ns, the resolution of the int64-ns schedule."""
MAX_DURATION_S = 9_223_372_036.0
"""--min-duration-s: the largest whole second count whose ns value fits int64."""
MAX_LATENCY_MS = 9_223_372_036_854.0
"""--target-latency-ms: the largest ms value whose ns value fits int64."""
MAX_QUERY_COUNT = 150_000_000
"""--min-query-count: simbench.arrivals.MAX_SCHEDULE_SIZE, the queries one run holds in memory."""
MAX_REPLICAS = 4096
"""--replicas: the profile schema's bound on ``replicas``."""
MAX_SEED = 2**64 - 1
"""--seed: LoadGen's seeds are uint64."""
MAX_WORKERS = 1024
"""benchmark --workers: one OS thread each."""
MAX_STALL_S = 7 * 86_400.0
"""benchmark --stall-timeout-s: a week."""


def cores() -> int:
    """Cores this process may use (the bound of thread-count flags)."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


BATCHING_HELP = (
    "SUT-side batching, the same grammar for simulate and benchmark: none | N |"
    " dynamic:MAX_BATCH[:TIMEOUT_US]. 'none' (or '1'): one sample per batch; 'N': up to N queued"
    " samples, no waiting (= dynamic:N:0); 'dynamic:MAX_BATCH[:TIMEOUT_US]': wait until MAX_BATCH"
    " samples are queued or the oldest has waited TIMEOUT_US microseconds (default 0), as Triton's"
    " max_queue_delay. MAX_BATCH 1..1000000, TIMEOUT_US 0..60000000."
)
"""``--batching`` help for ``simulate`` and ``benchmark`` (``simbench.batching.parse_batching``)."""
