"""Obsidian study-note frontmatter: read a note's schedule fields, write one review flag back.

Pure functions over bytes: no file system, no clock, no database (the vault sync does the I/O).

What counts as a study note: the file's first line (after an optional UTF-8 BOM) is ``---``, a later line is
``---``, and the YAML between them is a mapping with a first-study date. Only that frontmatter is decoded and
YAML-parsed; the body is hashed and otherwise never read, so a large body costs a hash and nothing more.

Decisions worth knowing:
- Keys are matched on ``normalise_key`` with spaces, ``_`` and ``-`` removed, so ``first studied``,
  ``first_studied``, ``First-Study`` and ``첫 학습날``/``첫학습날`` all name the first-study date.
- A first-study key with an empty value reads as "not scheduled yet" (``parse_note`` returns None), so the
  learner's template file does not fail every sync.
- A time or UTC offset after the date is checked and dropped: the date as written is the day of study in the
  learner's zone (Notion and Obsidian both write local times).
- The flag the learner ticks (``N일복습여부``, ``review_Nd``, ``장기기억``, ``long_term``) wins over the template's
  derived ``N일차복습여부1,0`` / ``장기기억저장여부1,0``; two keys of the same kind that disagree are an error,
  because guessing which one the learner meant would silently drop a review.
- An empty flag (``❤1일복습여부:``) is present and not done, as Obsidian shows it: an unticked checkbox.
- Keys starting with 🛑 are the template's formulas and are never read, whatever follows the 🛑.
- Values are read as written (every YAML implicit type is switched off), so ``pages: 1:30`` stays ``1:30``
  instead of YAML 1.1's sexagesimal 90, and dates are parsed here with one rule for every spelling.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, time
from functools import lru_cache
from typing import Any, ClassVar
from urllib.parse import quote

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reminder.flat_frontmatter import read_flat

__all__ = ["NoteFormatError", "ParsedNote", "normalise_key", "obsidian_link", "parse_note", "set_flag"]

BOM = b"\xef\xbb\xbf"
# The opening line is line 1 (a BOM does not start a line), so the frontmatter text starts on line 2.
_FIRST_FM_LINE = 2
_OPEN_RE = re.compile(rb"---[ \t]*(\r?\n)")
_CLOSE_RE = re.compile(rb"^---[ \t]*\r?$", re.MULTILINE)
# The learner's template prefixes every formula field with 🛑; none of them is ever input.
_DERIVED_PREFIX = "🛑"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_BOOLS = _TRUE | _FALSE
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

try:
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader


class _AsWrittenLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Composes nodes without YAML 1.1's implicit types: values are interpreted here, as written."""

    # Tags are never looked at (values are read from node.value and node.style), so resolving is a constant
    # lookup; the inherited resolver's per-node table walks cost about 15 % of a note's parse time.
    _TAGS: ClassVar[dict[type, str]] = {
        ScalarNode: "tag:yaml.org,2002:str",
        SequenceNode: "tag:yaml.org,2002:seq",
        MappingNode: "tag:yaml.org,2002:map",
    }

    def resolve(self, kind: type, value: object, implicit: object) -> str:
        return self._TAGS[kind]

    def descend_resolver(self, current_node: object, current_index: object) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


