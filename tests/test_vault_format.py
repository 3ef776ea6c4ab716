"""Reading and writing study-note frontmatter: the learner's real note, its variants, and byte-exact flag writes."""

from __future__ import annotations

import hashlib
import random
import re
from datetime import date
from pathlib import Path

import pytest
from conftest import SEED_NOTE
from notefiles import crlf, note

from reminder.vault_format import (
    NoteFormatError,
    classify_key,
    normalise_key,
    obsidian_link,
    parse_note,
    set_first_study,
    set_flag,
    set_mirrors,
    set_status_block,
    status_section,
)

BOM = b"\xef\xbb\xbf"


@pytest.fixture
def seed(tmp_path: Path) -> bytes:
    """The learner's real note, copied so no test can touch the original."""
    copy = tmp_path / SEED_NOTE.name
    copy.write_bytes(SEED_NOTE.read_bytes())
    return copy.read_bytes()


def with_line(data: bytes, number: int, text: str) -> bytes:
    """``data`` with its 1-based line ``number`` replaced by ``text``."""
    lines = data.split(b"\n")
    lines[number - 1] = text.encode()
    return b"\n".join(lines)


def without_line(data: bytes, text: str) -> bytes:
    line = text.encode() + b"\n"
    assert data.count(line) == 1
    return data.replace(line, b"")


# --- reading ------------------------------------------------------------------------------------------------------


def test_seed_note_parses_exactly(seed: bytes) -> None:
    parsed = parse_note("Kubernetes/kubernetes-3.2-objects.md", seed)
    assert parsed is not None
    assert parsed.title == "kubernetes-3.2-objects"
    assert parsed.first_studied_on == date(2024, 7, 7)
    assert parsed.subject == "Kubernetes"
    assert parsed.source == "컨테이너 인프라 환경 구축을 위한 쿠버네티스 도커"
    assert parsed.pages == "p93~"
    assert parsed.level == "🤔중"
    assert parsed.stages == {1: True, 4: True, 7: True, 14: True}
    assert parsed.long_term is False
    assert parsed.content_hash == hashlib.sha256(seed).hexdigest()


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(crlf, id="crlf"),
        pytest.param(lambda d: BOM + d, id="bom"),
        pytest.param(lambda d: BOM + crlf(d), id="bom+crlf"),
    ],
)
def test_seed_reads_the_same_with_crlf_and_bom(seed: bytes, encode) -> None:  # type: ignore[no-untyped-def]
    plain = parse_note("n.md", seed)
    other = parse_note("n.md", encode(seed))
    assert plain is not None and other is not None
    # Same fields; only the hash of the raw bytes differs.
    assert other.content_hash == hashlib.sha256(encode(seed)).hexdigest() != plain.content_hash
    assert {**vars(other), "content_hash": None} == {**vars(plain), "content_hash": None}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-07-07", date(2024, 7, 7)),  # a YAML date
        ('"2024-07-07"', date(2024, 7, 7)),  # the same as a string
        ("2024/07/07", date(2024, 7, 7)),
        ("2024-7-7", date(2024, 7, 7)),
        ("2024-07-07T14:01", date(2024, 7, 7)),
        ("2024-07-07 14:01:30", date(2024, 7, 7)),  # a YAML datetime
        ("2024-07-07T23:30:00+09:00", date(2024, 7, 7)),  # the date as written, not shifted to UTC
        ('"@2024년 7월 7일"', date(2024, 7, 7)),  # Notion's date mention
        ('"@2024년 10월 27일 오후 2:01"', date(2024, 10, 27)),  # with a time, as the seed's 오늘1
        ("'2024년 10월 27일 오전 12:05'", date(2024, 10, 27)),
        ("2024-02-29", date(2024, 2, 29)),
    ],
)
def test_first_study_date_spellings(value: str, expected: date) -> None:
    parsed = parse_note("n.md", note(f"❕첫 학습날: {value}"))
    assert parsed is not None and parsed.first_studied_on == expected


