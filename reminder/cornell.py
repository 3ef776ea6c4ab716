"""Cue questions and summary of a Cornell note: pure text in, questions out (no I/O).

A Cornell note (the learner's template, and the usual English layout) has a cue section, ``### 단서 질문``, whose
top-level list items are questions and whose nested lines are each question's answer; then notes; then a summary
section, ``### 핵심 요약``. Any heading level names a section, which runs to the next heading of the same or a
higher level.

Not questions (template placeholders and filler):
- a line that also stands in one of the vault's template notes (``- 질문1``, ``학습내용을 몇문장으로 압축하여
  정리한다.``, Notion's toggle title ``핵심 요약 접기``), compared without list markers and surrounding space;
- an empty item, and filler: only jamo (``ㅇㅇ``, ``ㅋㅋㅋ``) or fewer than two letters;
- anything inside the service's own ``<!-- reminder:status -->`` block.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

CUE_HEADINGS = ("단서 질문", "단서질문", "질문", "questions", "cue questions", "cues")
SUMMARY_HEADINGS = ("핵심 요약", "핵심요약", "요약", "summary")
STATUS_BEGIN = "<!-- reminder:status -->"
STATUS_END = "<!-- /reminder:status -->"

# A fence line or an ATX heading, at the start of a line (of the note's UTF-8 bytes: see parse_bytes).
_MARKS = re.compile(rb"(?:(```|~~~).*|(#{1,6})[ \t]+(.*?)[ \t#]*)$")
_LINE_MARK = re.compile(rb"\n[#`~]")  # one byte class after the newline: the fastest scan of a long body
_BOM = "\ufeff".encode()
_STATUS_MARKS = (STATUS_BEGIN.encode(), STATUS_END.encode())
_MARK_OPENING = b"<!-- "  # what both status markers start with
_TOP_ITEM = re.compile(r"^(?:[-*+]|\d+[.)])(?:[ \t]+(.*))?$")
# A top-level item line, matched from the newline before it (multi-line mode: "$" is the line's end).
_ITEM_LINE = re.compile(r"\n(?:[-*+]|\d+[.)])(?:[ \t]+(.*))?$", re.M)
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])(?:\s+\[[ xX]\])?\s*")
_JAMO = re.compile(r"^[\u1100-\u11ff\u3130-\u318f\s]+$")
_TWO_LETTERS = re.compile(r"[^\W_].*?[^\W_]", re.S)
# Notion exports a toggle heading as a list item "<title> 접기" ("fold"): with nothing under it, it is chrome.
_TOGGLE_TITLE = re.compile(r"접기\s*$")


@dataclass(frozen=True)
class Cue:
    question: str  # Markdown, one line
    answer: str  # Markdown, dedented; "" when the note gives none

    def as_json(self) -> dict[str, str]:
        return {"q": self.question, "a": self.answer}


@dataclass(frozen=True)
class Cornell:
    questions: tuple[Cue, ...]
    summary: str  # Markdown; "" when the note has none


def normalise_line(line: str) -> str:
    """A line as compared with the template's: no list marker, no surrounding space, NFC."""
    text = line.strip()
    # Only a line whose text starts with a marker's first character can lose one ("" is in every string).
    if text[:1] in "-*+" or text[0].isdecimal():
        text = _LIST_MARKER.sub("", line, count=1).strip()
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def template_lines(texts: Iterable[str]) -> frozenset[str]:
    """Every non-empty line of the vault's template notes, normalised."""
    lines: set[str] = set()
    for text in texts:
        for line in _body(text.encode("utf-8", "surrogatepass")).decode("utf-8", "surrogatepass").splitlines():
            norm = normalise_line(line)
            if norm:
                lines.add(norm)
    return frozenset(lines)


def is_filler(text: str) -> bool:
    """Empty, only jamo (ㅇㅇ), or fewer than two letters (digits count as letters: "1." does not)."""
    text = text.strip()
    return not text or bool(_JAMO.match(text)) or _TWO_LETTERS.search(text) is None


def parse(text: str, placeholders: frozenset[str] = frozenset()) -> Cornell:
    """The cue questions (with answers) and the summary of a note's Markdown text."""
    return _parse(text.encode("utf-8", "surrogatepass"), placeholders, "surrogatepass")


