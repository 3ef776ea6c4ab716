"""A fast reader for flat frontmatter: one `key: value` a line, the shape of the learner's template.

libyaml is most of a first sync's time (half a second for 10k notes), and the template's frontmatter is a flat
list of scalars. read_flat turns such text into the (key, key style, value, value style, line) that
yaml.compose's scalar nodes hold, and gives up (None) on anything it does not fully understand, so that libyaml
reads it instead and every answer, error messages included, stays libyaml's. It builds no node objects:
vault_format reads a scalar's text and style with one function whichever reader found it. What it accepts, per line:

- a blank line, or a comment line (``#`` first);
- a key, plain or quoted without escapes, then ``:`` and a space or the end of the line;
- a value that is empty, plain (no leading YAML indicator, no ``: `` or `` #`` inside), or quoted without
  escapes and with nothing after the closing quote.

Anything else (indentation, lists, nested mappings, block scalars, escapes, anchors, tags, tabs, a character
YAML refuses, a document marker) returns None. tests/test_flat_frontmatter.py checks that both readers agree on
every note under tests/data and on generated notes with the tricky cases.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

# YAML 1.1 also breaks lines at NEL and the Unicode separators, and a BOM may restart the stream; and it refuses
# some characters anywhere (libyaml then reports where).
_OTHER_BREAKS = re.compile("[\x85\u2028\u2029\ufeff]")
_MARKER = re.compile(r"^(?:---|\.\.\.)", re.MULTILINE)  # a document marker: never flat
_REFUSED = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# A plain scalar: no YAML indicator first, no ": " or " #" inside, no ":" last (trailing spaces stripped after).
_PLAIN = r"""[^\s\-?:,\[\]{}#&*!|>'"%@`](?:[^:#\r\n]++|:(?![ \r\n]|$)|(?<!\ )\#)*+"""
# A plain key: the same without any ":", and without the spaces before the colon.
_PLAIN_KEY = r"""[^\s\-?:,\[\]{}#&*!|>'"%@`](?:[^:#\r\n ]++|[ ]++(?=[^ :#\r\n])|(?<!\ )\#)*+"""
# One line of flat frontmatter: blank, a comment, or `key: value` with a plain or escape-free quoted key and
# value. Every line of the text must match for the fast reader to answer.
_QUOTED = r""""[^"\\\r\n]*"|'[^'\r\n]*'"""
_LINE = re.compile(
    rf"""^(?:
        [ ]*|\#.*
      | ({_QUOTED}|{_PLAIN_KEY})[ ]*(:)(?:[ ]+({_QUOTED}|{_PLAIN}))?[ ]*
    )\r?$""",
    re.MULTILINE | re.VERBOSE,
)


class FlatPair(NamedTuple):
    """One ``key: value`` line as libyaml's scalar nodes would give it: the text and style (``"``, ``'`` or "" for
    plain) of key and value, and the 0-based line in the frontmatter text, as libyaml's marks count it."""

    key: str
    key_style: str
    value: str | None  # None only where vault_format gives libyaml's list or mapping this shape
    style: str
    line: int


def read_flat(text: str, keep: Callable[[str], object] | None = None) -> list[FlatPair] | None:
    """The frontmatter's key/value pairs when it is flat, else None (let libyaml read it).

    With ``keep``, only the pairs whose key it finds truthy: the caller skips the template's many keys it
    ignores (the formulas, the dates it derives) without a step for each."""
    if "\t" in text or _REFUSED.search(text) or _OTHER_BREAKS.search(text) or _MARKER.search(text):
        return None
    found = _LINE.findall(text)  # (key, colon, value) as written; all empty for a blank or comment line
    if len(found) != text.count("\n") + 1:  # a line the pattern does not cover: leave it all to libyaml
        return None
    pairs = []
    for number, (key, colon, value) in enumerate(found):
        if not colon:
            continue
        key_style = key[0] if key[0] in "\"'" else ""
        if key_style:
            key = key[1:-1]
        if keep is not None and not keep(key):
            continue
        style = value[:1] if value[:1] in ('"', "'") else ""
        pairs.append(FlatPair(key, key_style, value[1:-1] if style else value.rstrip(" "), style, number))
    return pairs