@pytest.mark.parametrize(
    "key", ["첫 학습날", "첫학습날", "first_study", "first-studied", "studied", "First Studied", "first study"]
)
def test_first_study_key_aliases(key: str) -> None:
    parsed = parse_note("n.md", note(f"{key}: 2024-07-07"))
    assert parsed is not None and parsed.first_studied_on == date(2024, 7, 7)


def test_english_keys() -> None:
    parsed = parse_note(
        "notes/k8s.md",
        note(
            "first_study: 2024-07-07",
            "subject: Kubernetes",
            "book: The Book",
            "pages: 1:30",  # as written, not YAML 1.1's sexagesimal 90
            "level: 007",  # as written, not the number 7
            "review_1d: Yes",
            "review_4d: NO",
            "review_7d: 1",
            "Review_14d: false",
            "long_term: TRUE",
        ),
    )
    assert parsed is not None
    assert (parsed.title, parsed.subject, parsed.source, parsed.pages, parsed.level) == (
        "k8s",
        "Kubernetes",
        "The Book",
        "1:30",
        "007",
    )
    assert parsed.stages == {1: True, 4: False, 7: True, 14: False}
    assert parsed.long_term is True


@pytest.mark.parametrize(
    ("flags", "stages", "long_term"),
    [
        # Only the template's derived "1"/"0" copies.
        (
            ['"1일차복습여부1,0": "1"', '"4일차복습여부1,0": "0"', '"장기기억저장여부1,0": "0"'],
            {1: True, 4: False},
            False,
        ),
        # The flag the learner ticks wins over the derived copy, in either order.
        (["❤1일복습여부: false", '"1일차복습여부1,0": "1"'], {1: False}, None),
        (
            ['"1일차복습여부1,0": "0"', "❤1일복습여부: true", '"장기기억저장여부1,0": "1"', "🧠장기기억: false"],
            {1: True},
            False,
        ),
        # An empty flag is an unticked checkbox.
        (["❤1일복습여부:", "🧡4일복습여부: ''"], {1: False, 4: False}, None),
        # Fields the template derives are not flags, whatever they look like.
        (["4일후: '@2024년 7월 11일'", "4일후(text): 2024/07/11", "🛑4일복습여부: true", "학습률: '0.6'"], {}, None),
        ([], {}, None),
    ],
)
def test_review_flags(flags: list[str], stages: dict[int, bool], long_term: bool | None) -> None:
    parsed = parse_note("n.md", note("❕첫 학습날: 2024-07-07", *flags))
    assert parsed is not None
    assert parsed.stages == stages
    assert parsed.long_term is long_term


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"# just a page\n\nno frontmatter here\n", id="no frontmatter"),
        pytest.param(b"\n---\nfirst_study: 2024-07-07\n---\n", id="frontmatter not on the first line"),
        pytest.param(note("title: a page", "tags: [x]"), id="frontmatter without a date"),
        pytest.param(note("첫학습날text: 2024/07/07"), id="only the derived text copy of the date"),
        pytest.param(note("🛑첫 학습날: 2024-07-07"), id="only a formula field"),
        pytest.param(note(), id="empty frontmatter"),
        pytest.param(note("# only a comment"), id="comment-only frontmatter"),
        pytest.param(b"---\nfirst_study: 2024-07-07\nno closing line\n", id="unclosed frontmatter"),
        pytest.param(b"\xff\xfe not a text file", id="binary without frontmatter"),
    ],
)
def test_not_a_study_note(data: bytes) -> None:
    assert parse_note("n.md", data) is None


