"""The review schedule: pure rules, no I/O and no clock. ``today`` is always a parameter.

Rules (see the README, "How reviews come due"):
- a stage is an absolute offset in days from the first-study date: due(stage N) = first_studied_on + N days;
- a note is due on day D when a stage due on or before D is not done; one review covers every due stage;
- after the last stage, a note not marked long-term comes back for an extra review at last + k * every days
  (k = 1, 2, ...), absolute from the first-study date like the stages, until it is marked long-term;
- progress: interval reviews are worth 60 %, long-term memory the other 40 %.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from reminder.i18n import catalogue

STAGES_WEIGHT = 60
LONG_TERM_WEIGHT = 40
BAR_SQUARES = 10
FILLED, EMPTY = "🟩", "⬜"


def due_date(first_studied_on: date, offset_days: int) -> date:
    return first_studied_on + timedelta(days=offset_days)


def first_extra_offset(ladder: Sequence[int], extra_every: int) -> int:
    return ladder[-1] + extra_every


def next_extra_offset(first_studied_on: date, ladder: Sequence[int], extra_every: int, after: date) -> int:
    """The first extra-review offset whose due date falls after ``after`` (the day a review was done)."""
    last = ladder[-1]
    elapsed = (after - first_studied_on).days - last
    k = max(1, elapsed // extra_every + 1)
    return last + k * extra_every


def latest_extra_offset(first_studied_on: date, ladder: Sequence[int], extra_every: int, today: date) -> int | None:
    """The most recent extra-review offset due on or before ``today``; None before the first one."""
    last = ladder[-1]
    elapsed = (today - first_studied_on).days - last
    if elapsed < extra_every:
        return None
    return last + (elapsed // extra_every) * extra_every


# Cached: `list` asks for every note, and notes share a few (stages done, ladder length) pairs.
@functools.lru_cache(maxsize=1024)
def progress(done_stages: int, total_stages: int, long_term: bool) -> int:
    """Percent 0-100: the ladder is worth 60 %, long-term memory 40 %."""
    if total_stages <= 0:
        raise ValueError("a ladder has at least one stage")
    done_stages = min(max(done_stages, 0), total_stages)
    value = STAGES_WEIGHT * done_stages / total_stages + (LONG_TERM_WEIGHT if long_term else 0)
    return int(value + 0.5)


@functools.lru_cache(maxsize=128)
def progress_bar(percent: int) -> str:
    """Ten squares and the percentage, as the learner's template draws it: 🟩🟩🟩🟩🟩🟩⬜⬜⬜⬜ 60%."""
    percent = min(max(percent, 0), 100)
    filled = percent * BAR_SQUARES // 100
    return FILLED * filled + EMPTY * (BAR_SQUARES - filled) + f" {percent}%"


@dataclass(frozen=True)
class Review:
    """One review slot of a note: a ladder stage, or the pending extra review after the ladder."""

    offset: int
    extra: bool
    due_on: date
    done_on: date | None = None


@dataclass(frozen=True)
class DueNote:
    """What a learner needs to know about a note that is due: the latest due stage and how late it is."""

    note_id: int
    title: str
    link: str | None
    stage: int  # offset in days of the latest due stage: D+4, or D+104 for an extra review
    extra: bool
    due_on: date
    days_late: int
    progress: int