def parse_bytes(data: bytes, placeholders: frozenset[str] = frozenset()) -> Cornell:
    """``parse`` of a note file's bytes, read as UTF-8 (an invalid byte reads as U+FFFD).

    What is what in a note is told by ASCII alone (line breaks, ``#``, fences, the status markers), so the
    sections are found in the bytes and only the two the parse reads are decoded: in the learner's notes they
    are a tenth of the text, and decoding all of it cost more than the rest of the section finding. Decoding a
    slice that starts and ends at a line break gives what slicing the decoded text there would (no UTF-8
    sequence spans a newline)."""
    return _parse(data, placeholders, "replace")


def _parse(data: bytes, placeholders: frozenset[str], errors: str) -> Cornell:
    body = _body(data)
    headings = _headings(body, errors)
    cue_section = _section(body, headings, CUE_HEADINGS, errors)
    summary_section = _section(body, headings, SUMMARY_HEADINGS, errors)
    questions = tuple(
        Cue(title, answer)
        for title, answer in _items(cue_section or "", placeholders)
        if not _is_placeholder(title, placeholders)
    )
    return Cornell(questions, _summary(summary_section or "", placeholders))


def _body(text: bytes) -> bytes:
    """The text (UTF-8) without a BOM, frontmatter and the service's status block; newlines as \\n."""
    while text.startswith(_BOM):
        text = text[len(_BOM) :]
    if b"\r" in text:
        text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if text.startswith(b"---\n"):
        end = text.find(b"\n---", 4)
        if end != -1:
            nl = text.find(b"\n", end + 4)
            text = text[nl + 1 :] if nl != -1 else b""
    if _STATUS_MARKS[0] not in text:
        return text
    return _without_status(text)


def _without_status(text: bytes) -> bytes:
    """The text without the lines of the service's status blocks, its markers included (an unclosed block runs
    to the end). Only the lines holding a marker's opening bytes are looked at, found by bytes.find: every note
    with write-back has a block, and a Python step per line cost more than the rest of the parse."""
    runs: list[bytes] = []  # the kept lines, a run between two blocks at a time
    kept_from = 0  # where the run of kept lines now being read starts
    inside = False
    at = text.find(_MARK_OPENING)
    while at != -1:
        start = text.rfind(b"\n", 0, at) + 1
        end = text.find(b"\n", at)
        end = len(text) if end == -1 else end
        # A marker line may be padded with any white space str.strip() takes (no-break or ideographic spaces
        # too): only such a line is decoded to tell.
        stripped = text[start:end].decode("utf-8", "replace").strip()
        if stripped == STATUS_BEGIN and not inside:
            if start > kept_from:  # at least one line before the block (maybe an empty one)
                runs.append(text[kept_from : start - 1])
            inside = True
        elif stripped == STATUS_END and inside:
            inside = False
            kept_from = end + 1
        at = text.find(_MARK_OPENING, end)
    if not inside and kept_from <= len(text):
        runs.append(text[kept_from:])
    return b"\n".join(runs)


def _heading_name(title: str) -> str:
    # "**단서 질문**", "단서 질문:" and "Cue Questions" all name the section.
    return unicodedata.normalize("NFC", re.sub(r"[*_:`]", "", title)).strip().casefold()


def _headings(text: bytes, errors: str = "replace") -> list[tuple[int, int, int, str]]:
    """(start, end, level, name) of every heading line, in order; headings inside fenced code blocks are code.

    Only lines that start with ``#``, ``` or ``~~~`` matter (a line indented in a list is an item's content, where
    a heading cannot start), and they are found in one scan: a sync parses every changed note, and a Python step
    per line would cost more than reading the file.
    """
    starts = [0] if text[:1] in (b"#", b"`", b"~") else []
    starts += [m.start() + 1 for m in _LINE_MARK.finditer(text)]
    found: list[tuple[int, int, int, str]] = []
    fence: bytes | None = None
    for start in starts:
        end = text.find(b"\n", start)
        end = len(text) if end == -1 else end
        match = _MARKS.match(text, start, end)
        if match is None:
            continue
        marker = match.group(1)
        if marker:
            fence = None if fence == marker else (marker if fence is None else fence)
        elif fence is None:
            found.append((start, end, len(match.group(2)), _heading_name(match.group(3).decode("utf-8", errors))))
    return found