def test_body_is_never_parsed() -> None:
    """A large body full of YAML-looking lines, stray '---' and non-UTF-8 bytes does not matter."""
    body = ("---\n: : [not yaml\n❤1일복습여부: maybe\n" * 20_000).encode() + b"\xff\xfe latin-1 \xe9\n"
    data = note("❕첫 학습날: 2024-07-07", "❤1일복습여부: true") + body
    assert len(data) > 500_000
    parsed = parse_note("n.md", data)
    assert parsed is not None and parsed.stages == {1: True}


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        pytest.param(
            note("첫 학습날: 2024-02-30"), 2, "첫 학습날 '2024-02-30' is not a real date", id="impossible date"
        ),
        pytest.param(note("a: b", "첫 학습날: '@2024년 13월 1일'"), 3, "is not a real date", id="month 13 (Notion)"),
        pytest.param(note("첫 학습날: 2024-07-07T25:00"), 2, "is not a real date and time", id="hour 25"),
        pytest.param(note("첫 학습날: '@2024년 7월 7일 오후 13:00'"), 2, "is not a real date", id="pm 13 o'clock"),
        pytest.param(note("첫 학습날: next tuesday"), 2, "'next tuesday' is not a date", id="words"),
        pytest.param(note("첫 학습날: [2024-07-07]"), 2, "should be a single value", id="date as a list"),
        pytest.param(note("첫 학습날: 2024-07-07", "❤1일복습여부: maybe"), 3, "should be true or false", id="flag"),
        pytest.param(note("첫 학습날: 2024-07-07", "과목: [a, b]"), 3, "과목 should be a single value", id="list"),
        pytest.param(
            note("첫 학습날: 2024-07-07", "x: 1", "first_study: 2024-07-08"),
            4,
            "first_study disagrees with 첫 학습날 on line 2",
            id="two dates",
        ),
        pytest.param(
            note("첫 학습날: 2024-07-07", "❤1일복습여부: true", "review_1d: false"),
            4,
            "review_1d disagrees with ❤1일복습여부 on line 3",
            id="two ticked flags",
        ),
        pytest.param(b"---\n- a\n- b\n---\n", 2, "the frontmatter is a list, not a mapping", id="list frontmatter"),
        pytest.param(b"---\njust words\n---\n", 2, "a single value, not a mapping", id="scalar frontmatter"),
        pytest.param("---\n첫 학습날: 2024-07-07\n과목: 국어\n---\n".encode("cp949"), 2, "not UTF-8", id="cp949 note"),
        pytest.param(note("첫 학습날: 2024-07-07", "과목: \x01"), 3, "characters are not allowed", id="control char"),
    ],
)
def test_format_errors_name_the_line(data: bytes, line: int, reason: str) -> None:
    with pytest.raises(NoteFormatError) as caught:
        parse_note("n.md", data)
    assert caught.value.line == line
    assert reason in caught.value.reason
    assert str(caught.value) == f"line {line}: {caught.value.reason}"
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("encode", [lambda d: d, lambda d: BOM + crlf(d)], ids=["lf", "bom+crlf"])
@pytest.mark.parametrize(
    ("number", "text", "error_line"),
    [
        (3, "❕과목: Kubernetes: 1.29", 3),
        # An unclosed flow list is only noticed on the next line, which is where YAML points.
        (11, "🧠장기기억: [false", 12),
        (30, '"1일차복습여부1,0": "1" x', 30),
    ],
)
def test_broken_yaml_in_the_seed_reports_the_file_line(  # type: ignore[no-untyped-def]
    seed: bytes, encode, number: int, text: str, error_line: int
) -> None:
    with pytest.raises(NoteFormatError) as caught:
        parse_note("n.md", encode(with_line(seed, number, text)))
    assert caught.value.line == error_line
    assert caught.value.reason.startswith("the frontmatter is not valid YAML: ")


