"""Filling in the text of a page or message from a catalogue: {language: {name: template}}."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def format_text(catalogue: Mapping[str, Mapping[str, str]], language: str, name: str, **values: Any) -> str:
    """``catalogue[language][name]`` with ``values`` filled in; with a count ``n``, ``{s}`` is the English plural
    ending ("" for one, "s" otherwise), so "{n} day{s}" reads right in both languages."""
    if "n" in values:
        values.setdefault("s", "" if values["n"] == 1 else "s")
    return catalogue[language][name].format(**values)
