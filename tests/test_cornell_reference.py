"""The cue parser gives exactly what its previous, line-by-line implementation gave: on every note of the test
vaults and on thousands of generated bodies mixing the layouts, markers, indents, white space and placeholders
that the parser tells apart.

The reference is that implementation as it was before the parser took each answer as one slice of text, with the
section finding as it was before it moved to the note's bytes (ref_body, ref_headings); it stays here, unchanged,
so that a faster parser cannot drift from what the learner's stored questions were."""

from __future__ import annotations

import random
import re
import unicodedata
from pathlib import Path

import pytest

from reminder import cornell

DATA = Path(__file__).resolve().parent / "data"

TOP_ITEM = re.compile(r"^(?:[-*+]|\d+[.)])(?:[ \t]+(.*))?$")
LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])(?:\s+\[[ xX]\])?\s*")
JAMO = re.compile(r"^[\u1100-\u11ff\u3130-\u318f\s]+$")
TWO_LETTERS = re.compile(r"[^\W_].*?[^\W_]", re.S)
TOGGLE_TITLE = re.compile(r"접기\s*$")
MARKS = re.compile(r"(?:(```|~~~).*|(#{1,6})[ \t]+(.*?)[ \t#]*)$")
LINE_MARK = re.compile(r"\n(?=#|```|~~~)")


def ref_normalise_line(line: str) -> str:
    return unicodedata.normalize("NFC", LIST_MARKER.sub("", line, count=1).strip())


def ref_is_filler(text: str) -> bool:
    text = text.strip()
    return not text or bool(JAMO.match(text)) or TWO_LETTERS.search(text) is None


def ref_body(text: str) -> str:
    """The text without a BOM, frontmatter and the service's status block; newlines as \\n."""
    text = text.lstrip("\ufeff")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            nl = text.find("\n", end + 4)
            text = text[nl + 1 :] if nl != -1 else ""
    if cornell.STATUS_BEGIN not in text:
        return text
    out: list[str] = []
    inside = False
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped == cornell.STATUS_BEGIN:
            inside = True
        elif stripped == cornell.STATUS_END and inside:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def ref_heading_name(title: str) -> str:
    return unicodedata.normalize("NFC", re.sub(r"[*_:`]", "", title)).strip().casefold()


def ref_headings(text: str) -> list[tuple[int, int, int, str]]:
    """(start, end, level, name) of every heading line, in order; headings inside fenced code blocks are code."""
    starts = [0] if text[:1] in ("#", "`", "~") else []
    starts += [m.end() for m in LINE_MARK.finditer(text)]
    found: list[tuple[int, int, int, str]] = []
    fence: str | None = None
    for start in starts:
        end = text.find("\n", start)
        end = len(text) if end == -1 else end
        match = MARKS.match(text, start, end)
        if match is None:
            continue
        marker = match.group(1)
        if marker:
            fence = None if fence == marker else (marker if fence is None else fence)
        elif fence is None:
            found.append((start, end, len(match.group(2)), ref_heading_name(match.group(3))))
    return found


def ref_parse(text: str, placeholders: frozenset[str] = frozenset()) -> cornell.Cornell:
    body = ref_body(text)
    headings = ref_headings(body)
    cue_lines = ref_section(body, headings, cornell.CUE_HEADINGS)
    summary_lines = ref_section(body, headings, cornell.SUMMARY_HEADINGS)
    questions = tuple(
        cornell.Cue(title, answer)
        for title, answer in ref_items(cue_lines or [], placeholders)
        if not ref_is_placeholder(title, placeholders)
    )
    return cornell.Cornell(questions, ref_summary(summary_lines or [], placeholders))


def ref_section(text: str, headings: list[tuple[int, int, int, str]], names: tuple[str, ...]) -> list[str] | None:
    """The lines under the first heading named one of ``names``, to the next heading of its level or higher."""
    for position, (_start, end, level, name) in enumerate(headings):
        if name in names:
            stop = next((s for s, _e, depth, _n in headings[position + 1 :] if depth <= level), len(text))
            return text[end:stop].split("\n")[1:]
    return None