def test_oversize_file_is_refused(seed: bytes) -> None:
    assert parse_note("n.md", seed, max_bytes=len(seed)) is not None
    message = f"line 1: the file is {len(seed):,} bytes, over the {len(seed) - 1:,}-byte limit"
    with pytest.raises(NoteFormatError, match=f"^{re.escape(message)}"):
        parse_note("n.md", seed, max_bytes=len(seed) - 1)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("❤1일복습여부", "1일복습여부"),
        ("❤️1일복습여부", "1일복습여부"),  # with the emoji variation selector
        ("👩\u200d💻 Subject", "subject"),  # a ZWJ sequence
        ("❕첫 학습날", "첫 학습날"),
        ("  🧠  First \t  Study ", "first study"),
        ("1일차복습여부1,0", "1일차복습여부1,0"),
        ("REVIEW_4D", "review_4d"),
        ("Ünïcode", "Ünïcode"),  # only ASCII is lowercased
        ("🛑", ""),
    ],
)
def test_normalise_key(key: str, expected: str) -> None:
    assert normalise_key(key) == expected


# --- writing ------------------------------------------------------------------------------------------------------


def test_long_term_flip_changes_only_those_values(seed: bytes) -> None:
    """The seed has the ticked key and its derived copy: both change, every other byte stays."""
    expected = seed.replace("🧠장기기억: false\n".encode(), "🧠장기기억: true\n".encode()).replace(
        '"장기기억저장여부1,0": "0"\n'.encode(), '"장기기억저장여부1,0": "1"\n'.encode()
    )
    assert expected.count("장기기억".encode()) == seed.count("장기기억".encode())
    assert set_flag(seed, None, True) == expected
    assert set_flag(expected, None, False) == seed


def test_stage_flip_keeps_crlf_bom_and_quote_style(seed: bytes) -> None:
    original = BOM + crlf(seed)
    expected = original.replace("❤1일복습여부: true\r\n".encode(), "❤1일복습여부: false\r\n".encode()).replace(
        '"1일차복습여부1,0": "1"\r\n'.encode(), '"1일차복습여부1,0": "0"\r\n'.encode()
    )
    assert set_flag(original, 1, False) == expected


def test_setting_a_flag_to_its_current_value_changes_nothing(seed: bytes) -> None:
    assert set_flag(seed, 14, True) == seed
    assert set_flag(BOM + crlf(seed), 4, True) == BOM + crlf(seed)


@pytest.mark.parametrize("encode", [lambda d: d, lambda d: BOM + crlf(d)], ids=["lf", "bom+crlf"])
def test_missing_flag_is_added_after_the_last_ticked_stage_flag(seed: bytes, encode) -> None:  # type: ignore[no-untyped-def]
    without_14 = without_line(seed, "💚14일복습여부: true")
    after_7 = "💛7일복습여부: true\n".encode()
    expected = without_14.replace(after_7, after_7 + "14일복습여부: true\n".encode())
    assert set_flag(encode(without_14), 14, True) == encode(expected)
    assert parse_note("n.md", expected).stages == {1: True, 4: True, 7: True, 14: True}  # type: ignore[union-attr]


def test_missing_long_term_flag_follows_the_stage_flags(seed: bytes) -> None:
    without = without_line(seed, "🧠장기기억: false")
    without = without_line(without, '"장기기억저장여부1,0": "0"')
    after_14 = "💚14일복습여부: true\n".encode()
    expected = without.replace(after_14, after_14 + "장기기억: true\n".encode())
    assert set_flag(without, None, True) == expected


