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
from sqlalchemy.orm import Session, selectinload

from reminder import schedule, stats
from reminder.config import parse_ladder
from reminder.db.models import Note, Review
from reminder.stats import NoteHistory, ReviewEvent


def read_notes(session: Session) -> list[NoteHistory]:
    stmt = select(Note).options(selectinload(Note.reviews)).order_by(Note.id)
    return [
        NoteHistory(
            id=note.id,
            title=note.title,
            subject=note.subject,
            first_studied_on=note.first_studied_on,
            ladder=parse_ladder(note.ladder),
            long_term_on=note.long_term_on,
            snoozed_until=note.snoozed_until,
            archived=note.archived_at is not None,
            reviews=tuple(schedule.Review(r.offset, r.extra, r.due_on, r.done_on) for r in note.reviews),
        )
        for note in session.scalars(stmt)
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


def read_stats(session: Session, today: date, extra_every: int, *, daily_limit: int | None = None) -> stats.Stats:
    """Everything `reminder stats`, the stats page and the weekly summary show, for ``today``."""
    return stats.compute(
        read_notes(session),
        read_events(session, stats.events_since(today)),
        today,
        extra_every,
        daily_limit=daily_limit,
    )