def ref_items(lines: list[str], placeholders: frozenset[str]) -> list[tuple[str, str]]:
    """Top-level list items: (title, nested Markdown dedented). Text before the first item is ignored."""
    items: list[tuple[str, list[str]]] = []
    for line in lines:
        match = TOP_ITEM.match(line) if line[:1] not in (" ", "\t") else None
        if match:
            items.append(((match.group(1) or "").strip(), []))
        elif items:
            items[-1][1].append(line)
    return [(title, ref_answer(nested, placeholders)) for title, nested in items]


def ref_answer(nested: list[str], placeholders: frozenset[str]) -> str:
    lines = [line.expandtabs(4).rstrip() if "\t" in line else line.rstrip() for line in nested]
    meaningful = [line for line in lines if line]
    if not meaningful:
        return ""
    # Dedent by the common indent of the lines with text (what textwrap.dedent does, for spaces, faster).
    indent = min(len(line) - len(line.lstrip(" ")) for line in meaningful)
    lines = [line[indent:] for line in lines]
    # A line long enough is text, not filler; only then may the template's lines be what the answer is made of.
    if (placeholders or all(len(line) < 16 for line in meaningful)) and all(
        ref_is_placeholder(line, placeholders) for line in meaningful
    ):
        return ""
    return "\n".join(lines).strip("\n")


def ref_is_placeholder(title: str, placeholders: frozenset[str]) -> bool:
    norm = ref_normalise_line(title)
    return ref_is_filler(norm) or norm in placeholders


def ref_summary(lines: list[str], placeholders: frozenset[str]) -> str:
    """The summary section's Markdown without placeholder items (an item that is a placeholder or an empty
    Notion toggle title goes; what is nested under a placeholder title stays) and without the template's own
    lines (its instruction "학습내용을 몇문장으로 압축하여 정리한다." next to what the learner wrote)."""
    if placeholders:
        lines = [line for line in lines if ref_normalise_line(line) not in placeholders or TOP_ITEM.match(line)]
    items = ref_items(lines, placeholders)
    if not items:
        text = "\n".join(line.rstrip() for line in lines).strip("\n")
        kept = [ln for ln in text.splitlines() if ln.strip() and not ref_is_placeholder(ln, placeholders)]
        return text if kept else ""
    parts: list[str] = []
    for title, answer in items:
        chrome = ref_is_placeholder(title, placeholders) or bool(TOGGLE_TITLE.search(title))
        if chrome:
            if answer:
                parts.append(answer)
            continue
        parts.append(f"**{title}**\n\n{answer}" if answer else title)
    return "\n\n".join(parts)


def _notes() -> list[Path]:
    return sorted(DATA.rglob("*.md"))


def _placeholder_sets() -> list[frozenset[str]]:
    templates = [p.read_text(encoding="utf-8") for p in (DATA / "vault" / "05 - Template").rglob("*.md")]
    extra = "- 질문1\n    - 답변1\n- 핵심 요약 접기\n    학습내용을 몇문장으로 압축하여 정리한다.\n- Question?\n"
    return [frozenset(), cornell.template_lines(templates), cornell.template_lines([*templates, extra])]


# Pieces a generated body is made of: what tells items, answers, sections and placeholders apart.
HEADINGS = [
    "### 단서 질문",
    "## Cue Questions",
    "# 질문",
    "#### **요약**",
    "### 핵심 요약",
    "## Summary:",
    "### 핵심 필기",
    "## Notes",
    "###### cues",
    "#",
    "### 단서 질문 ##",
    "##no space",
    "    ### indented",
]
MARKERS = ["- ", "* ", "+ ", "1. ", "12) ", "-\t", "- [ ] ", "- [x] ", "-", "٣. ", "", "", "- ", "- "]
INDENTS = ["", "", "  ", "    ", "    ", "\t", "  \t", "        ", " \u00a0", "\u3000"]
WORDS = [
    "질문1",
    "답변1",
    "핵심 요약 접기",
    "학습내용을 몇문장으로 압축하여 정리한다.",
    "ㅇㅇ",
    "ㅋㅋㅋ",
    "a",
    "1.",
    "파드란?",
    "컨테이너의 묶음",
    "**볼륨**: 영구 데이터",
    "Question?",
    "what is a pod",
    "`kubectl apply`",
    "x",
    "ﾊﾟ",
    unicodedata.normalize("NFD", "쿠버네티스 파드"),
    "e\u0301t\u00e9",
    "_",
    "__",
    "접기",
    "AI 요약",
    "ᄀᄁ",
    "1",
]
TRAILING = ["", "", "", " ", "    ", "\t", "\u00a0", "\u3000", " \x0b", "\x1c", "\u2028"]
SPECIAL = [
    "```",
    "```sh",
    "~~~",
    "    ```",
    "",
    "",
    "    ",
    "  ",
    "\t",
    cornell.STATUS_BEGIN,
    cornell.STATUS_END,
    "<!-- reminder:status -->  ",
    "---",
    "[[Kubernetes]]",
]