@pytest.mark.parametrize(
    ("before", "stage", "done", "after"),
    [
        # No stage flag at all: added before the closing line.
        (["첫 학습날: 2024-07-07", "과목: a"], 4, False, ["첫 학습날: 2024-07-07", "과목: a", "4일복습여부: false"]),
        (
            ["first_study: 2024-07-07", "review_1d: yes"],
            7,
            True,
            ["first_study: 2024-07-07", "review_1d: yes", "review_7d: true"],
        ),
        (
            ["first_study: 2024-07-07", "review_1d: yes"],
            None,
            False,
            ["first_study: 2024-07-07", "review_1d: yes", "long_term: false"],
        ),
        # A multi-line flag: the new key goes after its last line, not inside it.
        (["❤1일복습여부: |", "  true", "x: y"], 4, True, ["❤1일복습여부: |", "  true", "4일복습여부: true", "x: y"]),
        # Only a derived flag: the new ticked key goes after it.
        (['"1일차복습여부1,0": "1"', "x: y"], 4, True, ['"1일차복습여부1,0": "1"', "4일복습여부: true", "x: y"]),
        # Existing values keep their spelling, case, quotes and comments.
        (["❤1일복습여부: True  # ticked"], 1, False, ["❤1일복습여부: False  # ticked"]),
        (["❤1일복습여부: NO"], 1, True, ["❤1일복습여부: YES"]),
        (["review_1d: 'false'"], 1, True, ["review_1d: 'true'"]),
        (["'1일차복습여부1,0': '0'"], 1, True, ["'1일차복습여부1,0': '1'"]),
        (["1일차복습여부1,0: 0"], 1, True, ["1일차복습여부1,0: 1"]),
        (["❤1일복습여부:"], 1, True, ["❤1일복습여부: true"]),
        (["❤1일복습여부: ~"], 1, True, ["❤1일복습여부: true"]),
        (['"1일차복습여부1,0":'], 1, True, ['"1일차복습여부1,0": "1"']),
        (["❤1일복습여부 : false"], 1, True, ["❤1일복습여부 : true"]),
        # Look-alikes are left alone: a formula field, the derived date, another stage.
        (
            ["🛑1일복습여부: false", "1일후(text): x", "❤1일복습여부: false", "🧡4일복습여부: false"],
            1,
            True,
            ["🛑1일복습여부: false", "1일후(text): x", "❤1일복습여부: true", "🧡4일복습여부: false"],
        ),
    ],
)
def test_set_flag_edits(before: list[str], stage: int | None, done: bool, after: list[str]) -> None:
    body = "❤1일복습여부: false\n---\n🧠장기기억: false\n"  # the body looks like flags and is never touched
    assert set_flag(note(*before, body=body), stage, done) == note(*after, body=body)


@pytest.mark.parametrize("stage", [1, 4, 7, 14, 30, None])
@pytest.mark.parametrize("done", [True, False])
def test_round_trip(seed: bytes, stage: int | None, done: bool) -> None:
    before = parse_note("n.md", seed)
    after = parse_note("n.md", set_flag(seed, stage, done))
    assert before is not None and after is not None
    if stage is None:
        assert after.long_term is done
        assert after.stages == before.stages
    else:
        assert after.stages == {**before.stages, stage: done}
        assert after.long_term is before.long_term
    assert (after.first_studied_on, after.subject, after.source, after.pages, after.level) == (
        before.first_studied_on,
        before.subject,
        before.source,
        before.pages,
        before.level,
    )


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (b"# no frontmatter\n", 1, "the note has no frontmatter"),
        (note("첫 학습날: 2024-07-07", "a: [b"), 4, "not valid YAML"),
        (note("❤1일복습여부: |", "  true"), 2, "is not a one-line true/false value"),
        (note("❤1일복습여부: [true]"), 2, "is not a one-line true/false value"),
    ],
)
def test_set_flag_refuses_what_it_cannot_edit_in_place(data: bytes, line: int, reason: str) -> None:
    with pytest.raises(NoteFormatError) as caught:
        set_flag(data, 1, True)
    assert caught.value.line == line and reason in caught.value.reason


# --- links --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vault", "path", "link"),
    [
        ("Study", "kubernetes-3.2-objects.md", "obsidian://open?vault=Study&file=kubernetes-3.2-objects"),
        (
            "My Vault",
            "쿠버네티스/3.2 오브젝트.md",
            "obsidian://open?vault=My%20Vault&file="
            "%EC%BF%A0%EB%B2%84%EB%84%A4%ED%8B%B0%EC%8A%A4%2F3.2%20%EC%98%A4%EB%B8%8C%EC%A0%9D%ED%8A%B8",
        ),
        ("공부", "a&b/c?d#e (1).MD", "obsidian://open?vault=%EA%B3%B5%EB%B6%80&file=a%26b%2Fc%3Fd%23e%20%281%29"),
        ("v", "./notes//x.md.md", "obsidian://open?vault=v&file=notes%2Fx.md"),
    ],
)
def test_obsidian_link(vault: str, path: str, link: str) -> None:
    assert obsidian_link(vault, path) == link