def _section(
    text: bytes, headings: list[tuple[int, int, int, str]], names: tuple[str, ...], errors: str = "replace"
) -> str | None:
    """The text under the first heading named one of ``names`` (from the line after it), to the next heading of
    its level or higher, decoded."""
    for position, (_start, end, level, name) in enumerate(headings):
        if name in names:
            stop = next((s for s, _e, depth, _n in headings[position + 1 :] if depth <= level), len(text))
            return text[end + 1 : stop].decode("utf-8", errors) if end < stop else None
    return None


def _items(section: str, placeholders: frozenset[str]) -> list[tuple[str, str]]:
    """Top-level list items: (title, nested Markdown dedented). Text before the first item is ignored.

    The item lines are found by one regex scan that starts with a newline (the regex engine skips from newline
    to newline), and each item's nested lines are the text between two item lines, taken as one
    slice: a Python step per line, as a note's answers have, cost more than the rest of the parse."""
    text = "\n" + section
    found = list(_ITEM_LINE.finditer(text))
    items: list[tuple[str, str]] = []
    for index, match in enumerate(found):
        stop = found[index + 1].start() if index + 1 < len(found) else len(text)
        items.append(((match.group(1) or "").strip(), _answer(text[match.end() + 1 : stop], placeholders)))
    return items


def _answer(nested: str, placeholders: frozenset[str]) -> str:
    if "\t" in nested:
        nested = nested.expandtabs(4)  # as line by line: expandtabs restarts its columns at each newline
    lines = [line.rstrip() for line in nested.split("\n")]
    text = "\n".join(lines).strip("\n")
    if not text:
        return ""
    # Dedent by the common indent of the lines with text (what textwrap.dedent does, for spaces). The first line
    # has text; when every line with text starts with its indent, that is the common one, told by one count.
    first = text.partition("\n")[0]
    pad = first[: len(first) - len(first.lstrip(" "))]
    with_text = len(lines) - lines.count("")
    if pad and ("\n" + text).count("\n" + pad) != with_text:
        pad = " " * min(len(line) - len(line.lstrip(" ")) for line in lines if line)
    # A line long enough is text, not filler; only then may the template's lines be what the answer is made of.
    if (
        (placeholders or max(map(len, lines)) < 16)
        and _is_placeholder(first, placeholders)
        and all(_is_placeholder(line, placeholders) for line in lines if line)
    ):
        return ""
    return ("\n" + text).replace("\n" + pad, "\n")[1:] if pad else text


def _is_placeholder(title: str, placeholders: frozenset[str]) -> bool:
    norm = normalise_line(title)
    # is_filler, without stripping again.
    return not norm or norm in placeholders or bool(_JAMO.match(norm)) or _TWO_LETTERS.search(norm) is None


def _summary(section: str, placeholders: frozenset[str]) -> str:
    """The summary section's Markdown without placeholder items (an item that is a placeholder or an empty
    Notion toggle title goes; what is nested under a placeholder title stays) and without the template's own
    lines (its instruction "학습내용을 몇문장으로 압축하여 정리한다." next to what the learner wrote)."""
    lines = section.split("\n")
    if placeholders:
        lines = [line for line in lines if normalise_line(line) not in placeholders or _TOP_ITEM.match(line)]
        section = "\n".join(lines)
    items = _items(section, placeholders)
    if not items:
        text = "\n".join(line.rstrip() for line in lines).strip("\n")
        kept = [ln for ln in text.splitlines() if ln.strip() and not _is_placeholder(ln, placeholders)]
        return text if kept else ""
    parts: list[str] = []
    for title, answer in items:
        chrome = _is_placeholder(title, placeholders) or bool(_TOGGLE_TITLE.search(title))
        if chrome:
            if answer:
                parts.append(answer)
            continue
        parts.append(f"**{title}**\n\n{answer}" if answer else title)
    return "\n\n".join(parts)