def plan_reviews(
    first_studied_on: date,
    ladder: Sequence[int],
    extra_every: int,
    *,
    long_term: bool = False,
    done_extra: Collection[int] = (),
    after: date | None = None,
    scheduled: date | None = None,
) -> list[Review]:
    """The review rows a note's ladder, extra reviews and first-study date make: one per ladder stage, then the
    pending extra review after the ladder (none once the note is in long-term memory). Every place that creates
    review rows takes them from here: `add`, `done`, `undo`, `edit`, a scheduler switch and the vault sync.

    The extra review is the first after the ladder, or with ``after`` (the day of the last extra review) the
    first due after that day; and always past every extra review already done (``done_extra``, their offsets),
    since a note has one extra row per offset. A note on a scheduler (FSRS, SR) has every row due on the day it
    set, ``scheduled``, the extra one's offset being the days from the first study to that day (the next one no
    done extra review has).

    First studied 2024-07-07, ladder 1, 4, 7, 14, an extra review every 30 days: D+1 is due 2024-07-08, D+4
    2024-07-11, D+7 2024-07-14, D+14 2024-07-21 and the extra D+44 2024-08-20; with D+44 and D+74 done, the extra
    review is D+104, due 2024-10-19; on FSRS due 2024-09-01, every row is due then and the extra one is D+56:

    >>> [(r.offset, r.extra, r.due_on.isoformat()) for r in plan_reviews(date(2024, 7, 7), (1, 4, 7, 14), 30)][3:]
    [(14, False, '2024-07-21'), (44, True, '2024-08-20')]
    >>> plan_reviews(date(2024, 7, 7), (1, 4, 7, 14), 30, done_extra={44, 74})[-1]
    Review(offset=104, extra=True, due_on=datetime.date(2024, 10, 19), done_on=None)
    >>> plan_reviews(date(2024, 7, 7), (1, 4, 7, 14), 30, scheduled=date(2024, 9, 1))[-1]
    Review(offset=56, extra=True, due_on=datetime.date(2024, 9, 1), done_on=None)
    """
    if scheduled is not None:
        rows = [Review(offset, False, scheduled) for offset in ladder]
        offset = max((scheduled - first_studied_on).days, 1)
        while offset in done_extra:
            offset += 1
        extra = Review(offset, True, scheduled)
    else:
        rows = [Review(offset, False, due_date(first_studied_on, offset)) for offset in ladder]
        if after is None:
            offset = first_extra_offset(ladder, extra_every)
        else:
            offset = next_extra_offset(first_studied_on, ladder, extra_every, after)
        if done_extra:
            offset = max(offset, max(done_extra) + extra_every)
        extra = Review(offset, True, due_date(first_studied_on, offset))
    return rows if long_term else [*rows, extra]


def summarise_due(
    first_studied_on: date,
    ladder: Sequence[int],
    extra_every: int,
    pending: Iterable[Review],
    today: date,
) -> tuple[int, bool, date] | None:
    """From a note's pending reviews: (stage offset, is_extra, due date) of the latest one due by ``today``.

    A ladder stage still open is what the learner is behind on, so it is shown before any extra review (one
    review covers both). A pending extra review stands for every extra occurrence up to today, so its latest
    occurrence is shown: the seed note, first studied 2024-07-07 with its ladder done, is on 2024-10-27 due for
    the D+104 extra review, 8 days late.
    """
    stages = [r for r in pending if r.done_on is None and r.due_on <= today]
    ladder_due = [r for r in stages if not r.extra]
    if ladder_due:
        latest = max(ladder_due, key=lambda r: r.due_on)
        return latest.offset, False, latest.due_on
    extra_due = [r for r in stages if r.extra]
    if not extra_due:
        return None
    offset = max(r.offset for r in extra_due)
    offset = max(offset, latest_extra_offset(first_studied_on, ladder, extra_every, today) or offset)
    return offset, True, due_date(first_studied_on, offset)


# Cached: `list` names a stage for every note, and notes share a few hundred (its catalogue is fixed per language).
@functools.lru_cache(maxsize=4096)
def stage_label(offset: int, extra: bool, language: str = "en") -> str:
    if extra:
        return catalogue(language).gettext("extra D+{offset}").format(offset=offset)
    return f"D+{offset}"


def urgency_key(note: DueNote, recall: Mapping[int, float] | None = None) -> tuple[int, float, str, int]:
    """The order in which due notes are listed and, under a daily limit, chosen: most overdue first, then the
    lowest predicted recall (``recall``: note id -> probability, for the notes whose scheduler predicts one; the
    others count as 1, nothing known to be slipping), then by title and id, so every run chooses the same notes.
    """
    predicted = recall.get(note.note_id, 1.0) if recall else 1.0
    return (-note.days_late, predicted, note.title.casefold(), note.note_id)


def apply_daily_limit(
    due: Sequence[DueNote], limit: int | None, recall: Mapping[int, float] | None = None
) -> tuple[list[DueNote], int]:
    """The ``limit`` most urgent of ``due`` and how many wait for a later day; no limit lists them all."""
    ordered = sorted(due, key=lambda n: urgency_key(n, recall))
    if limit is None or len(ordered) <= max(limit, 0):
        return ordered, 0
    limit = max(limit, 0)
    return ordered[:limit], len(ordered) - limit


def summarise_scheduled(pending: Iterable[Review], today: date) -> tuple[int, bool, date] | None:
    """The same as summarise_due for a note whose next day comes from its scheduler (FSRS, the SR plugin): every
    pending review carries that day, and the one shown is the next flag to tick (the first open stage, then the
    occurrence after the ladder, its offset the days from the first study to its due date)."""
    due = sorted((r for r in pending if r.done_on is None and r.due_on <= today), key=lambda r: (r.extra, r.offset))
    if not due:
        return None
    return due[0].offset, due[0].extra, due[0].due_on
