"""The digest: due notes -> one ntfy message that a phone shows well and ntfy always accepts."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from ntfy_server import FakeNtfy

from reminder.digest import TITLE_MAX, build_digest, build_test_message, escape_markdown
from reminder.ntfy import JSON_BODY_LIMIT, MESSAGE_LIMIT, NtfyClient, encode_message, validate_message
from reminder.schedule import DueNote

TOPIC = "reviews"
DAY = date(2024, 7, 12)  # a Friday
LINK = "obsidian://open?vault=study&file=k8s%2Fobjects"
DONE = {"action": "http", "label": "완료", "url": "https://r.example/done/1", "method": "POST", "clear": True}
SNOOZE = {"action": "http", "label": "내일", "url": "https://r.example/snooze/1", "method": "POST"}
SKIP = {"action": "http", "label": "건너뛰기", "url": "https://r.example/skip/1", "method": "POST"}


def note(
    note_id: int = 1,
    title: str = "쿠버네티스 3.2 오브젝트",
    *,
    days_late: int = 0,
    link: str | None = None,
    stage: int = 4,
    extra: bool = False,
    progress: int = 60,
) -> DueNote:
    return DueNote(note_id, title, link, stage, extra, date(2024, 7, 11), days_late, progress)


def digest(due: list[DueNote], language: str = "ko", **kwargs: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "day": DAY,
        "topic": TOPIC,
        "language": language,
        "priority": 3,
        "overdue_priority": 4,
        "overdue_days": 3,
        "tags": ["books"],
    }
    return build_digest(due, **(options | kwargs))


def note_lines(message: dict[str, Any]) -> list[str]:
    return [line for line in message["message"].split("\n") if line.startswith("- ")]


# --- title, lines, order, priority -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "count", "title"),
    [
        ("ko", 1, "📚 오늘 복습 1개 · 7월 12일 (금)"),
        ("ko", 3, "📚 오늘 복습 3개 · 7월 12일 (금)"),
        ("en", 1, "📚 1 review due · Fri, Jul 12"),
        ("en", 3, "📚 3 reviews due · Fri, Jul 12"),
    ],
)
def test_title_counts_the_due_notes_and_names_the_day(language: str, count: int, title: str):
    message = digest([note(i, f"note {i}") for i in range(count)], language)
    assert message["title"] == title
    assert len(note_lines(message)) == count
    assert message["markdown"] is True
    assert message["tags"] == ["books"]
    assert message["topic"] == TOPIC


@pytest.mark.parametrize(
    ("language", "due", "line"),
    [
        ("ko", note(days_late=0), "- 쿠버네티스 3.2 오브젝트 · D+4 · 🟩🟩🟩🟩🟩🟩⬜⬜⬜⬜ 60%"),
        ("ko", note(days_late=2), "- 쿠버네티스 3.2 오브젝트 · D+4 · 2일 지남 · 🟩🟩🟩🟩🟩🟩⬜⬜⬜⬜ 60%"),
        ("en", note(days_late=1), "- 쿠버네티스 3.2 오브젝트 · D+4 · 1 day late · 🟩🟩🟩🟩🟩🟩⬜⬜⬜⬜ 60%"),
        ("en", note(days_late=8), "- 쿠버네티스 3.2 오브젝트 · D+4 · 8 days late · 🟩🟩🟩🟩🟩🟩⬜⬜⬜⬜ 60%"),
        (
            "ko",
            note(stage=104, extra=True, days_late=8),
            "- 쿠버네티스 3.2 오브젝트 · 추가 D+104 · 8일 지남 · 🟩🟩🟩🟩🟩🟩⬜⬜⬜⬜ 60%",
        ),
        (
            "en",
            note(stage=104, extra=True, progress=100),
            "- 쿠버네티스 3.2 오브젝트 · extra D+104 · 🟩🟩🟩🟩🟩🟩🟩🟩🟩🟩 100%",
        ),
        ("en", note(stage=1, progress=15), "- 쿠버네티스 3.2 오브젝트 · D+1 · 🟩⬜⬜⬜⬜⬜⬜⬜⬜⬜ 15%"),
    ],
)
def test_each_note_line_shows_stage_lateness_and_progress(language: str, due: DueNote, line: str):
    assert note_lines(digest([due], language)) == [line]


def test_most_overdue_first_then_by_title():
    due = [
        note(1, "banana", days_late=0),
        note(2, "Apple", days_late=0),
        note(3, "cherry", days_late=5),
        note(4, "date", days_late=1),
    ]
    titles = [line.split(" · ")[0][2:] for line in note_lines(digest(due, "en"))]
    assert titles == ["cherry", "date", "Apple", "banana"]


@pytest.mark.parametrize(
    ("lates", "priority"),
    [([0], 3), ([3], 3), ([0, 3, 1], 3), ([4], 4), ([0, 0, 10], 4)],
)
def test_priority_rises_when_a_note_is_late_by_more_than_overdue_days(lates: list[int], priority: int):
    due = [note(i, f"n{i}", days_late=late) for i, late in enumerate(lates)]
    assert digest(due, overdue_days=3)["priority"] == priority


@pytest.mark.parametrize(
    ("title", "escaped"),
    [
        ("*중요* [링크](x) `code` a_b", r"\*중요\* \[링크\](x) \`code\` a\_b"),
        ("# 제목처럼 보이는 노트", r"\# 제목처럼 보이는 노트"),
        ("1. 목록처럼", r"1\. 목록처럼"),
        ("- 대시로 시작", r"\- 대시로 시작"),
        ("> 인용", r"\> 인용"),
        ("<b>html</b>", r"\<b\>html\</b\>"),
        ("C# 3.2 - 오브젝트. Q&A!", "C# 3.2 - 오브젝트. Q&A!"),  # nothing that renders: left alone
    ],
)
def test_titles_are_markdown_escaped_only_where_it_matters(title: str, escaped: str):
    assert escape_markdown(title) == escaped
    assert note_lines(digest([note(1, title)], "en"))[0].startswith(f"- {escaped} · ")


def test_multi_line_and_empty_titles_stay_on_one_line():
    message = digest([note(1, "첫 줄\n둘째 줄\t끝"), note(2, "  ")])
    assert [line.split(" · ")[0] for line in note_lines(message)] == ["- (제목 없음)", "- 첫 줄 둘째 줄 끝"]


# --- limits ----------------------------------------------------------------------------------------------------

TITLES = {
    "short": lambda i: f"노트 {i}",
    "500 chars": lambda i: f"{i} " + "긴제목😀" * 125,
    "500 backslashes": lambda i: f"{i}" + "\\" * 500,  # doubled by Markdown, doubled again by JSON
    "500 quotes": lambda i: f"{i}" + '"' * 500,
    "500 with control chars": lambda i: f"{i}\x01\x1b[31m" + "가\x00" * 250,
}


@pytest.mark.parametrize("language", ["ko", "en"])
@pytest.mark.parametrize("title_kind", list(TITLES))
@pytest.mark.parametrize("count", [1, 3, 50, 2000])
def test_digest_fits_ntfy_limits_for_any_number_of_notes(count: int, title_kind: str, language: str):
    due = [note(i, TITLES[title_kind](i), days_late=i % 7) for i in range(count)]
    message = digest(due, language)

    # ntfy's own numbers: a text reaching 4096 bytes becomes an attachment, a body reaching 8192 is refused.
    assert len(message["message"].encode("utf-8")) < 4096
    assert len(encode_message(message)) < 8192
    validate_message(message)
    shown = note_lines(message)
    assert shown, "at least one note is always listed"
    rest = count - len(shown)
    last = message["message"].split("\n")[-1]
    if rest:
        assert last == (f"외 {rest}개" if language == "ko" else f"… and {rest} more")
        assert message["message"].split("\n")[-2] == ""  # a paragraph of its own, not part of the last item
    else:
        assert last.startswith("- ")
    for line in shown:
        title = line[2:].split(" · ")[0].replace("\\", "")
        assert "\x00" not in title and "\x1b" not in title
        if title_kind != "500 backslashes":
            assert len(title) <= TITLE_MAX
        if title_kind != "short":
            assert title.endswith("…")


def test_a_digest_that_would_be_exactly_4096_bytes_drops_a_note(ntfy_server: FakeNtfy):
    # 27 notes whose lines add up to exactly 4096 bytes: ntfy would turn that into "You received a file".
    due = [note(i, f"노트 {i:02d} " + "가" * 29) for i in range(27)]
    full = "\n".join(note_lines(digest([n]))[0] for n in due)
    pad = 4096 - len(full.encode("utf-8"))  # 20 ASCII bytes, within the title length limit
    due[-1] = note(26, due[-1].title + "a" * pad)
    untrimmed = "\n".join(note_lines(digest([n]))[0] for n in due)
    assert len(untrimmed.encode("utf-8")) == 4096
    message = digest(due)
    assert len(message["message"].encode("utf-8")) < 4096
    assert len(note_lines(message)) < 27
    assert message["message"].endswith(f"외 {27 - len(note_lines(message))}개")
    with NtfyClient(ntfy_server.url) as client:
        client.publish(message)
    [stored] = ntfy_server.messages()
    assert "attachment" not in stored and stored["message"] == message["message"].strip()


def test_a_digest_whose_json_would_be_exactly_8192_bytes_drops_a_note():
    # Backslashes and quotes double in JSON: the body limit cuts before the text limit.
    due = [note(i, f"{i:02d}" + '"' * 90) for i in range(40)]
    message = digest(due)
    assert len(encode_message(message)) < 8192
    shown = len(note_lines(message))
    more = digest(due[: shown + 1])
    assert len(note_lines(more)) == shown  # one more note would not have fitted
    validate_message(message)


def test_long_signed_action_urls_leave_less_room_and_the_json_limit_still_holds():
    buttons = [{**DONE, "url": "https://r.example/a/" + "s" * 1800, "label": f"b{i}"} for i in range(3)]
    message = digest([note(i, f"노트 {i}", days_late=1) for i in range(2000)], listed_actions=lambda _: buttons)
    assert len(encode_message(message)) <= JSON_BODY_LIMIT
    assert [a["url"] for a in message["actions"]] == [b["url"] for b in buttons]
    shown = note_lines(message)
    assert message["message"].endswith(f"외 {2000 - len(shown)}개")
    # The JSON body, not the 4096-byte text limit, is what cut the list here.
    assert len(message["message"].encode("utf-8")) < MESSAGE_LIMIT - 1000


def test_control_characters_never_reach_the_phone():
    [line] = note_lines(digest([note(1, "a\x00b\x1bc\x7f\x85d 👩\u200d💻")]))
    assert line.startswith("- a b c d 👩\u200d💻 · ")  # the emoji's zero-width joiner is kept


def test_short_digest_lists_every_note_and_big_one_keeps_the_most_overdue():
    assert len(note_lines(digest([note(i, f"n{i}") for i in range(50)]))) == 50
    due = [note(i, f"노트 {i:04}", days_late=1 if i < 1990 else 9) for i in range(2000)]
    shown = note_lines(digest(due))
    assert all("9일 지남" in line for line in shown[:10])


# --- click, view button, actions -------------------------------------------------------------------------------


def test_single_note_with_a_link_opens_it_on_tap_and_has_an_open_button():
    ko = digest([note(link=LINK)], "ko")
    en = digest([note(link=LINK)], "en")
    assert ko["click"] == en["click"] == LINK
    assert ko["actions"] == [{"action": "view", "label": "열기", "url": LINK}]
    assert en["actions"] == [{"action": "view", "label": "Open", "url": LINK}]


@pytest.mark.parametrize(
    "due",
    [[note(link=None)], [note(1, "a", link=LINK), note(2, "b", link=LINK + "2")]],
    ids=["single-without-link", "several-with-links"],
)
def test_no_click_and_no_open_button_unless_exactly_one_linked_note(due: list[DueNote]):
    message = digest(due)
    assert "click" not in message
    assert "actions" not in message


@pytest.mark.parametrize(
    ("extra", "labels"),
    [
        ([], ["열기"]),
        ([DONE], ["열기", "완료"]),
        ([DONE, SNOOZE], ["열기", "완료", "내일"]),
        ([DONE, SNOOZE, SKIP], ["완료", "내일", "건너뛰기"]),  # the open button goes first
    ],
)
def test_caller_actions_take_precedence_and_the_total_stays_at_three(extra: list[dict], labels: list[str]):
    message = digest([note(link=LINK)], listed_actions=lambda _: extra)
    assert [a["label"] for a in message["actions"]] == labels
    assert message["click"] == LINK  # tapping still opens the note


def test_more_than_three_caller_actions_is_a_programming_error():
    with pytest.raises(ValueError, match="at most 3"):
        digest([note(link=LINK)], listed_actions=lambda _: [DONE, SNOOZE, SKIP, DONE])


def test_a_huge_link_is_dropped_rather_than_the_notes():
    message = digest([note(link="obsidian://open?file=" + "x" * 9000)])
    assert "click" not in message and "actions" not in message
    assert len(note_lines(message)) == 1
    assert len(encode_message(message)) <= JSON_BODY_LIMIT


# --- edges and the test message --------------------------------------------------------------------------------


def test_nothing_due_is_an_error_not_an_empty_notification():
    with pytest.raises(ValueError, match="nothing is due"):
        digest([])


def test_invalid_topic_is_refused_while_building():
    with pytest.raises(ValueError, match="reserved"):
        digest([note()], topic="v1")


@pytest.mark.parametrize(("language", "word"), [("ko", "테스트"), ("en", "test")])
def test_test_message_is_valid_in_both_languages(language: str, word: str):
    message = build_test_message(TOPIC, language)
    validate_message(message)
    assert word in message["title"]
    assert message["topic"] == TOPIC


# --- end to end: a 2000-note digest through a real ntfy-compatible server --------------------------------------


def test_a_2000_note_digest_is_accepted_and_reads_back_intact(ntfy_server: FakeNtfy):
    due = [note(i, f"{i} " + "긴제목😀" * 125, days_late=i % 9, link=LINK) for i in range(2000)]
    message = digest(due, "ko")
    with NtfyClient(ntfy_server.url) as client:
        result = client.publish(message)
        [back] = client.poll(TOPIC)
    assert back["id"] == result.id
    assert back["title"] == "📚 오늘 복습 2000개 · 7월 12일 (금)"
    assert back["message"] == message["message"]
    assert back["priority"] == 4
    assert back["content_type"] == "text/markdown"
    assert back["message"].endswith(f"외 {2000 - len(note_lines(message))}개")
