"""Process memory policy for the command-line runs.

A 600 s Server run of the a100 profile holds 22 million samples: each per-sample array is
177 MB, and a run allocates and frees dozens of them (the peak search's schedules, the
engine's outputs, the Trace's columns, the summary's latencies). glibc's ``malloc`` serves
every block above 32 MB with a fresh ``mmap`` and returns it with ``munmap`` on ``free``, so
every such array is page-faulted in anew, 4 KiB at a time: on this project's 2-core VM that
cost 9 s of system time in ``simbench simulate --profile a100`` (about as much as the
simulation's user time). ``keep_freed_memory`` tells glibc (``mallopt``, glibc's documented
tuning interface, ``man 3 mallopt``) to serve large blocks from the heap and not to trim it,
so freed arrays are reused without new page faults. Results are unchanged (only where the
bytes live); the process's peak resident memory is unchanged too (it is the high-water mark
either way), but memory freed late in the run is not handed back to the system until the
process exits, which is what a one-shot command wants.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["keep_freed_memory"]

# glibc malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Serve large allocations from the heap and keep freed memory for reuse (glibc only).

    Returns
    -------
    bool
        True when glibc accepted both settings; False elsewhere (macOS, musl, Windows), where
        nothing changes.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
