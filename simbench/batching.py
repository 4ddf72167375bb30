"""SUT-side batching: one validated type and one ``--batching`` grammar for every SUT.

=====================  ================================================================
``NoBatching``         every sample is its own batch of one
``DynamicBatching``    Triton-style dynamic batching (``max_batch``, ``timeout_us``)
``BatchingPolicy``     the discriminated union of the two (``kind: none | dynamic``)
``parse_batching``     ``--batching`` text -> a policy (``simulate`` and ``benchmark``)
``BATCHING_GRAMMAR``   the grammar, named in every error message
=====================  ================================================================

The same policy object drives the simulated batcher (``simbench.sim``), the real SUTs'
batcher (``simbench.bench.base.BatchQueue``) and the profiles' per-scenario harness settings
(``simbench.profiles.schema.ScenarioHarness``), so a policy means the same thing in a real
and a simulated run. It sits at the bottom of the package (pydantic only). The CLI's help text for the flag is
``simbench.cli._common.BATCHING_HELP`` (kept there so ``--help`` does not import pydantic);
``docs/reference.md`` documents the grammar.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from simbench.errors import SimbenchInputError

__all__ = [
    "NoBatching",
    "DynamicBatching",
    "BatchingPolicy",
    "parse_batching",
    "BATCHING_GRAMMAR",
    "MAX_BATCH_LIMIT",
    "TIMEOUT_US_LIMIT",
]

MAX_BATCH_LIMIT = 1_000_000
"""Largest ``max_batch`` accepted (samples)."""

TIMEOUT_US_LIMIT = 60_000_000
"""Largest ``timeout_us`` accepted (microseconds, 60 s)."""

BATCHING_GRAMMAR = "none | N | dynamic:MAX_BATCH[:TIMEOUT_US]"

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class NoBatching(_Strict):
    """Each sample is its own batch of one, served in arrival order."""

    kind: Literal["none"] = "none"

    @property
    def max_batch(self) -> int:
        return 1

    @property
    def timeout_us(self) -> float:
        return 0.0

    def describe(self) -> dict[str, Any]:
        """``{'kind', 'max_batch', 'timeout_us'}`` for trace metadata."""
        return {"kind": self.kind, "max_batch": 1, "timeout_us": 0.0}


class DynamicBatching(_Strict):
    """Dynamic batching as Triton's ``max_queue_delay_microseconds`` or NVIDIA's MLPerf harness.

    When a device (worker) is free, it takes ``max_batch`` queued samples at once if that many
    are waiting; otherwise it waits until either ``max_batch`` are queued or the *oldest*
    queued sample has waited ``timeout_us`` since it joined the queue, then takes all queued
    samples (at most ``max_batch``). ``timeout_us = 0`` takes what is queued at once.

    Parameters
    ----------
    max_batch : int
        Largest batch, samples, 1..1,000,000.
    timeout_us : float
        Longest wait of the oldest queued sample, microseconds, 0..60,000,000 [default 0].

    References
    ----------
    Triton Inference Server, "Dynamic batcher": ``max_queue_delay_microseconds`` bounds how
    long a request may wait in the scheduler queue for a batch to form.
    """

    kind: Literal["dynamic"] = "dynamic"
    max_batch: int = Field(ge=1, le=MAX_BATCH_LIMIT)
    timeout_us: float = Field(default=0.0, ge=0, le=TIMEOUT_US_LIMIT)

    def describe(self) -> dict[str, Any]:
        """``{'kind', 'max_batch', 'timeout_us'}`` for trace metadata."""
        return {"kind": self.kind, "max_batch": self.max_batch, "timeout_us": self.timeout_us}


BatchingPolicy = Annotated[Union[NoBatching, DynamicBatching], Field(discriminator="kind")]


def parse_batching(text: str | None, *, flag: str = "--batching") -> NoBatching | DynamicBatching:
    """Parse the ``--batching`` grammar shared by ``simbench simulate`` and ``simbench benchmark``.

    Parameters
    ----------
    text : str or None
        ``none`` (also ``off``, ``1`` or empty/None): no batching; ``N`` (an integer >= 2): up
        to N queued samples per batch without waiting, i.e. ``dynamic:N:0``;
        ``dynamic:MAX_BATCH[:TIMEOUT_US]``: see ``DynamicBatching`` (TIMEOUT_US defaults to 0).
        Case and surrounding spaces are ignored.
    flag : str
        The flag or field named in error messages.

    Returns
    -------
    NoBatching or DynamicBatching

    Raises
    ------
    ValueError
        Any other form, or a number out of range, naming ``flag`` and the grammar.

    Examples
    --------
    >>> parse_batching("dynamic:8:2000")
    DynamicBatching(kind='dynamic', max_batch=8, timeout_us=2000.0)
    >>> parse_batching("8") == parse_batching("dynamic:8:0")
    True
    >>> parse_batching("none")
    NoBatching(kind='none')
    """
    if text is None or text.strip().lower() in ("", "none", "off", "1"):
        return NoBatching()
    t = text.strip().lower()
    parts = t.split(":")
    if parts[0] == "dynamic" and len(parts) in (2, 3):
        max_text, timeout_text = parts[1], parts[2] if len(parts) == 3 else "0"
    elif len(parts) == 1 and parts[0].isdigit():
        max_text, timeout_text = parts[0], "0"
    else:
        raise SimbenchInputError(f"{flag}: expected {BATCHING_GRAMMAR} (e.g. dynamic:128:2000), got {text!r}")
    try:
        max_batch = int(max_text)
        timeout_us = float(timeout_text)
    except ValueError:
        raise SimbenchInputError(
            f"{flag} {text!r}: MAX_BATCH must be an integer and TIMEOUT_US a number ({BATCHING_GRAMMAR})"
        ) from None
    if not 1 <= max_batch <= MAX_BATCH_LIMIT:
        raise SimbenchInputError(f"{flag} {text!r}: MAX_BATCH must be in 1..{MAX_BATCH_LIMIT}")
    if not 0 <= timeout_us <= TIMEOUT_US_LIMIT:
        raise SimbenchInputError(f"{flag} {text!r}: TIMEOUT_US must be in 0..{TIMEOUT_US_LIMIT} (60 s)")
    return DynamicBatching(max_batch=max_batch, timeout_us=timeout_us)
