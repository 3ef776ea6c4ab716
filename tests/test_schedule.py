"""The review rules, table-driven, with the learner's own note among the cases."""

from __future__ import annotations

from datetime import date

import pytest

from reminder import schedule
from reminder.schedule import Review

SEED_FIRST = date(2024, 7, 7)
LADDER = (1, 4, 7, 14)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(1, date(2024, 7, 8)), (4, date(2024, 7, 11)), (7, date(2024, 7, 14)), (14, date(2024, 7, 21))],
)
def test_seed_stage_dates(offset: int, expected: date) -> None:
    assert schedule.due_date(SEED_FIRST, offset) == expected


@pytest.mark.parametrize(
    ("done", "long_term", "percent", "bar"),
    [
        (4, False, 60, "🟩🟩🟩🟩🟩🟩⬜⬜⬜⬜ 60%"),  # the seed note: all four stages, not long-term
        (4, True, 100, "🟩🟩🟩🟩🟩🟩🟩🟩🟩🟩 100%"),
        (0, False, 0, "⬜⬜⬜⬜⬜⬜⬜⬜⬜⬜ 0%"),
        (3, False, 45, "🟩🟩🟩🟩⬜⬜⬜⬜⬜⬜ 45%"),  # the 14-day flag counts (the template's formula dropped it)
        (1, False, 15, "🟩⬜⬜⬜⬜⬜⬜⬜⬜⬜ 15%"),
        (0, True, 40, "🟩🟩🟩🟩⬜⬜⬜⬜⬜⬜ 40%"),
    ],
)
def test_progress_and_bar(done: int, long_term: bool, percent: int, bar: str) -> None:
    assert schedule.progress(done, len(LADDER), long_term) == percent
    assert schedule.progress_bar(percent) == bar


def test_progress_rounds_on_odd_ladders() -> None:
    assert schedule.progress(1, 3, False) == 20
    assert schedule.progress(2, 3, True) == 80
    with pytest.raises(ValueError):
        schedule.progress(0, 0, False)


def _pending(first: date, ladder: tuple[int, ...], done: set[int], extra_every: int = 30) -> list[Review]:
    reviews = [Review(o, False, schedule.due_date(first, o), date(2000, 1, 1) if o in done else None) for o in ladder]
    extra = schedule.first_extra_offset(ladder, extra_every)
    reviews.append(Review(extra, True, schedule.due_date(first, extra)))
    return reviews


@pytest.mark.parametrize(
    ("today", "done", "expected"),
    [
        (date(2024, 7, 7), set(), None),  # studied today: nothing due yet
        (date(2024, 7, 8), set(), (1, False, date(2024, 7, 8))),
        # a fresh note on 07-12 is due at stage 4; stage 1, overdue, is covered by the same review
        (date(2024, 7, 12), set(), (4, False, date(2024, 7, 11))),
        (date(2024, 7, 12), {1, 4}, None),
        (date(2024, 7, 21), {1, 4, 7}, (14, False, date(2024, 7, 21))),
        (date(2024, 8, 19), {1, 4, 7, 14}, None),  # day 43: the first extra review is day 44
        (date(2024, 8, 20), {1, 4, 7, 14}, (44, True, date(2024, 8, 20))),
        # the seed note on 2024-10-27 (day 112): due for an extra review, the D+104 one
        (date(2024, 10, 27), {1, 4, 7, 14}, (104, True, date(2024, 10, 19))),
        # an open ladder stage is shown before any extra review
        (date(2024, 10, 27), {1, 4, 7}, (14, False, date(2024, 7, 21))),
    ],
)
def test_summarise_due(today: date, done: set[int], expected: tuple[int, bool, date] | None) -> None:
    assert schedule.summarise_due(SEED_FIRST, LADDER, 30, _pending(SEED_FIRST, LADDER, done), today) == expected


@pytest.mark.parametrize(
    ("after", "every", "expected"),
    [
        (date(2024, 8, 20), 30, 74),  # extra review done on its day: the next is 30 days on
        (date(2024, 10, 27), 30, 134),  # done on day 112: next absolute slot after it
        (date(2024, 7, 25), 30, 44),  # done before the first extra slot
        (date(2024, 10, 27), 7, 119),
    ],
)
def test_next_extra_offset(after: date, every: int, expected: int) -> None:
    assert schedule.next_extra_offset(SEED_FIRST, LADDER, every, after) == expected
    assert schedule.due_date(SEED_FIRST, expected) > after


@pytest.mark.parametrize(("language", "extra", "label"), [("en", False, "D+4"), ("ko", True, "추가 D+104")])
def test_stage_label(language: str, extra: bool, label: str) -> None:
    assert schedule.stage_label(4 if not extra else 104, extra, language) == label


def test_plan_reviews_worked_examples_hold() -> None:
    import doctest

    assert doctest.testmod(schedule).failed == 0


def test_plan_reviews_follows_the_ladder_and_what_is_done() -> None:
    plan_reviews = schedule.plan_reviews
    first = date(2024, 7, 7)
    rows = plan_reviews(first, (1, 4, 7, 14), 30)
    assert [(r.offset, r.extra) for r in rows] == [(1, False), (4, False), (7, False), (14, False), (44, True)]
    assert [r.extra for r in plan_reviews(first, (1, 4, 7, 14), 30, long_term=True)] == [False] * 4
    # After an extra review at D+80 the next is D+104, and never one already done.
    assert plan_reviews(first, (1, 4, 7, 14), 30, after=date(2024, 9, 25))[-1].offset == 104
    assert plan_reviews(first, (1, 4, 7, 14), 30, done_extra={104}, after=date(2024, 9, 25))[-1].offset == 134
    # On a scheduler the extra row takes the next offset no done extra review has.
    assert plan_reviews(first, (1, 4, 7, 14), 30, done_extra={56}, scheduled=date(2024, 9, 1))[-1].offset == 57
