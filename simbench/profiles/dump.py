"""Write ``HardwareProfile`` objects as YAML with PyYAML (never hand-made text).

=====================  ================================================================
``dump_profile``       a validated profile -> YAML text (optional ``#`` comment header)
``write_profile``      the same, written atomically to a file
=====================  ================================================================

The layout is fixed so that the same profile always gives the same bytes: keys in schema
order, block style, except that small all-number mappings (batching, settings) and the
``[probability, multiplier]`` pairs of a quantile noise law are written on one line;
strings are never folded. Only the fields that were set when the profile was built are
written (``exclude_unset``), so a schema field added later with a default does not change
existing files.
"""

from __future__ import annotations

import os
from pathlib import Path

from simbench.profiles.schema import HardwareProfile

__all__ = ["dump_profile", "write_profile"]


def _dumper():
    import yaml

    class ProfileDumper(yaml.SafeDumper):
        """Block style, with flow style for small numeric mappings and number pairs."""

        def represent_dict(self, data):  # noqa: D401 - PyYAML hook
            flow = bool(data) and all(
                k == "kind" or (isinstance(v, (int, float)) and not isinstance(v, bool))
                for k, v in data.items()
            )
            return self.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow)

        def represent_list(self, data):
            flow = bool(data) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in data
            )
            return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)

        def ignore_aliases(self, data):
            return True

    ProfileDumper.add_representer(dict, ProfileDumper.represent_dict)
    ProfileDumper.add_representer(list, ProfileDumper.represent_list)
    ProfileDumper.add_representer(tuple, ProfileDumper.represent_list)
    return ProfileDumper


def dump_profile(profile: HardwareProfile, header: str = "") -> str:
    """Serialise a profile as YAML text that ``load_profile`` reads back to an equal profile.

    Parameters
    ----------
    profile : HardwareProfile
        A validated profile.
    header : str, optional
        Comment text put before the document, one ``#`` line per line of ``header``
        (lines that already start with ``#`` are kept as they are).

    Returns
    -------
    str
        UTF-8 YAML text ending in a newline.

    Notes
    -----
    Uses PyYAML's pure-Python ``SafeDumper`` (identical output on every platform), with
    ``sort_keys=False`` (schema order), unlimited line width and ``allow_unicode``.
    """
    import yaml

    if not isinstance(profile, HardwareProfile):
        raise TypeError(f"dump_profile: expected a HardwareProfile, got {type(profile).__name__}")
    data = profile.model_dump(mode="json", exclude_unset=True)
    body = yaml.dump(
        data, Dumper=_dumper(), sort_keys=False, allow_unicode=True, width=1 << 30,
        default_flow_style=False,
    )
    lines = []
    for line in header.splitlines():
        lines.append(line if line.startswith("#") else ("# " + line).rstrip())
    head = "\n".join(lines) + "\n" if lines else ""
    return head + body


def write_profile(profile: HardwareProfile, path: str | Path, header: str = "") -> Path:
    """Write ``dump_profile(profile, header)`` to ``path`` atomically (temp file + rename).

    Raises
    ------
    OSError
        The folder does not exist or is not writable (the old file, if any, is untouched).
    """
    p = Path(path)
    text = dump_profile(profile, header)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, p)
    finally:
        if tmp.exists():
            tmp.unlink()
    return p
