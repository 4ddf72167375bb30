"""Output folders: checked before any work, written atomically, errors that name the flag.

=========================  ============================================================
``OutputFolder``           a run's result folder; ``write_bytes``/``write_text``/``writing``
                           put files there atomically (temp file + ``os.replace``)
``prepare_out_dir``        check and create ``--out`` (or a fresh default folder) BEFORE a run
``check_fits``             refuse a run whose estimated disk or memory use exceeds the machine
``RunEstimate``            what one scenario is expected to need (samples, bytes)
``OutputError``            a result folder that cannot hold the results (one clear line)
``atomic_path``            a temporary path renamed to the final one on success
``free_disk_bytes``        free space for an unprivileged writer under a folder (statvfs)
``available_memory_bytes`` what a new allocation can use: MemAvailable, capped by RLIMIT_AS
``thread_limit``           how many more threads this process may start
=========================  ============================================================

Nothing here renders or computes: the run writer is ``simbench.results``. This module sits
at the bottom of the dependency graph (it imports only ``simbench.errors``), so the Trace's
own Parquet writer uses it too.

Every file lands under its final name only when complete: it is written to a temporary
name in the same folder (``.NAME.tmp-PID-N``) and renamed with ``os.replace``, which POSIX
makes atomic on one file system. A full disk, a killed process or an exception mid-write
leaves the previous file (or none), never a truncated one.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import itertools
import os
import resource
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from simbench.errors import SimbenchInputError

__all__ = [
    "OutputError",
    "OutputFolder",
    "RunEstimate",
    "prepare_out_dir",
    "default_out_dir",
    "check_fits",
    "free_disk_bytes",
    "available_memory_bytes",
    "thread_limit",
    "format_bytes",
    "atomic_path",
    "RESULT_FILES",
]

#: The files every simulated or real scenario writes (``simbench.results.write_scenario``).
RESULT_FILES = ("trace.parquet", "mlperf_log_summary.txt", "mlperf_log_detail.txt", "summary.json")
#: Entries of a scenario folder that mean "results are here" (refused without --force).
_RESULT_MARKERS = RESULT_FILES + ("trace.parts", "loadgen", "device_timeline.parquet")
_SEQ = itertools.count()


class OutputError(SimbenchInputError):
    """The output folder cannot take the results: not creatable, not writable, already holding
    results, too small, or the disk filled while writing. The message names the flag and folder."""


def format_bytes(n: float) -> str:
    """``n`` bytes in kB/MB/GB (powers of 1000), e.g. ``'1.2 GB'``."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def _reason(exc: OSError) -> str:
    code = exc.errno or 0
    if not code and "no space left" in str(exc).lower():
        code = errno.ENOSPC  # pyarrow's write errors carry the text, not always the errno
    return {
        errno.ENOSPC: "no space left on device",
        errno.EDQUOT: "disk quota exceeded",
        errno.EROFS: "read-only file system",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOTDIR: "a path component is a file, not a folder",
        errno.EEXIST: "exists and is not a directory",
        errno.EISDIR: "is a folder",
        errno.ENAMETOOLONG: "file name too long",
    }.get(code, (exc.strerror or str(exc)).lower())