def _line(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.12:
        return rng.choice(HEADINGS)
    if roll < 0.25:
        return rng.choice(SPECIAL)
    text = " ".join(rng.choice(WORDS) for _ in range(rng.choice([0, 1, 1, 1, 2, 3])))
    return rng.choice(INDENTS) + rng.choice(MARKERS) + text + rng.choice(TRAILING)


def _body(rng: random.Random) -> str:
    lines = [_line(rng) for _ in range(rng.randrange(0, 40))]
    if rng.random() < 0.5:
        lines.insert(0, rng.choice(["### 단서 질문", "## Questions"]))
    text = rng.choice(["\n", "\r\n", "\n", "\n"]).join(lines) + rng.choice(["", "\n", "\n\n"])
    if rng.random() < 0.3:
        text = "---\n❤1일복습여부: false\n---\n" + text
    return text


@pytest.mark.parametrize("path", _notes(), ids=lambda p: str(p.relative_to(DATA)))
def test_every_note_of_the_test_vaults_parses_as_before(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for placeholders in _placeholder_sets():
        assert cornell.parse(text, placeholders) == ref_parse(text, placeholders)


def test_generated_bodies_parse_as_before() -> None:
    rng = random.Random(12)
    sets = _placeholder_sets()
    with_questions = 0
    for _ in range(4000):
        text = _body(rng)
        for placeholders in sets:
            expected = ref_parse(text, placeholders)
            assert cornell.parse(text, placeholders) == expected, text
            with_questions += bool(expected.questions)
    # The generator reaches the paths that matter: notes with questions, not only empty parses.
    assert with_questions > 3000


# Bytes a file may hold that are not UTF-8 (each reads as U+FFFD), and white space str.strip() takes around a marker.
BAD_BYTES = [b"\xff", b"\xe1\x84", b"\xed\xa0\x80", b"\xc2", b"\xf0\x9f\x98", b"\x80\x80"]
MARKER_PADS = ["\u3000", "\u00a0", "\x1c", "\u2028", "\x85", " \t"]


def _file_bytes(rng: random.Random) -> bytes:
    text = _body(rng)
    if rng.random() < 0.3:
        marker = rng.choice([cornell.STATUS_BEGIN, cornell.STATUS_END])
        padded = rng.choice(["", rng.choice(MARKER_PADS)]) + marker + rng.choice(["", rng.choice(MARKER_PADS)])
        lines = text.split("\n")
        lines.insert(rng.randrange(len(lines) + 1), padded)
        text = "\n".join(lines)
    data = bytearray(text.encode("utf-8"))
    for _ in range(rng.choice([0, 0, 1, 3])):
        at = rng.randrange(len(data) + 1)
        data[at:at] = rng.choice(BAD_BYTES)
    return (b"\xef\xbb\xbf" if rng.random() < 0.1 else b"") + bytes(data)


def test_a_files_bytes_parse_as_their_text_did() -> None:
    """parse_bytes finds the sections in the bytes and decodes only those: the same as the reference on the whole
    file decoded, with bytes that are not UTF-8 anywhere (in headings, next to line breaks, in answers) and
    status markers padded with white space only str.strip() takes."""
    rng = random.Random(13)
    sets = _placeholder_sets()
    with_questions = 0
    for _ in range(3000):
        data = _file_bytes(rng)
        text = data.decode("utf-8", "replace")
        for placeholders in sets:
            expected = ref_parse(text, placeholders)
            assert cornell.parse_bytes(data, placeholders) == expected, data
            with_questions += bool(expected.questions)
    assert with_questions > 2000
    for path in _notes():
        data = path.read_bytes()
        for placeholders in sets:
            assert cornell.parse_bytes(data, placeholders) == ref_parse(data.decode("utf-8", "replace"), placeholders)
