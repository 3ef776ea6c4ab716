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
import textwrap
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

CUE_HEADINGS = ("단서 질문", "단서질문", "질문", "questions", "cue questions", "cues")
SUMMARY_HEADINGS = ("핵심 요약", "핵심요약", "요약", "summary")
STATUS_BEGIN = "<!-- reminder:status -->"
STATUS_END = "<!-- /reminder:status -->"

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t#]*$")
_TOP_ITEM = re.compile(r"^(?:[-*+]|\d+[.)])(?:[ \t]+(.*))?$")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])(?:\s+\[[ xX]\])?\s*")
_JAMO = re.compile(r"^[\u1100-\u11ff\u3130-\u318f\s]+$")
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
    return unicodedata.normalize("NFC", _LIST_MARKER.sub("", line, count=1).strip())


def template_lines(texts: Iterable[str]) -> frozenset[str]:
    """Every non-empty line of the vault's template notes, normalised."""
    lines: set[str] = set()
    for text in texts:
        for line in _body(text).splitlines():
            norm = normalise_line(line)
            if norm:
                lines.add(norm)
    return frozenset(lines)


def is_filler(text: str) -> bool:
    """Empty, only jamo (ㅇㅇ), or fewer than two letters (digits count as letters: "1." does not)."""
    text = text.strip()
    if not text or _JAMO.match(text):
        return True
    letters = sum(1 for ch in text if ch.isalnum())
    return letters < 2


def parse(text: str, placeholders: frozenset[str] = frozenset()) -> Cornell:
    """The cue questions (with answers) and the summary of a note's Markdown text."""
    lines = _body(text).splitlines()
    cue_lines = _section(lines, CUE_HEADINGS)
    summary_lines = _section(lines, SUMMARY_HEADINGS)
    questions = tuple(
        Cue(title, answer)
        for title, answer in _items(cue_lines or [], placeholders)
        if not _is_placeholder(title, placeholders)
    )
    return Cornell(questions, _summary(summary_lines or [], placeholders))


def _body(text: str) -> str:
    """The text without a BOM, frontmatter and the service's status block; newlines as \\n."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            nl = text.find("\n", end + 4)
            text = text[nl + 1 :] if nl != -1 else ""
    out: list[str] = []
    inside = False
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped == STATUS_BEGIN:
            inside = True
        elif stripped == STATUS_END and inside:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def _heading_name(title: str) -> str:
    # "**단서 질문**", "단서 질문:" and "Cue Questions" all name the section.
    return unicodedata.normalize("NFC", re.sub(r"[*_:`]", "", title)).strip().casefold()


def _section(lines: list[str], names: tuple[str, ...]) -> list[str] | None:
    """The lines under the first heading named one of ``names``, to the next heading of its level or higher
    (headings inside fenced code blocks are code)."""
    fence: str | None = None
    start: int | None = None
    level = 0
    for index, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith(("```", "~~~")):
            marker = stripped[:3]
            fence = None if fence == marker else (marker if fence is None else fence)
            continue
        if fence is not None:
            continue
        match = _HEADING.match(line)
        if not match:
            continue
        depth = len(match.group(1))
        if start is not None and depth <= level:
            return lines[start:index]
        if start is None and _heading_name(match.group(2)) in names:
            start, level = index + 1, depth
    return lines[start:] if start is not None else None


def _items(lines: list[str], placeholders: frozenset[str]) -> list[tuple[str, str]]:
    """Top-level list items: (title, nested Markdown dedented). Text before the first item is ignored."""
    items: list[tuple[str, list[str]]] = []
    for line in lines:
        match = _TOP_ITEM.match(line) if line[:1] not in (" ", "\t") else None
        if match:
            items.append(((match.group(1) or "").strip(), []))
        elif items:
            items[-1][1].append(line)
    return [(title, _answer(nested, placeholders)) for title, nested in items]


def _answer(nested: list[str], placeholders: frozenset[str]) -> str:
    text = textwrap.dedent("\n".join(line.expandtabs(4) for line in nested)).strip("\n")
    lines = [line.rstrip() for line in text.splitlines()]
    meaningful = [line for line in lines if line.strip()]
    if not meaningful or all(_is_placeholder(normalise_line(line), placeholders) for line in meaningful):
        return ""
    return "\n".join(lines).strip("\n")


def _is_placeholder(title: str, placeholders: frozenset[str]) -> bool:
    norm = normalise_line(title)
    return is_filler(norm) or norm in placeholders


def _summary(lines: list[str], placeholders: frozenset[str]) -> str:
    """The summary section's Markdown without placeholder items (an item that is a placeholder or an empty
    Notion toggle title goes; what is nested under a placeholder title stays)."""
    items = _items(lines, placeholders)
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