class OutputFolder:
    """A result folder whose files are written atomically.

    Parameters
    ----------
    root : str or pathlib.Path
        The run's folder (``--out``); created by ``prepare_out_dir``.
    flag : str
        How the folder is named in error messages [default ``'--out'``].

    Examples
    --------
    >>> import tempfile
    >>> f = OutputFolder(tempfile.mkdtemp())
    >>> f.write_text("Server/note.txt", "hello").read_text()
    'hello'
    """

    def __init__(self, root: str | Path, flag: str = "--out") -> None:
        self.root = Path(root)
        self.flag = flag

    def __repr__(self) -> str:
        return f"OutputFolder({str(self.root)!r}, flag={self.flag!r})"

    def error(self, exc: OSError, name: str) -> OutputError:
        """The one-line error for ``exc`` raised while writing ``name``."""
        return OutputError(f"{self.flag} {self.root}: {_reason(exc)} while writing {name}")

    @contextlib.contextmanager
    def writing(self, relpath: str | Path) -> Iterator[Path]:
        """Yield a temporary path beside ``root/relpath``; on success rename it into place
        (``atomic_path``). An ``OSError`` becomes an ``OutputError`` naming the flag, the
        folder and the file."""
        try:
            with atomic_path(self.root / relpath) as tmp:
                yield tmp
        except (FileExistsError, NotADirectoryError):
            raise OutputError(
                f"{self.flag} {self.root}: {Path(relpath).parent} is a file, not a folder; cannot write"
                f" {Path(relpath).name}"
            ) from None
        except OSError as exc:
            raise self.error(exc, Path(relpath).name) from None

    def write_bytes(self, relpath: str | Path, data: bytes) -> Path:
        """Write ``data`` to ``root/relpath`` atomically; returns the final path."""
        with self.writing(relpath) as tmp:
            with open(tmp, "wb") as fh:
                fh.write(data)
        return self.root / relpath

    def write_text(self, relpath: str | Path, text: str) -> Path:
        """Write UTF-8 ``text`` to ``root/relpath`` atomically; returns the final path."""
        return self.write_bytes(relpath, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path in ``final``'s folder; rename it to ``final`` on success.

    The temporary name is ``.NAME.tmp-PID-N``; on any exception (a full disk, an error in
    the writer, Ctrl-C) it is removed and ``final`` is left as it was. Parent folders are
    created. ``OSError`` propagates unchanged.
    """
    final = Path(final)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}-{next(_SEQ)}"
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(p: Path) -> None:
    try:
        p.unlink()
    except OSError:
        pass


def default_out_dir(prefix: str = "", base: str | Path = "simbench_results") -> Path:
    """Create and return a fresh ``base/<prefix><YYYYmmdd-HHMMSS-micro>`` folder.

    The folder is created with ``mkdir`` (atomic), and a ``-2``, ``-3`` ... suffix is added if
    another run took the name, so two runs started at the same instant never share a folder.

    Raises
    ------
    OutputError
        ``base`` cannot be created or written.
    """
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    base_p = Path(base)
    try:
        base_p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--out (default {base_p}/): cannot create the folder: {_reason(exc)}") from None
    for n in range(1, 10_000):
        p = base_p / (f"{prefix}{stamp}" if n == 1 else f"{prefix}{stamp}-{n}")
        try:
            p.mkdir()
            return p
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError(f"--out (default {p}): cannot create the folder: {_reason(exc)}") from None
    raise OutputError(f"--out (default {base_p}/{prefix}{stamp}): 10,000 folders of that name exist")  # pragma: no cover


def _existing_results(root: Path, subdirs: Sequence[str]) -> list[Path]:
    found = []
    for sub in subdirs:
        d = root / sub
        for name in _RESULT_MARKERS:
            if (d / name).exists():
                found.append(d / name)
    return found


def prepare_out_dir(
    out: str | Path | None,
    *,
    subdirs: Sequence[str],
    force: bool = False,
    default_prefix: str = "",
    flag: str = "--out",
) -> OutputFolder:
    """Check and create a run's output folder before any work is spent.

    Parameters
    ----------
    out : path or None
        The folder asked for; None makes a fresh default (``default_out_dir``).
    subdirs : sequence of str
        The per-scenario folders the run will write (e.g. ``['Server', 'Offline']``).
    force : bool
        Overwrite results already in those folders (``--force``).
    default_prefix : str
        Prefix of the default folder's name (``'bench-'`` for real runs).
    flag : str
        The flag named in messages.

    Returns
    -------
    OutputFolder

    Raises
    ------
    OutputError
        ``out`` exists and is not a folder; cannot be created; is not writable (checked by
        creating and removing a probe file); or already holds results of a run in one of
        ``subdirs`` and ``force`` is False.
    """
    root = default_out_dir(default_prefix) if out is None else Path(out)
    if root.exists() and not root.is_dir():
        raise OutputError(f"{flag} {root}: exists and is not a directory")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{flag} {root}: exists and is not a directory") from None
    except OSError as exc:
        raise OutputError(f"{flag} {root}: cannot create the output folder: {_reason(exc)}") from None
    probe = root / f".simbench-write-test-{os.getpid()}-{next(_SEQ)}"
    try:
        probe.write_bytes(b"")
    except OSError as exc:
        raise OutputError(f"{flag} {root}: the output folder is not writable: {_reason(exc)}") from None
    finally:
        _unlink(probe)
    for sub in subdirs:
        d = root / sub
        if d.exists() and not d.is_dir():
            raise OutputError(f"{flag} {root}: {d} exists and is not a directory")
    found = _existing_results(root, subdirs)
    if found and not force:
        shown = ", ".join(str(p) for p in found[:3]) + (" ..." if len(found) > 3 else "")
        raise OutputError(
            f"{flag} {root}: already holds results ({shown}); choose another {flag} or pass"
            " --force to overwrite them"
        )
    return OutputFolder(root, flag)


# ------------------------------------------------------------------------------ capacity


def free_disk_bytes(path: str | Path) -> int:
    """Bytes an unprivileged process may still write on ``path``'s file system
    (``statvfs``: ``f_bavail * f_frsize``)."""
    st = os.statvfs(path)
    return int(st.f_bavail) * int(st.f_frsize)


def _meminfo_kb(key: str) -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _vm_size_bytes() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def available_memory_bytes() -> tuple[int | None, str]:
    """What new allocations of this process can use, and where the limit comes from.

    Returns
    -------
    (bytes or None, str)
        The smaller of the kernel's ``MemAvailable`` (``/proc/meminfo``: free memory plus
        reclaimable cache, the kernel's own estimate of what can be allocated without
        swapping) and the address-space limit ``RLIMIT_AS`` (``ulimit -v``) minus this
        process's current ``VmSize``; None when neither is known.
    """
    limits: list[tuple[int, str]] = []
    kb = _meminfo_kb("MemAvailable")
    if kb is not None:
        limits.append((kb * 1024, "MemAvailable in /proc/meminfo"))
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft not in (resource.RLIM_INFINITY, -1):
        limits.append((max(0, soft - _vm_size_bytes()), "the address-space limit (ulimit -v)"))
    if not limits:
        return None, "unknown"
    return min(limits)


def thread_limit() -> tuple[int | None, str]:
    """How many more threads this process may start, and the limit's source: the smaller
    of ``RLIMIT_NPROC`` (``ulimit -u``, counted per user) and ``/proc/sys/kernel/threads-max``,
    minus the threads running now; (None, 'unknown') when neither is known."""
    import threading

    limits: list[tuple[int, str]] = []
    soft, _hard = resource.getrlimit(resource.RLIMIT_NPROC)
    if soft not in (resource.RLIM_INFINITY, -1):
        limits.append((int(soft), "ulimit -u"))
    try:
        with open("/proc/sys/kernel/threads-max") as fh:
            limits.append((int(fh.read().strip()), "/proc/sys/kernel/threads-max"))
    except (OSError, ValueError):
        pass
    if not limits:
        return None, "unknown"
    n, src = min(limits)
    return max(0, n - threading.active_count()), src


@dataclass(frozen=True)
class RunEstimate:
    """What one scenario of a run is expected to need, computed before it starts.

    Attributes
    ----------
    what : str
        The run, e.g. ``'Server'``.
    samples : int
        Samples the schedule holds (an upper estimate).
    disk_bytes : int
        Bytes its result files take (trace plus logs).
    memory_bytes : int
        Peak bytes the run allocates (schedule, trace, replicas, workers).
    knobs : str
        The flags or conf keys that size it, for the message (e.g.
        ``'--min-duration-s / --target-qps (conf: min_duration, target_qps)'``).
    memory_detail : str
        What the memory estimate is made of (shown in the message).
    memory_knobs : str
        The flag behind the largest share of the memory [default: ``knobs``].
    """

    what: str
    samples: int
    disk_bytes: int
    memory_bytes: int
    knobs: str
    memory_detail: str = ""
    memory_knobs: str = ""


def check_fits(
    folder: OutputFolder,
    estimates: Sequence[RunEstimate],
    *,
    free_bytes: int | None = None,
    memory_bytes: int | None = None,
    memory_source: str = "",
) -> None:
    """Refuse, before any work, a run whose files do not fit the disk or whose largest
    scenario does not fit the memory.

    Disk: the sum of ``disk_bytes`` (every scenario's files stay) must be at most the free
    space under ``folder.root``. Memory: the largest ``memory_bytes`` (scenarios run one
    after another) must be at most what the machine can allocate.

    Parameters
    ----------
    folder : OutputFolder
    estimates : sequence of RunEstimate
    free_bytes, memory_bytes : int, optional
        Override the measured free disk / available memory (tests).
    memory_source : str
        Where ``memory_bytes`` came from (message).

    Raises
    ------
    OutputError
        Not enough disk (naming ``--out``, the need and the free space).
    SimbenchInputError
        Not enough memory (naming the flags that size the run and the limit).
    """
    if not estimates:
        return
    free = free_disk_bytes(folder.root) if free_bytes is None else free_bytes
    need = sum(e.disk_bytes for e in estimates)
    if need > free:
        parts = ", ".join(f"{e.what} ~{e.samples:,} samples" for e in estimates)
        raise OutputError(
            f"{folder.flag} {folder.root}: the results need about {format_bytes(need)} ({parts}) but"
            f" only {format_bytes(free)} is free there; free some space, choose another {folder.flag},"
            f" or shorten the run ({estimates[0].knobs})"
        )
    if memory_bytes is None:
        memory_bytes, memory_source = available_memory_bytes()
    if memory_bytes is None:
        return
    worst = max(estimates, key=lambda e: e.memory_bytes)
    if worst.memory_bytes > memory_bytes:
        detail = f" ({worst.memory_detail})" if worst.memory_detail else ""
        raise SimbenchInputError(
            f"{worst.memory_knobs or worst.knobs}: the {worst.what} run would need about {format_bytes(worst.memory_bytes)}"
            f" of memory{detail}, more than the {format_bytes(memory_bytes)} available"
            f" ({memory_source}); make the run smaller"
        )
