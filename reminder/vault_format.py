"""Obsidian study-note frontmatter: read a note's schedule fields, write one review flag back.

Pure functions over bytes: no file system, no clock, no database (the vault sync does the I/O).

What counts as a study note: the file's first line (after an optional UTF-8 BOM) is ``---``, a later line is
``---``, and the YAML between them is a mapping with a review-like key: a first-study date (even empty), a stage
or long-term flag, or the template's first-day placeholder (``🛑첫날: "✏첫날 :"``). A note made from a template has
flags but no date: ``parse_note`` returns it with ``first_studied_on`` None and the vault sync dates it. Only the
frontmatter is decoded and YAML-parsed; the body is hashed and otherwise never read (the status block's few
lines aside, found by a byte search).

Decisions worth knowing:
- Keys are matched on ``normalise_key`` with spaces, ``_`` and ``-`` removed, so ``first studied``,
  ``first_studied``, ``First-Study`` and ``첫 학습날``/``첫학습날`` all name the first-study date.
- A first-study key with an empty value is a note without a date yet (not an error).
- Stage flags, after dropping spaces: ``N일복습여부``, ``review_Nd``, and the keys of Notion-style templates that
  end in 복습: ``N일후 복습``, ``N일차 복습``, ``7일후(주말) 복습`` (a parenthetical note is allowed), ``N주 후 복습``
  (N x 7 days), ``1달후 복습``/``N개월 후 복습`` (N x 30 days). Values: true/false, yes/no (Notion's checkbox
  export writes Yes/No), O/X, ✅/❌, 1/0. ``완료`` (done) is not a stage.
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
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, time
from functools import lru_cache
from typing import Any, ClassVar, NamedTuple
from urllib.parse import quote

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reminder.errors import ReminderError
from reminder.flat_frontmatter import FlatPair, read_flat
from reminder.i18n import N_, Phrase

__all__ = [
    "NoteFormatError",
    "ParsedNote",
    "classify_key",
    "normalise_key",
    "obsidian_link",
    "parse_note",
    "set_first_study",
    "set_flag",
    "set_mirrors",
    "set_status_block",
    "status_section",
    "title_from_path",
]

BOM = b"\xef\xbb\xbf"
# The opening line is line 1 (a BOM does not start a line), so the frontmatter text starts on line 2.
_FIRST_FM_LINE = 2
_OPEN_RE = re.compile(rb"---[ \t]*(\r?\n)")
_CLOSE_RE = re.compile(rb"^---[ \t]*\r?$", re.MULTILINE)
# The learner's template prefixes every formula field with 🛑; none of them is ever input.
_DERIVED_PREFIX = "🛑"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "yes", "1", "o", "✅", "✔", "✔️", "☑", "☑️"})
_FALSE = frozenset({"false", "no", "0", "x", "❌", "✖", "✖️"})
_BOOLS = _TRUE | _FALSE
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

try:
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader


class _AsWrittenLoader(_BaseLoader):
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


NO_FRONTMATTER = Phrase("the note has no frontmatter (a first line --- closed by a later --- line)")


class NoteFormatError(ReminderError, ValueError):
    """A note the learner can fix. ``str()`` is one line: "line N: reason", N 1-based in the file."""

    def __init__(self, line: int, reason: str) -> None:
        # ``reason`` is a reminder.i18n.Phrase where this module or the vault's writes it: shown translated.
        super().__init__(N_("line {line}: {reason}"), line=line, reason=reason)
        self.line = line
        self.reason = reason

    def __reduce__(self) -> tuple[type[NoteFormatError], tuple[int, str]]:
        # The default reduce would call __init__ with the formatted message only; the sync may pickle errors.
        return (type(self), (self.line, self.reason))


@dataclass(frozen=True)
class ParsedNote:
    title: str
    first_studied_on: date | None  # None: a note made from a template, not dated yet
    subject: str | None
    source: str | None
    pages: str | None
    level: str | None
    stages: dict[int, bool]  # stage day -> done, only for flags present in the file
    long_term: bool | None  # None when the file has no long-term key
    content_hash: str  # sha256 hex of the raw bytes
    first_study_key: str | None = None  # the first-study key as written (the vault's style), if any
    # The stages named by flags the learner ticks (not the template's derived 1/0 copies, which stop at day 7).
    ticked_stages: tuple[int, ...] = ()


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
# Notion-style keys that end in 복습: "1일후 복습", "3일차 복습", "7일후(주말) 복습", "2주 후 복습", "1달후 복습",
# "3개월 후 복습" (spaces already dropped). The unit gives the days per N; a month is 30 days.
_STAGE_WORDS_RE = re.compile(r"([1-9]\d{0,2})(일후|일차|일|주후|주|달후|달|개월후|개월)(?:\([^()]*\))?복습")
_UNIT_DAYS = {"일후": 1, "일차": 1, "일": 1, "주후": 7, "주": 7, "달후": 30, "달": 30, "개월후": 30, "개월": 30}
# The template's first-day formula, "🛑첫날: \"✏첫날 :\"": a note made from the template before it has a date.
_PLACEHOLDER = "첫날"
PLACEHOLDER = "placeholder"
_STAGE_DERIVED_RE = re.compile(r"([1-9]\d{0,3})일차복습여부(?:1,0)?")
_SEPARATORS_RE = re.compile(r"[\s_\-]+")

Field = str | int  # a field name, or a stage day for a review flag


@lru_cache(maxsize=4096)
def classify_key(key: str) -> tuple[Field, int] | None:
    """(field, priority) for a key reminder reads, None for keys it ignores. Cached: every note repeats them.

    The template's first-day placeholder is (PLACEHOLDER, 9): review-like, never a value."""
    compact = _SEPARATORS_RE.sub("", normalise_key(key))
    if key.startswith(_DERIVED_PREFIX):
        return (PLACEHOLDER, 9) if compact == _PLACEHOLDER else None
    if compact in _PLAIN_KEYS:
        return _PLAIN_KEYS[compact], 0
    if compact in _LONG_TERM_KEYS:
        return LONG_TERM, _LONG_TERM_KEYS[compact]
    if m := _STAGE_PRIMARY_RE.fullmatch(compact):
        return int(m.group(1) or m.group(2)), 0
    if m := _STAGE_DERIVED_RE.fullmatch(compact):
        return int(m.group(1)), 1
    if m := _STAGE_WORDS_RE.fullmatch(compact):
        return int(m.group(1)) * _UNIT_DAYS[m.group(2)], 0
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
        raise NoteFormatError(line, Phrase("the frontmatter is not UTF-8 text (save the note as UTF-8)")) from None
    return _Frontmatter(start, text, opening.group(1).decode("ascii"))