@pytest.mark.parametrize(("vault", "path"), [("", "a.md"), ("v", "/etc/a.md"), ("v", "../a.md"), ("v", "")])
def test_obsidian_link_refuses_paths_outside_the_vault(vault: str, path: str) -> None:
    with pytest.raises(ValueError):
        obsidian_link(vault, path)


# --- notes made from a template, the flags people write, mirrors, the status block -------------------------------

TEMPLATE_FLAGS = (
    "❤1일복습여부: false",
    "🧡4일복습여부: false",
    "💛7일복습여부: false",
    "💚14일복습여부: false",
    "🧠장기기억: false",
    '🛑첫날: "✏첫날 :"',
)


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param(TEMPLATE_FLAGS, id="the learner's template: flags, placeholder, no date"),
        pytest.param(("❕첫 학습날:", "❤1일복습여부: false"), id="an empty first-study key"),
        pytest.param(('🛑첫날: "✏첫날 :"', "tags: [k8s]"), id="only the first-day placeholder"),
        pytest.param(("1일후 복습: No", "완료: No"), id="a Notion flag"),
    ],
)
def test_a_note_made_from_a_template_is_a_study_note_without_a_date(lines: tuple[str, ...]) -> None:
    parsed = parse_note("n.md", note(*lines))
    assert parsed is not None and parsed.first_studied_on is None


@pytest.mark.parametrize(
    ("key", "stage"),
    [
        ("1일후 복습", 1),
        ("3일차 복습", 3),
        ("7일후(주말) 복습", 7),
        ("2주 후 복습", 14),
        ("1달후 복습", 30),
        ("3개월 후 복습", 90),
        ("❤1일복습여부", 1),
        ("review_4d", 4),
    ],
)
def test_stage_flag_keys(key: str, stage: int) -> None:
    assert classify_key(key) == (stage, 0)


@pytest.mark.parametrize("key", ["완료", "4일후", "4일후(text)", "복습", "🛑1일후 복습", "진행바", "sr-due"])
def test_keys_that_are_not_stage_flags(key: str) -> None:
    kind = classify_key(key)
    assert kind is None or not isinstance(kind[0], int)


@pytest.mark.parametrize(
    ("value", "done"),
    [("Yes", True), ("No", False), ("O", True), ("X", False), ("✅", True), ("❌", False), ("1", True), ("0", False)],
)
def test_flag_values_people_write(value: str, done: bool) -> None:
    parsed = parse_note("n.md", note("첫 학습날: 2024-10-24", f"1일후 복습: {value}"))
    assert parsed is not None and parsed.stages == {1: done}


@pytest.mark.parametrize(("old", "new"), [("No", "Yes"), ("X", "O"), ("x", "o"), ("❌", "✅"), ("0", "1")])
def test_set_flag_keeps_the_spelling(old: str, new: str) -> None:
    data = note("첫 학습날: 2024-10-24", f"1일후 복습: {old}")
    assert set_flag(data, 1, True) == note("첫 학습날: 2024-10-24", f"1일후 복습: {new}")


def test_notion_dates_with_a_time_still_read() -> None:
    parsed = parse_note("n.md", note("⭕첫 학습날: 2026년 1월 18일 오후 10:28"))
    assert parsed is not None and parsed.first_studied_on == date(2026, 1, 18)
    assert parsed.first_study_key == "⭕첫 학습날"


def test_set_first_study_inserts_one_line_and_keeps_every_other_byte() -> None:
    data = b"\xef\xbb\xbf" + crlf(note(*TEMPLATE_FLAGS, body="# 본문\n"))
    out = set_first_study(data, "⭕첫 학습날", date(2024, 10, 30))
    assert out == data[:8] + "⭕첫 학습날: 2024-10-30\r\n".encode() + data[8:]
    got = parse_note("n.md", out)
    assert got is not None and got.first_studied_on == date(2024, 10, 30)


