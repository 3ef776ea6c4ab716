"""The message catalogues: complete in both languages, compiled as shipped, chosen as the learner expects."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest

from reminder import i18n
from reminder.texts import t, when

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import catalogue  # noqa: E402


def _key(message) -> tuple[str | None, str]:
    msgid = message.id[0] if isinstance(message.id, tuple) else message.id
    return message.context, msgid


@pytest.fixture(scope="module")
def used() -> dict[tuple[str | None, str], object]:
    return {_key(m): m for m in catalogue.extract() if m.id}


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_message_the_code_uses_is_in_the_catalogue_and_nothing_else(language: str, used: dict) -> None:
    po = catalogue.read(language)
    have = {_key(m): m for m in po if m.id}
    missing = sorted(str(k) for k in used.keys() - have.keys())
    assert not missing, f"not in {language}.po (run scripts/catalogue.py update): {missing}"
    unused = sorted(str(k) for k in have.keys() - used.keys())
    assert not unused, f"in {language}.po but no longer used: {unused}"
    assert not po.obsolete, f"obsolete entries in {language}.po"
    assert not [m.id for m in po if m.id and m.fuzzy], f"fuzzy entries in {language}.po"
    assert not po.fuzzy, f"{language}.po has a fuzzy header (its Plural-Forms would not be compiled)"


def test_every_message_has_a_korean_translation(used: dict) -> None:
    po = catalogue.read("ko")
    untranslated = []
    for m in po:
        if not m.id:
            continue
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if not all(strings):
            untranslated.append(_key(m))
    assert not untranslated, f"untranslated in ko.po: {untranslated}"
    assert po.num_plurals == 1  # Korean has one form: 복습 1개, 복습 3개


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_the_committed_mo_is_exactly_what_babel_compiles_from_the_po(language: str) -> None:
    mo = catalogue.po_path(language).with_suffix(".mo")
    assert mo.read_bytes() == catalogue.compiled(language), f"run: python scripts/catalogue.py compile ({mo})"


def test_placeholders_survive_translation() -> None:
    """A translation that drops or renames {n} would raise (or lie) when the text is shown."""
    import re

    for m in catalogue.read("ko"):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        wanted = set(re.findall(r"\{(\w+)[^}]*\}", ids[-1]))
        for s in strings:
            got = set(re.findall(r"\{(\w+)[^}]*\}", s))
            if m.id == "{weekday}, {month} {day}":
                assert got <= {"weekday", "month", "month_number", "day", "year"}
            else:
                assert got == wanted, (m.id, s)


def test_plurals_come_from_the_catalogue() -> None:
    assert t("en", "heading", n=1) == "📚 1 review due today"
    assert t("en", "heading", n=2) == "📚 2 reviews due today"
    assert t("ko", "heading", n=1) == "📚 오늘 복습 1개"
    assert t("ko", "heading", n=2) == "📚 오늘 복습 2개"
    assert t("en", "late", n=1) == "1 day late" and t("en", "late", n=3) == "3 days late"
    assert when("en", date(2026, 12, 5), date(2026, 12, 1)) == "in 4 days"
    assert when("ko", date(2026, 12, 5), date(2026, 12, 1)) == "4일 후"


def test_same_english_different_korean_is_told_apart_by_context() -> None:
    assert t("en", "flash_done") == t("en", "flash_rated") == "✅ Review recorded."
    assert t("ko", "flash_done") == "✅ 복습 완료로 기록했습니다."
    assert t("ko", "flash_rated") == "✅ 복습을 기록했습니다."


@pytest.mark.parametrize(
    ("day", "ko", "en"),
    [
        (date(2026, 12, 1), "12월 1일 (화)", "Tue, Dec 1"),
        (date(2027, 1, 3), "1월 3일 (일)", "Sun, Jan 3"),
        (date(2026, 5, 18), "5월 18일 (월)", "Mon, May 18"),
    ],
)
def test_days_read_as_people_write_them(day: date, ko: str, en: str) -> None:
    assert i18n.format_day(day, "ko") == ko
    assert i18n.format_day(day, "en") == en


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        ({"LANG": "ko_KR.UTF-8"}, "ko"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({}, "en"),
        ({"LANG": "ko_KR.UTF-8", "LC_MESSAGES": "C"}, "en"),
        ({"LANG": "C", "LC_MESSAGES": "ko_KR.UTF-8"}, "ko"),
        ({"LC_ALL": "C.UTF-8", "LC_MESSAGES": "ko_KR.UTF-8", "LANG": "ko_KR.UTF-8"}, "en"),
        ({"LC_ALL": "", "LANG": "ko_KR.eucKR"}, "ko"),
        ({"LANG": "ko"}, "ko"),
    ],
)
def test_the_locale_picks_the_language_as_c_programs_read_it(environ: dict[str, str], language: str) -> None:
    assert i18n.locale_language(environ) == language


def test_an_explicit_reminder_language_wins_over_the_locale() -> None:
    assert i18n.cli_language({"LANG": "ko_KR.UTF-8"}, "en") == "en"
    assert i18n.cli_language({"LANG": "C.UTF-8"}, "ko") == "ko"
    assert i18n.cli_language({"LANG": "ko_KR.UTF-8"}, None) == "ko"


def test_a_phrase_is_its_english_text_and_is_shown_in_the_readers_language() -> None:
    import pickle

    from reminder.vault.writeback import Outcome, lost_reason

    line = lost_reason("/v/노트.md", Outcome.BUSY, None)
    assert line == "/v/노트.md is open for writing in another program; written at a later sync"  # logs, --json
    assert i18n.shown(line, "ko") == "/v/노트.md을(를) 다른 프로그램이 쓰려고 열어 두었습니다. 나중 동기화 때 씁니다"
    assert i18n.shown("plain text", "ko") == "plain text"
    back = pickle.loads(pickle.dumps(line))
    assert back == line and i18n.shown(back, "ko") == i18n.shown(line, "ko")
