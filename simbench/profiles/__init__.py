"""Hardware profiles: the ``HardwareProfile`` schema, the shipped-profile registry, loading.

Shipped profiles live in ``hardware_profiles/*.yaml`` (installed as the package
``simbench.hardware_profiles``) and are found by name; any other profile is given by path.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from simbench.errors import ProfileError
from simbench.profiles.schema import (
    DynamicBatching,
    HardwareProfile,
    ModelProfile,
    NoBatching,
    ScenarioHarness,
)

__all__ = [
    "HardwareProfile",
    "ModelProfile",
    "ScenarioHarness",
    "DynamicBatching",
    "NoBatching",
    "ProfileError",
    "list_profiles",
    "load_profile",
    "parse_profile",
]


def _shipped_dir():
    return resources.files("simbench.hardware_profiles")


def list_profiles() -> list[str]:
    """Names of the shipped profiles, sorted (e.g. ``['a100', 'h100', 'l4', 't4']``)."""
    return sorted(
        p.name[: -len(".yaml")] for p in _shipped_dir().iterdir() if p.name.endswith(".yaml")
    )


def _format_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


MAX_PROFILE_BYTES = 4 * 1024 * 1024
"""Largest profile document read (the shipped ones are under 20 kB)."""
MAX_PROFILE_NODES = 200_000
"""Most YAML nodes (scalars, sequences, mappings) in one profile document."""
MAX_PROFILE_DEPTH = 64
"""Deepest nesting of YAML collections (a profile needs 6; PyYAML builds recursively)."""


def _check_yaml_bounded(text: str, origin: str) -> None:
    """Refuse YAML that could expand beyond its own size, before it is constructed.

    Anchors and aliases (``&a`` / ``*a``) are refused outright: a profile never needs them,
    and nested aliases are the "billion laughs" attack (640 bytes that expand to gigabytes
    once walked). The document size and node count are capped too. Only the event stream
    is read here (``yaml.parse``), which holds one event at a time and expands nothing.

    Raises
    ------
    ProfileError
        Naming ``origin``, the line and what was refused.
    """
    import yaml

    if len(text) > MAX_PROFILE_BYTES:
        raise ProfileError(
            f"{origin}: {len(text):,} characters; a profile is at most {MAX_PROFILE_BYTES:,}"
        )
    nodes = 0
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_PROFILE_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else "?"
                raise ProfileError(f"{origin}: line {line}: YAML nested more than {MAX_PROFILE_DEPTH} levels deep; not a profile")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            line = event.start_mark.line + 1 if event.start_mark else "?"
            kind = "alias" if isinstance(event, yaml.AliasEvent) else "anchor"
            raise ProfileError(
                f"{origin}: line {line}: YAML {kind} {'*' if kind == 'alias' else '&'}{event.anchor}"
                " is not allowed in a profile (anchors and aliases can expand a small file"
                " without bound); write the values out"
            )
        if isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > MAX_PROFILE_NODES:
                raise ProfileError(f"{origin}: more than {MAX_PROFILE_NODES:,} YAML nodes; not a profile")


def parse_profile(text: str, origin: str) -> HardwareProfile:
    """Validate YAML text as a ``HardwareProfile``.

    Parameters
    ----------
    text : str
        The YAML document.
    origin : str
        File name used in error messages.

    Raises
    ------
    ProfileError
        If the YAML does not parse, uses anchors/aliases or exceeds ``MAX_PROFILE_BYTES`` /
        ``MAX_PROFILE_NODES``, or a field fails validation; the message names ``origin``,
        the field path (e.g. ``models.resnet50.latency.points[2].latency_ns``) and what was
        expected.
    """
    import yaml
    from pydantic import ValidationError

    try:
        _check_yaml_bounded(text, origin)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ProfileError(f"{origin}: not valid YAML{where}: {problem}") from None
    if data is None:
        raise ProfileError(f"{origin}: the file is empty (or only comments); expected a hardware profile (docs/profiles.md)")
    if not isinstance(data, dict):
        raise ProfileError(f"{origin}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return HardwareProfile.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            if err["type"] == "missing":
                lines.append(f"{origin}: field {_format_loc(loc)}: required field is missing")
                continue
            got = err.get("input")
            if isinstance(got, dict):
                got_s = "a mapping"
            elif isinstance(got, list):
                got_s = f"a list of {len(got)}"
            else:
                got_s = repr(got)
            if len(got_s) > 60:
                got_s = got_s[:57] + "..."
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{origin}: field {_format_loc(loc)}: {msg} (got {got_s})")
        raise ProfileError("\n".join(lines)) from None


def _is_clearly_a_path(s: str) -> bool:
    """``./x``, ``dir/x``, ``x.yaml``, ``x.yml``, ``~/x``: a path, never a shipped name."""
    import os

    seps = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    return any(sep in s for sep in seps) or Path(s).suffix.lower() in {".yaml", ".yml"} or s.startswith("~")


def load_profile(name_or_path: str | Path) -> HardwareProfile:
    """Load a shipped profile by name (``'a100'``) or any profile YAML by path.

    A bare name (no path separator, no ``.yaml``/``.yml`` suffix) is a shipped profile
    first, even when a file or folder of that name exists in the working directory (a run
    saved with ``--out a100`` must not hide the shipped ``a100``); a bare name that is not
    shipped but names an existing file is read as that file. Anything clearly a path
    (``./x``, ``dir/x``, ``x.yaml``) is a path.

    Raises
    ------
    ProfileError
        Unknown name (the message lists the shipped names), unreadable file, or invalid
        content (see ``parse_profile``).
    """
    s = str(name_or_path)
    path = Path(s).expanduser()
    if isinstance(name_or_path, Path) or _is_clearly_a_path(s):
        return _load_profile_file(path, s)
    shipped = _shipped_dir() / f"{s}.yaml"
    if shipped.is_file():
        return parse_profile(shipped.read_text(encoding="utf-8"), f"hardware_profiles/{s}.yaml")
    if path.is_file():
        return _load_profile_file(path, s)
    if path.is_dir():
        raise ProfileError(f"profile {s!r} is a folder; expected a shipped profile name ({', '.join(list_profiles()) or 'none'}) or a .yaml file")
    raise ProfileError(
        f"unknown profile {s!r}; shipped profiles: {', '.join(list_profiles()) or 'none'}"
        " (or pass a path to a .yaml file)"
    )


def _load_profile_file(path: Path, s: str) -> HardwareProfile:
    if path.is_dir():
        raise ProfileError(f"{s}: is a directory; expected a profile .yaml file")
    if not path.is_file():
        raise ProfileError(f"{s}: profile file not found")
    try:
        size = path.stat().st_size
        if size > MAX_PROFILE_BYTES * 4:  # utf-8: at most 4 bytes per character
            raise ProfileError(f"{s}: {size:,} bytes; a profile is at most {MAX_PROFILE_BYTES:,} characters")
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{s}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ProfileError(f"{s}: cannot read profile: {exc.strerror or exc}") from None
    return parse_profile(text, s)
