"""Reading the review history out of the store, as plain rows for reminder.stats.

Two readers: ``read_notes`` (every note with its review slots, done and pending: what the forecast, the streak
and the subjects are computed from) and ``read_events`` (one row per review the learner did: what the history
chart and the recall are computed from). The statistics never see a Session, so they are tested on made-up rows.

Today the store keeps only the day a stage was done (``reviews.done_on``), so ``read_events`` derives one review
per note and day from it, without a rating. It is the one function to change when rated review events are
stored: the statistics already take the rating into account.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminder import schedule, stats
from reminder.config import parse_ladder
from reminder.db.models import Note, Review
from reminder.stats import NoteHistory, ReviewEvent


def read_notes(session: Session) -> list[NoteHistory]:
    """Every note with its review slots. Plain rows rather than ORM objects: the statistics read the whole store,
    and building an object per review costs ten times the query."""
    by_note: dict[int, list[schedule.Review]] = {}
    for note_id, offset, extra, due_on, done_on in session.execute(
        select(Review.note_id, Review.offset, Review.extra, Review.due_on, Review.done_on).order_by(
            Review.note_id, Review.extra, Review.offset
        )
    ):
        by_note.setdefault(note_id, []).append(schedule.Review(offset, bool(extra), due_on, done_on))
    columns = (Note.id, Note.title, Note.subject, Note.first_studied_on, Note.ladder, Note.long_term_on)
    rows = session.execute(select(*columns, Note.snoozed_until, Note.archived_at).order_by(Note.id))
    ladders: dict[str, tuple[int, ...]] = {}
    return [
        NoteHistory(
            id=note_id,
            title=title,
            subject=subject,
            first_studied_on=first,
            ladder=ladders.setdefault(ladder, parse_ladder(ladder)),
            long_term_on=long_term_on,
            snoozed_until=snoozed_until,
            archived=archived_at is not None,
            reviews=tuple(by_note.get(note_id, ())),
        )
        for note_id, title, subject, first, ladder, long_term_on, snoozed_until, archived_at in rows
    ]


def read_events(session: Session, since: date) -> list[ReviewEvent]:
    """The reviews done on or after ``since``, oldest first.

    One `done` covers every stage due that day, so the stages done on one day count as one review of the note.
    """
    rows = session.execute(
        select(Review.note_id, Review.done_on)
        .where(Review.done_on.is_not(None), Review.done_on >= since)
        .distinct()
        .order_by(Review.done_on, Review.note_id)
    )
    return [ReviewEvent(note_id, day) for note_id, day in rows]


def daily_allowance(session: Session, day: date, limit: int | None) -> int | None:
    """How many more reviews a daily limit allows on ``day``: the limit less the notes already reviewed that day
    (from the CLI, the phone or the vault); None without a limit."""
    if limit is None:
        return None
    reviewed = {e.note_id for e in read_events(session, day) if e.day == day}
    return max(0, limit - len(reviewed))


def read_stats(session: Session, today: date, extra_every: int, *, daily_limit: int | None = None) -> stats.Stats:
    """Everything `reminder stats`, the stats page and the weekly summary show, for ``today``."""
    return stats.compute(
        read_notes(session),
        read_events(session, stats.events_since(today)),
        today,
        extra_every,
        daily_limit=daily_limit,
    )
