"""Due notes -> one ntfy JSON message per slot. Pure: no I/O, no clock.

One digest per slot rather than one notification per note: the public ntfy server allows an anonymous visitor
250 messages a day, and a phone full of separate review notifications is noise. The digest always fits ntfy's
limits (4096 bytes of message text, 8192 bytes of JSON body), however many notes are due and however long their
titles: the most overdue notes are listed, the rest are counted on a last "외 N개" / "… and N more" line.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any

from reminder.ntfy import JSON_BODY_LIMIT, MAX_ACTIONS, MESSAGE_LIMIT, encode_message, validate_message
from reminder.schedule import DueNote, progress_bar, stage_label
from reminder.texts import LANGUAGES, format_day, t

TITLE_MAX = 80  # characters of a note title in a digest line; longer ones end with "…"

_MD_INLINE = re.compile(r"([\\`*_\[\]<>~|])")
# Constructs that only mean something at the start of a list item's text: heading, quote, nested list.
_MD_LEADING = re.compile(r"^(?:(#{1,6})(?=\s|$)|(>)|([-+])(?=\s|$)|\d{1,9}([.)])(?=\s|$))")


def escape_markdown(text: str) -> str:
    """Escape what would change how a title renders, and nothing else: the Android app shows the raw text in
    the collapsed notification, where every needless backslash would be visible."""
    text = _MD_INLINE.sub(r"\\\1", text)
    match = _MD_LEADING.match(text)
    if match:
        marker = next(i for i in range(1, 5) if match.group(i))
        pos = match.start(marker)
        text = text[:pos] + "\\" + text[pos:]
    return text


def _clean_title(title: str, language: str) -> str:
    # Control characters show as boxes on the phone (and cost 6 bytes each as JSON \uXXXX escapes).
    title = " ".join("".join(" " if unicodedata.category(c) == "Cc" else c for c in title).split())
    if not title:
        return t(language, "untitled")
    if len(title) > TITLE_MAX:
        title = title[: TITLE_MAX - 1].rstrip() + "…"
    return title


def digest_title(count: int, language: str, waiting: int = 0) -> str:
    """The notification's title; ``waiting`` counts the due reviews a daily limit holds for a later day."""
    return t(language, "digest_title", n=count) + (t(language, "waiting", n=waiting) if waiting else "")


def dated_title(title: str, day: date, language: str) -> str:
    """A digest's title with the day it is for, as the pages write it (``12월 1일 (화)``): a notification read
    late, or the next morning, still says which day's reviews it lists."""
    return t(language, "digest_dated", title=title, day=format_day(day, language))


def worth_a_digest(due: Sequence[DueNote], min_due: int, overdue_days: int) -> bool:
    """Whether a slot's due reviews are worth a notification: at least ``min_due`` of them, or one more than
    ``overdue_days`` late (a review left that long is not held back for company)."""
    return len(due) >= min_due or any(n.days_late > overdue_days for n in due)


def late_label(days_late: int, language: str) -> str:
    return t(language, "digest_late", n=days_late)


def more_line(count: int, language: str) -> str:
    return t(language, "digest_more", n=count)


def note_line(note: DueNote, language: str) -> str:
    parts = [escape_markdown(_clean_title(note.title, language)), stage_label(note.stage, note.extra, language)]
    if note.days_late > 0:
        parts.append(late_label(note.days_late, language))
    parts.append(progress_bar(note.progress))
    return "- " + " · ".join(parts)


class _Lines(Sequence[str]):
    """The notes' lines, each built the first time it is read: a digest of a thousand due notes shows a few dozen
    of them, and building the rest cost more than the rest of the digest."""

    def __init__(self, notes: Sequence[DueNote], language: str, made: dict[int, str] | None = None) -> None:
        self.notes, self.language = notes, language
        self.made = made if made is not None else {}  # id(note) -> its line, shared with the slices

    def __len__(self) -> int:
        return len(self.notes)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return _Lines(self.notes[index], self.language, self.made)
        note = self.notes[index]
        line = self.made.get(id(note))
        if line is None:
            line = self.made[id(note)] = note_line(note, self.language)
        return line

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(len(self.notes)))


def _json_len(text: str) -> int:
    """Bytes ``text`` adds inside a JSON string, as encode_message writes it."""
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8")) - 2


_LINE_SEP = "\n"
# A paragraph right after a list item would continue the item, so the count line needs a blank line before it.
_MORE_SEP = "\n\n"


def _fit_body(lines: Sequence[str], language: str, json_room: int, total: int) -> tuple[str, int] | None:
    """As many of ``lines`` as fit both limits, then the count of the rest of ``total`` notes; with how many
    lines were kept. None if not even one line fits."""
    if len(lines) == total and _all_fit(lines, json_room):
        return _LINE_SEP.join(lines), total
    # Reserve room for the count line at its largest (as if every note were left out); the real one is shorter.
    reserve = more_line(total, language)
    text_budget = MESSAGE_LIMIT - len((_MORE_SEP + reserve).encode("utf-8"))
    json_budget = json_room - _json_len(_MORE_SEP + reserve)
    kept: list[str] = []
    text_size = json_size = 0
    for line in lines:
        add_text = len(line.encode("utf-8")) + (len(_LINE_SEP) if kept else 0)
        add_json = _json_len(line) + (_json_len(_LINE_SEP) if kept else 0)
        if text_size + add_text > text_budget or json_size + add_json > json_budget:
            break
        kept.append(line)
        text_size += add_text
        json_size += add_json
    if not kept:
        return None
    return _LINE_SEP.join(kept) + _MORE_SEP + more_line(total - len(kept), language), len(kept)