def _mapping(fm: _Frontmatter) -> MappingNode | None:
    """The frontmatter's YAML as a node tree; None when it holds no keys at all."""
    try:
        root = yaml.compose(fm.text, Loader=_AsWrittenLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = _FIRST_FM_LINE + (mark.line if mark else 0)
        reason = exc.problem or exc.context or "cannot be read"
        raise NoteFormatError(line, Phrase("the frontmatter is not valid YAML: {reason}", reason=reason)) from None
    except yaml.reader.ReaderError as exc:
        # libyaml's position counts UTF-8 bytes, the pure-Python reader's characters; the first occurrence of
        # the refused character is where both stopped.
        line = _FIRST_FM_LINE + fm.text.count("\n", 0, max(fm.text.find(chr(exc.character)), 0))
        raise NoteFormatError(line, Phrase("the frontmatter is not valid YAML: {reason}", reason=exc.reason)) from None
    except yaml.YAMLError as exc:
        raise NoteFormatError(
            _FIRST_FM_LINE, Phrase("the frontmatter is not valid YAML: {reason}", reason=str(exc))
        ) from None
    if root is None:
        return None
    if not isinstance(root, MappingNode):
        if isinstance(root, SequenceNode):
            why = Phrase("the frontmatter is a list, not a mapping of keys to values")
        else:
            why = Phrase("the frontmatter is a single value, not a mapping of keys to values")
        raise NoteFormatError(_FIRST_FM_LINE + root.start_mark.line, why)
    return root


def _line(node: Node) -> int:
    return _FIRST_FM_LINE + node.start_mark.line


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


# --- values -------------------------------------------------------------------------------------------------------


# A value is read from its text and style ('"', "'", "|", ">" or "" for plain) as either reader gives them
# (libyaml's scalar node, or the flat reader's pair: the same text), the text None for a list or mapping. Only
# _scalar reads them, so both readers' values mean the same.


def _scalar(key: str, value: str | None, style: str, line: int) -> str | None:
    """The scalar as written; None for YAML's empty/null. Lists and mappings are errors for these fields."""
    if value is None:
        raise NoteFormatError(line, Phrase("{key} should be a single value, not a list or mapping", key=key))
    if not style and value in _NULLS:
        return None
    return value.strip()


def _text(key: str, value: str | None, style: str, line: int) -> str | None:
    # Interned: a sync holds every new note's fields to the end, and a vault's notes share a few subjects,
    # sources and levels (one copy each, not one per note: 5 strings a note were 40 MB of a 100k-note sync).
    text = _scalar(key, value, style, line)
    return sys.intern(text) if text else None


def _flag(key: str, value: str | None, style: str, line: int) -> bool:
    value = _scalar(key, value, style, line)
    if not value:
        return False
    folded = value.lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise NoteFormatError(
        line,
        Phrase("{key} should be true or false (or yes/no, O/X, ✅, 1/0), not {value}", key=key, value=_shown(value)),
    )


_ISO_DATE_RE = re.compile(
    r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"
    r"(?:(?:[Tt]|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
# Notion's Korean date mention, as its export writes it: "@2024년 7월 7일", "@2024년 10월 27일 오후 2:01".
_NOTION_DATE_RE = re.compile(
    r"@?\s*(\d{4})\s*년\s*(\d{1,2})\s*월\s*(\d{1,2})\s*일(?:\s*(오전|오후)\s*(\d{1,2}):(\d{2}))?"
)


def _date(key: str, value: str | None, style: str, line: int) -> date | None:
    value = _scalar(key, value, style, line)
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
            line,
            Phrase(
                "{key} {value} is not a date (write it as 2024-07-07, 2024/07/07 or @2024년 7월 7일)",
                key=key,
                value=_shown(value),
            ),
        )
    try:
        studied = date(int(year), int(month), int(day))
        if hour is not None:
            if int(hour) > max_hour:
                raise ValueError("hour out of range")
            time(int(hour), int(minute), int(second or 0))
    except ValueError:
        raise NoteFormatError(
            line, Phrase("{key} {value} is not a real date and time", key=key, value=_shown(value))
        ) from None
    return studied


# --- reading ------------------------------------------------------------------------------------------------------


class _Found(NamedTuple):
    priority: int
    value: object
    line: int
    key: str


def _read_value(field: Field, key: str, value: str | None, style: str, line: int) -> object:
    if field == PLACEHOLDER:
        return None
    if field == FIRST_STUDY:
        return _date(key, value, style, line)
    if isinstance(field, int) or field == LONG_TERM:
        return _flag(key, value, style, line)
    return _text(key, value, style, line)


def _yaml_pairs(root: MappingNode) -> Iterator[FlatPair]:
    """Each pair with a scalar key as libyaml composed it, in the flat reader's shape (a list or mapping value
    has the text None)."""
    for key_node, node in root.value:
        if isinstance(key_node, ScalarNode):
            value, style = (node.value, node.style or "") if isinstance(node, ScalarNode) else (None, "")
            yield FlatPair(key_node.value, key_node.style or "", value, style, key_node.start_mark.line)


def _strip_md(path: str) -> str:
    return path[:-3] if path.lower().endswith(".md") else path


def title_from_path(rel_path: str) -> str:
    """A vault note's title: its file name without ``.md`` (any case), runs of spaces as one, as Obsidian shows
    it. The one rule for the template's notes and the Spaced Repetition plugin's alike."""
    return " ".join(_strip_md(rel_path.rsplit("/", 1)[-1]).split())


def parse_note(rel_path: str, data: bytes, *, max_bytes: int = 1_000_000) -> ParsedNote | None:
    """The note's schedule fields, or None when it is not a study note (no frontmatter, or no review-like key).
    A study note without a date (made from a template) has ``first_studied_on`` None.

    Raises NoteFormatError for a note the learner must fix: over ``max_bytes``, frontmatter that is not UTF-8,
    not YAML or not a mapping, an unreadable date or flag, or two keys for one field that disagree.
    """
    if len(data) > max_bytes:
        raise NoteFormatError(
            1,
            Phrase(
                "the file is {size:,} bytes, over the {limit:,}-byte limit for a note", size=len(data), limit=max_bytes
            ),
        )
    fm = _frontmatter(data)
    if fm is None:
        return None
    pairs: Iterable[FlatPair] | None = read_flat(fm.text, classify_key)  # the template's flat frontmatter, fast
    if pairs is None:  # anything else: libyaml
        root = _mapping(fm)
        if root is None:
            return None
        pairs = _yaml_pairs(root)
    found: dict[Field, _Found] = {}
    review_like = False
    first_key: str | None = None
    for key, _key_style, value_text, style, mark_line in pairs:
        kind = classify_key(key)
        if kind is None:
            continue
        field, priority = kind
        if field in (FIRST_STUDY, PLACEHOLDER) or isinstance(field, int) or field == LONG_TERM:
            review_like = True
        line = _FIRST_FM_LINE + mark_line
        if field == FIRST_STUDY and first_key is None:
            first_key = key
        value = _read_value(field, key, value_text, style, line)
        if value is None:
            continue
        earlier = found.get(field)
        if earlier is None or priority < earlier.priority:
            found[field] = _Found(priority, value, line, key)
        elif priority == earlier.priority and value != earlier.value:
            raise NoteFormatError(
                line,
                Phrase(
                    "{key} disagrees with {other} on line {other_line}",
                    key=key,
                    other=earlier.key,
                    other_line=earlier.line,
                ),
            )
    first = found.get(FIRST_STUDY)
    if not review_like:
        return None

    def found_value(field: Field) -> Any:
        return found[field].value if field in found else None

    return ParsedNote(
        title=title_from_path(rel_path),
        first_studied_on=first.value if first and isinstance(first.value, date) else None,
        subject=found_value("subject"),
        source=found_value("source"),
        pages=found_value("pages"),
        level=found_value("level"),
        stages={day: found[day].value is True for day in sorted(f for f in found if isinstance(f, int))},
        long_term=found_value(LONG_TERM),
        content_hash=hashlib.sha256(data).hexdigest(),
        first_study_key=sys.intern(first.key) if first else first_key and sys.intern(first_key),
        ticked_stages=tuple(sorted(f for f, v in found.items() if isinstance(f, int) and v.priority == 0)),
    )


# --- writing ------------------------------------------------------------------------------------------------------


def _flag_spelling(old: str, derived: bool, done: bool) -> str:
    """The new value in the spelling the old one used: 1/0, yes/no or true/false, keeping its capitals."""
    folded = old.lower()
    if folded in ("1", "0") or (derived and folded not in _BOOLS):
        return "1" if done else "0"
    if folded in ("o", "x"):
        new = "O" if done else "X"
        return new if old.isupper() else new.lower()
    if old and not old.isascii():  # ✅ / ❌ and their kin
        return "✅" if done else "❌"
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
        raise NoteFormatError(
            line, Phrase("{key} is not a one-line true/false value, so it cannot be updated in place", key=key)
        )
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
        raise NoteFormatError(1, NO_FRONTMATTER)
    root = _mapping(fm)
    text = fm.text
    edits: list[tuple[int, int, str]] = []
    anchors: dict[int, tuple[int, bool]] = {}  # priority -> (end of the last stage flag's line, English key)
    for key_node, value_node in root.value if root is not None else ():
        if not isinstance(key_node, ScalarNode) or (kind := classify_key(key_node.value)) is None:
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
    return _apply(data, fm, edits)


def _plain_ok(value: str) -> bool:
    """Whether ``value`` can be written as a plain YAML scalar and read back as the same text."""
    return bool(value) and not (
        value[0] in "[]{}&*!|>'\"%@`#,?:-" or ": " in value or " #" in value or value != value.strip()
    )


def _scalar_edit(node: Node, new: str) -> tuple[int, int, str] | None:
    """(start, end, replacement) for a one-line scalar's value, in its own quoting; None when it is not one."""
    if not isinstance(node, ScalarNode) or node.style in ("|", ">") or node.end_mark.line != node.start_mark.line:
        return None
    start, end = node.start_mark.index, node.end_mark.index
    if node.style in ('"', "'"):
        return start, end, node.style + new + node.style
    if start == end:
        return start, end, " " + (new if _plain_ok(new) else f'"{new}"')
    return start, end, new if _plain_ok(new) else f'"{new}"'


def _apply(data: bytes, fm: _Frontmatter, edits: list[tuple[int, int, str]]) -> bytes:
    out = bytearray(data)
    text = fm.text
    for start, end, new in sorted(edits, reverse=True):
        byte_start = fm.start + len(text[:start].encode("utf-8"))
        byte_end = byte_start + len(text[start:end].encode("utf-8"))
        out[byte_start:byte_end] = new.encode("utf-8")
    return bytes(out)


def set_first_study(data: bytes, key: str, day: date) -> bytes:
    """The note with its first-study date written, every other byte kept: into an empty first-study key if the
    note has one, else as a new line ``key: YYYY-MM-DD`` opening the frontmatter (where Notion's export puts it)."""
    fm = _frontmatter(data)
    if fm is None:
        raise NoteFormatError(1, NO_FRONTMATTER)
    root = _mapping(fm)
    value = day.isoformat()
    for key_node, value_node in root.value if root is not None else ():
        if isinstance(key_node, ScalarNode) and classify_key(key_node.value) == (FIRST_STUDY, 0):
            edit = _scalar_edit(value_node, value)
            if edit is None or (isinstance(value_node, ScalarNode) and value_node.value.strip()):
                raise NoteFormatError(
                    _line(key_node), Phrase("{key} cannot take the first-study date", key=key_node.value)
                )
            return _apply(data, fm, [edit])
    shown = key if _plain_ok(key) else '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return _apply(data, fm, [(0, 0, f"{shown}: {value}{fm.newline}")])


# The template's derived copies of the progress, which Obsidian does not recompute (Notion did).
MIRRORS = ("학습률", "진행바")


def set_mirrors(data: bytes, values: dict[str, str]) -> bytes:
    """The note with the template's mirror fields (``학습률``, ``진행바``: keys of ``values``) set to these values,
    in their own quoting. Only keys the note has are changed; none is added; every other byte is kept."""
    fm = _frontmatter(data)
    if fm is None:
        return data
    root = _mapping(fm)
    edits = []
    for key_node, value_node in root.value if root is not None else ():
        if not isinstance(key_node, ScalarNode) or key_node.value.startswith(_DERIVED_PREFIX):
            continue
        name = _SEPARATORS_RE.sub("", normalise_key(key_node.value))
        if name in values and isinstance(value_node, ScalarNode) and value_node.value.strip() != values[name]:
            edit = _scalar_edit(value_node, values[name])
            if edit is not None:
                edits.append(edit)
    return _apply(data, fm, edits) if edits else data


# --- the status block ---------------------------------------------------------------------------------------------

STATUS_OPEN = "<!-- reminder:status -->"
STATUS_CLOSE = "<!-- /reminder:status -->"
_STATUS_HEADING_RE = re.compile(
    rb"^#{1,6}[ \t]+(" + "복습 ?알림".encode() + rb"|[Rr]eview [Rr]eminders)[ \t]*(\r?\n|$)", re.M
)
_STATUS_BLOCK_RE = re.compile(
    rb"^"
    + re.escape(STATUS_OPEN.encode())
    + rb"[ \t]*\r?\n(.*?)^"
    + re.escape(STATUS_CLOSE.encode())
    + rb"[ \t]*(\r?\n|$)",
    re.M | re.S,
)


def _search_lines(pattern: re.Pattern[bytes], first: bytes, data: bytes, pos: int) -> re.Match[bytes] | None:
    """``pattern.search(data, pos)`` for a pattern anchored at a line start (``^``, re.M) whose matches begin with
    ``first``. The regex engine would try the anchor at every byte of a note's body (most of a write-back's time
    for a large vault); bytes.find jumps to each line that starts with ``first``, and match() there is what
    search() would find there, so the first one that matches is search()'s answer."""
    if data.startswith(first, pos) and (found := pattern.match(data, pos)) is not None:
        return found
    lead = b"\n" + first
    at = data.find(lead, pos)
    while at != -1:
        if (found := pattern.match(data, at + 1)) is not None:
            return found
        at = data.find(lead, at + 1)
    return None


@dataclass(frozen=True)
class StatusSection:
    """Where a note's 복습알림 (Review reminders) section is, and its status block if it has one."""

    language: str  # "ko" for 복습알림, "en" for Review reminders
    heading_end: int  # byte offset just after the heading line
    block: tuple[int, int] | None  # the block's span, markers included, when the note has one
    newline: bytes


def status_section(data: bytes) -> StatusSection | None:
    """The note's review-reminders heading, or None when it has none (it then gets no block)."""
    fm = _frontmatter(data)
    body = 0
    if fm is not None:
        closing = _CLOSE_RE.search(data, fm.start + len(fm.text.encode("utf-8")))
        body = closing.end() if closing else 0
    heading = _search_lines(_STATUS_HEADING_RE, b"#", data, body)
    if heading is None:
        return None
    language = "en" if heading.group(1)[:1] in b"Rr" else "ko"
    block = _search_lines(_STATUS_BLOCK_RE, STATUS_OPEN.encode(), data, body)
    newline = heading.group(2) or (b"\r\n" if b"\r\n" in data else b"\n")
    return StatusSection(language, heading.end(), (block.start(), block.end()) if block else None, newline)


def set_status_block(data: bytes, lines: list[str]) -> bytes:
    """The note with its status block holding ``lines``: rewritten between its markers, or added right under the
    review-reminders heading. Nothing outside the markers changes. The note must have the heading."""
    section = status_section(data)
    if section is None:
        raise ValueError("the note has no review-reminders heading")
    nl = section.newline
    block = nl.join([STATUS_OPEN.encode(), *(line.encode("utf-8") for line in lines), STATUS_CLOSE.encode()]) + nl
    if section.block is not None:
        start, end = section.block
        old = data[start:end]
        if not old.endswith((b"\n",)):
            block = block[: -len(nl)]  # the old block ended the file without a line break: keep it so
        return data[:start] + block + data[end:]
    at = section.heading_end
    head = data[:at]
    if not head.endswith(b"\n"):
        head += nl  # the heading is the file's last line, without a line break
    return head + block + data[at:]


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