def test_set_first_study_fills_an_empty_key() -> None:
    data = note("❕첫 학습날:", "❤1일복습여부: false")
    filled = note("❕첫 학습날: 2024-10-30", "❤1일복습여부: false")
    assert set_first_study(data, "첫 학습날", date(2024, 10, 30)) == filled


def test_set_mirrors_changes_only_the_mirror_values() -> None:
    data = note('학습률: "0"', "진행바: ⬜⬜⬜⬜⬜⬜⬜⬜⬜⬜ 0%", '🛑진행바: "x"', "tags: [a]")
    out = set_mirrors(data, {"학습률": "0.6", "진행바": "🟩🟩🟩🟩🟩🟩⬜⬜⬜⬜ 60%"})
    assert out == note('학습률: "0.6"', "진행바: 🟩🟩🟩🟩🟩🟩⬜⬜⬜⬜ 60%", '🛑진행바: "x"', "tags: [a]")
    plain = note("첫 학습날: 2024-10-24")
    assert set_mirrors(plain, {"학습률": "0.6"}) == plain  # none added


def test_status_block_goes_under_the_heading_and_is_rewritten_between_its_markers() -> None:
    body = "### 복습알림\n\n- 자동으로 핸드폰에 알림이 오도록 설정하고 싶으면 다음과 같이 한다.\n"
    data = note("첫 학습날: 2024-10-24", body=body)
    section = status_section(data)
    assert section is not None and section.language == "ko" and section.block is None
    out = set_status_block(data, ["- 다음 복습: 2024-10-25 (D+1)"])
    assert out == note(
        "첫 학습날: 2024-10-24",
        body="### 복습알림\n<!-- reminder:status -->\n- 다음 복습: 2024-10-25 (D+1)\n<!-- /reminder:status -->\n"
        + body[len("### 복습알림\n") :],
    )
    again = set_status_block(out, ["- 다음 복습: 2024-10-28 (D+4)"])
    assert again == out.replace(b"2024-10-25 (D+1)", b"2024-10-28 (D+4)")
    english = status_section(note("first_study: 2024-10-24", body="## Review reminders\n"))
    assert english is not None and english.language == "en"
    assert status_section(note("첫 학습날: 2024-10-24")) is None


def test_status_section_finds_what_a_search_of_every_line_finds() -> None:
    # status_section jumps to each "#" and each opening marker instead of letting the regex try every byte; the
    # answer must be the plain search's, whatever surrounds the heading and the block.
    from reminder.vault_format import _STATUS_BLOCK_RE, _STATUS_HEADING_RE

    pieces = [
        "### 복습알림\n",
        "## 복습 알림 \r\n",
        "x### 복습알림\n",
        "####### 복습알림\n",
        "# Review reminders",
        "#복습알림\n",
        "<!-- reminder:status -->\n- a\n<!-- /reminder:status -->\n",
        " <!-- reminder:status -->\n",
        "<!-- reminder:status -->\n- b\n",
        "<!-- /reminder:status -->",
        "# 단서 질문\n",
        "text #tag\n",
        "\n",
    ]
    rng = random.Random(12)
    for _ in range(2000):
        body = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        data = note("첫 학습날: 2024-10-24", body=body) if rng.random() < 0.7 else body.encode()
        section = status_section(data)
        start = data.index(b"---\n", 4) + 4 if data.startswith(b"---\n") else 0
        heading = _STATUS_HEADING_RE.search(data, start)
        block = _STATUS_BLOCK_RE.search(data, start)
        assert (section is None) == (heading is None), body
        if section is not None and heading is not None:
            assert section.heading_end == heading.end(), body
            assert section.block == ((block.start(), block.end()) if block else None), body