class NoteFormatError(ValueError):
    """A note the learner can fix. ``str()`` is one line: "line N: reason", N 1-based in the file."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason

    def __reduce__(self) -> tuple[type[NoteFormatError], tuple[int, str]]:
        # The default reduce would call __init__ with the formatted message only; the sync may pickle errors.
        return (type(self), (self.line, self.reason))


@dataclass(frozen=True)
class ParsedNote:
    title: str
    first_studied_on: date
    subject: str | None
    source: str | None
    pages: str | None
    level: str | None
    stages: dict[int, bool]  # stage day -> done, only for flags present in the file
    long_term: bool | None  # None when the file has no long-term key
    content_hash: str  # sha256 hex of the raw bytes


# --- keys ---------------------------------------------------------------------------------------------------------


def normalise_key(key: str) -> str:
    """Drop leading symbols/emoji/punctuation (anything not a letter or digit), fold whitespace, lowercase ASCII.

    ``❤️1일복습여부`` -> ``1일복습여부``; ``  First   Study`` -> ``first study``. Non-ASCII letters keep their case.
    """
    start = 0
    while start < len(key) and unicodedata.category(key[start])[0] not in "LN":
        start += 1
    return " ".join(key[start:].split()).translate(_ASCII_LOWER)


FIRST_STUDY = "first_study"
LONG_TERM = "long_term"
# Field names are matched on the normalised key with spaces, "_" and "-" removed.
_PLAIN_KEYS: dict[str, str] = {
    **dict.fromkeys(("첫학습날", "firststudy", "firststudied", "firststudiedon", "studied", "studiedon"), FIRST_STUDY),
    **dict.fromkeys(("과목", "subject"), "subject"),
    **dict.fromkeys(("교재", "source", "book"), "source"),
    **dict.fromkeys(("페이지", "pages", "page"), "pages"),
    **dict.fromkeys(("학습정도", "level"), "level"),
}
# Priority 0 is the flag the learner ticks, 1 the template's derived 1/0 copy of it.
_LONG_TERM_KEYS = {"장기기억": 0, "longterm": 0, "장기기억저장여부1,0": 1, "장기기억저장여부": 1}
_STAGE_PRIMARY_RE = re.compile(r"([1-9]\d{0,3})일복습여부|review([1-9]\d{0,3})d")
_STAGE_DERIVED_RE = re.compile(r"([1-9]\d{0,3})일차복습여부(?:1,0)?")
_SEPARATORS_RE = re.compile(r"[\s_\-]+")

Field = str | int  # a field name, or a stage day for a review flag


@lru_cache(maxsize=4096)
def _classify(key: str) -> tuple[Field, int] | None:
    """(field, priority) for a key reminder reads, None for keys it ignores. Cached: every note repeats them."""
    if key.startswith(_DERIVED_PREFIX):
        return None
    compact = _SEPARATORS_RE.sub("", normalise_key(key))
    if compact in _PLAIN_KEYS:
        return _PLAIN_KEYS[compact], 0
    if compact in _LONG_TERM_KEYS:
        return LONG_TERM, _LONG_TERM_KEYS[compact]
    if m := _STAGE_PRIMARY_RE.fullmatch(compact):
        return int(m.group(1) or m.group(2)), 0
    if m := _STAGE_DERIVED_RE.fullmatch(compact):
        return int(m.group(1)), 1
    return None


# --- frontmatter --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Frontmatter:
    start: int  # byte offset of the first frontmatter line
    text: str  # the decoded lines up to the closing "---", each ending with its line break
    newline: str  # the file's own line ending, from the opening line


def _frontmatter(data: bytes) -> _Frontmatter | None:
    """The frontmatter, or None when the file has none (Obsidian shows an unclosed "---" as a rule, not YAML)."""
    opening = _OPEN_RE.match(data, 3 if data.startswith(BOM) else 0)
    if opening is None:
        return None
    closing = _CLOSE_RE.search(data, opening.end())
    if closing is None:
        return None
    start, end = opening.end(), closing.start()
    try:
        text = data[start:end].decode("utf-8")
    except UnicodeDecodeError as exc:
        line = _FIRST_FM_LINE + data.count(b"\n", start, start + exc.start)
        raise NoteFormatError(line, "the frontmatter is not UTF-8 text (save the note as UTF-8)") from None
    return _Frontmatter(start, text, opening.group(1).decode("ascii"))


def _mapping(fm: _Frontmatter) -> MappingNode | None:
    """The frontmatter's YAML as a node tree; None when it holds no keys at all."""
    try:
        root = yaml.compose(fm.text, Loader=_AsWrittenLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = _FIRST_FM_LINE + (mark.line if mark else 0)
        reason = exc.problem or exc.context or "cannot be read"
        raise NoteFormatError(line, f"the frontmatter is not valid YAML: {reason}") from None
    except yaml.reader.ReaderError as exc:
        # libyaml's position counts UTF-8 bytes, the pure-Python reader's characters; the first occurrence of
        # the refused character is where both stopped.
        line = _FIRST_FM_LINE + fm.text.count("\n", 0, max(fm.text.find(chr(exc.character)), 0))
        raise NoteFormatError(line, f"the frontmatter is not valid YAML: {exc.reason}") from None
    except yaml.YAMLError as exc:
        raise NoteFormatError(_FIRST_FM_LINE, f"the frontmatter is not valid YAML: {exc}") from None
    if root is None:
        return None
    if not isinstance(root, MappingNode):
        kind = "a list" if isinstance(root, SequenceNode) else "a single value"
        raise NoteFormatError(
            _FIRST_FM_LINE + root.start_mark.line, f"the frontmatter is {kind}, not a mapping of keys to values"
        )
    return root


def _line(node: Node) -> int:
    return _FIRST_FM_LINE + node.start_mark.line


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


# --- values -------------------------------------------------------------------------------------------------------


def _scalar(key: str, node: Node, line: int) -> str | None:
    """The scalar as written; None for YAML's empty/null. Lists and mappings are errors for these fields."""
    if not isinstance(node, ScalarNode):
        raise NoteFormatError(line, f"{key} should be a single value, not a list or mapping")
    if not node.style and node.value in _NULLS:
        return None
    return node.value.strip()


def _text(key: str, node: Node, line: int) -> str | None:
    return _scalar(key, node, line) or None


def _flag(key: str, node: Node, line: int) -> bool:
    value = _scalar(key, node, line)
    if not value:
        return False
    folded = value.lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise NoteFormatError(line, f"{key} should be true or false (or yes/no, 1/0), not {_shown(value)}")


_ISO_DATE_RE = re.compile(
    r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"
    r"(?:(?:[Tt]|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
# Notion's Korean date mention, as its export writes it: "@2024년 7월 7일", "@2024년 10월 27일 오후 2:01".
_NOTION_DATE_RE = re.compile(
    r"@?\s*(\d{4})\s*년\s*(\d{1,2})\s*월\s*(\d{1,2})\s*일(?:\s*(오전|오후)\s*(\d{1,2}):(\d{2}))?"
)


def _date(key: str, node: Node, line: int) -> date | None:
    value = _scalar(key, node, line)
    if not value:
        return None
    if m := _ISO_DATE_RE.fullmatch(value):
        year, month, day, hour, minute, second = m.groups()
        max_hour = 23
    elif m := _NOTION_DATE_RE.fullmatch(value):
        year, month, day, half, hour, minute = m.groups()
        second, max_hour = None, 12 if half else 23
    else:
        raise NoteFormatError(
            line, f"{key} {_shown(value)} is not a date (write it as 2024-07-07, 2024/07/07 or @2024년 7월 7일)"
        )
    try:
        studied = date(int(year), int(month), int(day))
        if hour is not None:
            if int(hour) > max_hour:
                raise ValueError("hour out of range")
            time(int(hour), int(minute), int(second or 0))
    except ValueError:
        raise NoteFormatError(line, f"{key} {_shown(value)} is not a real date and time") from None
    return studied


# --- reading ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    priority: int
    value: object
    line: int
    key: str


def _read_value(field: Field, key: str, node: Node, line: int) -> object:
    if field == FIRST_STUDY:
        return _date(key, node, line)
    if isinstance(field, int) or field == LONG_TERM:
        return _flag(key, node, line)
    return _text(key, node, line)


def _strip_md(path: str) -> str:
    return path[:-3] if path.lower().endswith(".md") else path


def parse_note(rel_path: str, data: bytes, *, max_bytes: int = 1_000_000) -> ParsedNote | None:
    """The note's schedule fields, or None when it is not a study note (no frontmatter, or no first-study date).

    Raises NoteFormatError for a note the learner must fix: over ``max_bytes``, frontmatter that is not UTF-8,
    not YAML or not a mapping, an unreadable date or flag, or two keys for one field that disagree.
    """
    if len(data) > max_bytes:
        raise NoteFormatError(1, f"the file is {len(data):,} bytes, over the {max_bytes:,}-byte limit for a note")
    fm = _frontmatter(data)
    if fm is None:
        return None
    pairs = read_flat(fm.text, _classify)  # the template's flat frontmatter without libyaml; None for the rest
    if pairs is None:
        root = _mapping(fm)
        if root is None:
            return None
        pairs = root.value
    found: dict[Field, _Found] = {}
    for key_node, value_node in pairs:
        if not isinstance(key_node, ScalarNode):
            continue
        kind = _classify(key_node.value)
        if kind is None:
            continue
        field, priority = kind
        key, line = key_node.value, _line(key_node)
        value = _read_value(field, key, value_node, line)
        if value is None:
            continue
        earlier = found.get(field)
        if earlier is None or priority < earlier.priority:
            found[field] = _Found(priority, value, line, key)
        elif priority == earlier.priority and value != earlier.value:
            raise NoteFormatError(line, f"{key} disagrees with {earlier.key} on line {earlier.line}")
    first = found.get(FIRST_STUDY)
    if first is None:
        return None

    def value(field: Field) -> Any:
        return found[field].value if field in found else None

    return ParsedNote(
        title=_strip_md(rel_path.rsplit("/", 1)[-1]),
        first_studied_on=first.value,  # type: ignore[arg-type]
        subject=value("subject"),
        source=value("source"),
        pages=value("pages"),
        level=value("level"),
        stages={day: found[day].value for day in sorted(f for f in found if isinstance(f, int))},
        long_term=value(LONG_TERM),
        content_hash=hashlib.sha256(data).hexdigest(),
    )


# --- writing ------------------------------------------------------------------------------------------------------


def _flag_spelling(old: str, derived: bool, done: bool) -> str:
    """The new value in the spelling the old one used: 1/0, yes/no or true/false, keeping its capitals."""
    folded = old.lower()
    if folded in ("1", "0") or (derived and folded not in _BOOLS):
        return "1" if done else "0"
    new = ("yes" if done else "no") if folded in ("yes", "no") else ("true" if done else "false")
    if len(old) > 1 and old.isupper():
        return new.upper()
    return new.capitalize() if old[:1].isupper() else new


def _flag_edit(key_node: ScalarNode, node: Node, derived: bool, done: bool) -> tuple[int, int, str]:
    """(start, end, replacement) in the frontmatter text for one flag's value."""
    key, line = key_node.value, _line(key_node)
    if (
        not isinstance(node, ScalarNode)
        or node.style in ("|", ">")
        or node.start_mark.line != key_node.start_mark.line
        or node.end_mark.line != node.start_mark.line
    ):
        raise NoteFormatError(line, f"{key} is not a one-line true/false value, so it cannot be updated in place")
    start, end = node.start_mark.index, node.end_mark.index
    new = _flag_spelling(node.value.strip(), derived, done)
    if start == end:
        # An empty value sits right after the colon; the template writes its 1/0 copies quoted.
        return start, end, f' "{new}"' if derived else f" {new}"
    if node.style in ('"', "'"):
        new = node.style + new + node.style
    return start, end, new


def set_flag(data: bytes, stage: int | None, done: bool) -> bytes:
    """The note with one review flag set (``stage`` None = the long-term flag); every other byte is kept.

    Each key for that flag is rewritten in its own spelling and quoting: the learner's ``N일복습여부`` and the
    template's ``N일차복습여부1,0`` both, so they agree. A missing flag is added as ``N일복습여부: true``
    (``review_Nd`` when the note's flags are English; ``장기기억``/``long_term`` for long-term) on a new line after
    the last stage flag the learner ticks (else the last derived one, else before the closing ``---``).
    """
    if stage is not None and (isinstance(stage, bool) or not isinstance(stage, int) or stage < 1):
        raise ValueError(f"a stage is a positive number of days, not {stage!r}")
    target: Field = LONG_TERM if stage is None else stage
    fm = _frontmatter(data)
    if fm is None:
        raise NoteFormatError(1, "the note has no frontmatter (a first line --- closed by a later --- line)")
    root = _mapping(fm)
    text = fm.text
    edits: list[tuple[int, int, str]] = []
    anchors: dict[int, tuple[int, bool]] = {}  # priority -> (end of the last stage flag's line, English key)
    for key_node, value_node in root.value if root is not None else ():
        if not isinstance(key_node, ScalarNode) or (kind := _classify(key_node.value)) is None:
            continue
        field, priority = kind
        if isinstance(field, int):
            # From the value's last character (a block value ends at the start of the next line), so the new
            # key never lands inside a multi-line value.
            line_end = text.find("\n", value_node.end_mark.index - 1) + 1 or len(text)
            anchors[priority] = (line_end, normalise_key(key_node.value).startswith("review"))
        if field == target:
            edits.append(_flag_edit(key_node, value_node, priority == 1, done))
    if not edits:
        at, english = anchors.get(0) or anchors.get(1) or (len(text), False)
        if stage is None:
            key = "long_term" if english else "장기기억"
        else:
            key = f"review_{stage}d" if english else f"{stage}일복습여부"
        edits.append((at, at, f"{key}: {'true' if done else 'false'}{fm.newline}"))
    out = bytearray(data)
    for start, end, new in sorted(edits, reverse=True):
        byte_start = fm.start + len(text[:start].encode("utf-8"))
        byte_end = byte_start + len(text[start:end].encode("utf-8"))
        out[byte_start:byte_end] = new.encode("utf-8")
    return bytes(out)


# --- links --------------------------------------------------------------------------------------------------------


def obsidian_link(vault_name: str, rel_path: str) -> str:
    """``obsidian://open?vault=<name>&file=<path without .md>``, every reserved character percent-encoded.

    Slashes are encoded too (``%2F``), as Obsidian's own "Copy Obsidian URL" does, and so are parentheses and
    quotes, so the link survives inside Markdown and JSON.
    """
    # Plain string work: the sync makes one link per note, and two PurePosixPath objects per note cost more
    # than the rest of building the link.
    parts = [part for part in rel_path.split("/") if part and part != "."]
    if not vault_name:
        raise ValueError("the vault name is empty")
    if rel_path.startswith("/") or ".." in parts or not parts:
        raise ValueError(f"{rel_path!r} is not a path inside the vault")
    return _link_prefix(vault_name, "/".join(parts[:-1])) + quote(_strip_md(parts[-1]), safe="")


@lru_cache(maxsize=4096)
def _link_prefix(vault_name: str, folder: str) -> str:
    """The link up to the file name: built once per folder (percent-encoding works character by character, so
    the folder's encoding followed by the name's is the whole path's)."""
    folder_part = quote(folder + "/", safe="") if folder else ""
    return f"obsidian://open?vault={quote(vault_name, safe='')}&file={folder_part}"