def _all_fit(lines: Sequence[str], json_room: int) -> bool:
    """Whether every line fits both limits, read only until the sizes pass one (they only grow)."""
    text_size = json_size = 0
    for n, line in enumerate(lines):
        text_size += len(line.encode("utf-8")) + (len(_LINE_SEP) if n else 0)
        json_size += _json_len(line) + (_json_len(_LINE_SEP) if n else 0)
        if text_size > MESSAGE_LIMIT or json_size > json_room:
            return False
    return True


def build_digest(
    due: Sequence[DueNote],
    *,
    day: date,
    topic: str,
    language: str,
    priority: int,
    overdue_priority: int,
    overdue_days: int,
    tags: Sequence[str],
    listed_actions: Callable[[Sequence[DueNote]], list[dict[str, Any]]] | None = None,
    click: Callable[[Sequence[DueNote]], str] | None = None,
    waiting: int = 0,
    title: str | None = None,
) -> dict[str, Any]:
    """The one ntfy JSON message for the notes due in a slot on ``day`` (``waiting``: more held back by a daily
    limit).

    ``listed_actions(notes)`` gives buttons that act on the notes the message lists: when not every note fits,
    they are asked again for the notes that do, so a "done" button never marks a note the learner did not see.
    ``title`` replaces the digest's title (the nudge lists the same way under its own).
    With a single note that has a link, the notification opens it on tap and gets an "열기"/"Open" button;
    that view button is the first to go when the caller's buttons already use ntfy's three. ``click(notes)``,
    when given, is where a tap leads instead (the service's review or today's page).
    """
    if not due:
        raise ValueError("nothing is due: there is no digest to send")
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r} (ko or en)")
    notes = sorted(due, key=lambda n: (-n.days_late, n.title.casefold(), n.note_id))
    count = len(notes)
    single = notes[0] if count == 1 else None
    late = any(n.days_late > overdue_days for n in notes)
    base: dict[str, Any] = {
        "topic": topic,
        "title": dated_title(title or digest_title(count, language, waiting), day, language),
        "message": "",
        "priority": overdue_priority if late else priority,
        "tags": list(tags),
        "markdown": True,
    }
    lines = _Lines(notes, language)
    limit = count
    while True:
        buttons = [dict(a) for a in listed_actions(notes[:limit])] if listed_actions is not None else []
        if len(buttons) > MAX_ACTIONS:
            raise ValueError(f"{len(buttons)} action buttons asked for; ntfy allows at most {MAX_ACTIONS}")
        tap = click(notes[:limit]) if click is not None else None
        message, kept = _compose(base, lines[:limit], count, buttons, single, language, tap)
        if listed_actions is None or kept == limit:
            return message
        # Fewer notes fit than the buttons named: name just those. Shorter buttons leave at least as much room,
        # and ``limit`` shrinks each round, so this ends.
        limit = kept


def _compose(
    base: dict[str, Any],
    lines: Sequence[str],
    total: int,
    buttons: list[dict[str, Any]],
    single: DueNote | None,
    language: str,
    tap: str | None = None,
) -> tuple[dict[str, Any], int]:
    link = single.link if single is not None and single.link else None
    # Without the link as a fallback: a huge link must not leave the digest without a single note line.
    for use_link in (True, False) if link else (False,):
        message = dict(base)
        shown = list(buttons)
        if use_link:
            message["click"] = link
            if len(shown) < MAX_ACTIONS:
                shown.insert(0, {"action": "view", "label": t(language, "digest_open"), "url": link})
        if tap is not None:
            message["click"] = tap
        if shown:
            message["actions"] = shown
        fitted = _fit_body(lines, language, JSON_BODY_LIMIT - len(encode_message(message)), total)
        if fitted is not None:
            message["message"], kept = fitted
            validate_message(message)
            return message, kept
    raise ValueError("the caller's action buttons leave no room in the message for a single note")


def nudge_title(count: int, language: str) -> str:
    return t(language, "nudge_title", n=count)


def build_summary(
    *,
    topic: str,
    language: str,
    tags: Sequence[str],
    done_this_week: int,
    recall: float | None,
    streak: int,
    next_week: int,
    stats_url: str | None = None,
) -> dict[str, Any]:
    """The weekly summary: reviews done in the last 7 days, recall (30 days), streak, the next 7 days' load, and
    a button to the stats page when there is one. Low priority: nothing in it needs doing now."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r} (ko or en)")
    shown = t(language, "no_recall") if recall is None else f"{round(recall * 100)}%"
    lines = [
        t(language, "summary_done", n=done_this_week),
        t(language, "summary_recall", recall=shown),
        t(language, "summary_streak", n=streak),
        t(language, "summary_next", n=next_week),
    ]
    message: dict[str, Any] = {
        "topic": topic,
        "title": t(language, "summary_title"),
        "message": "\n".join(lines),
        "priority": 2,
        "tags": list(tags),
    }
    if stats_url:
        message["actions"] = [{"action": "view", "label": t(language, "button_stats"), "url": stats_url}]
        message["click"] = stats_url
    validate_message(message)
    return message


def build_test_message(topic: str, language: str) -> dict[str, Any]:
    """What `reminder notify test` sends: proof that the server, topic and credentials reach the phone."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r} (ko or en)")
    title, text = t(language, "test_title"), t(language, "test_text")
    message = {"topic": topic, "title": title, "message": text, "priority": 3, "tags": ["white_check_mark"]}
    validate_message(message)
    return message
