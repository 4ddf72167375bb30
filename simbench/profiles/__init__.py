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
        If the YAML does not parse or a field fails validation; the message names ``origin``,
        the field path (e.g. ``models.resnet50.latency.points[2].latency_ns``) and what was
        expected.
    """
    import yaml
    from pydantic import ValidationError

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ProfileError(f"{origin}: not valid YAML{where}: {problem}") from None
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
            got_s = repr(got) if not isinstance(got, dict) else "a mapping"
            if len(got_s) > 60:
                got_s = got_s[:57] + "..."
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{origin}: field {_format_loc(loc)}: {msg} (got {got_s})")
        raise ProfileError("\n".join(lines)) from None


def load_profile(name_or_path: str | Path) -> HardwareProfile:
    """Load a shipped profile by name (``'a100'``) or any profile YAML by path.

    Raises
    ------
    ProfileError
        Unknown name (the message lists the shipped names), unreadable file, or invalid
        content (see ``parse_profile``).
    """
    s = str(name_or_path)
    path = Path(s)
    if path.suffix in {".yaml", ".yml"} or path.exists() or "/" in s:
        if path.is_dir():
            raise ProfileError(f"{s}: is a directory; expected a profile .yaml file")
        if not path.is_file():
            raise ProfileError(f"{s}: profile file not found")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ProfileError(f"{s}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        except OSError as exc:
            raise ProfileError(f"{s}: cannot read profile: {exc}") from None
        return parse_profile(text, s)
    shipped = _shipped_dir() / f"{s}.yaml"
    if not shipped.is_file():
        raise ProfileError(
            f"unknown profile {s!r}; shipped profiles: {', '.join(list_profiles()) or 'none'}"
            " (or pass a path to a .yaml file)"
        )
    return parse_profile(shipped.read_text(), f"hardware_profiles/{s}.yaml")
