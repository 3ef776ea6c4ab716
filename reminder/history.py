"""Reading the review history out of the store, as plain rows for reminder.stats.

Readers: ``read_summary`` (what the forecast, the streak and the subjects are computed from: the notes with open
reviews, and per-day and per-group counts summed up in SQL, so that the statistics of a large store do not read
every note), ``read_notes`` (every note with its review slots, done and pending, and its scheduler: the same
summary in Python, stats.Summary.of) and ``read_events`` (one row per review the learner did, from the review
events: what the history chart and the recall are computed from). The statistics never see a Session, so they are
tested on made-up rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import and_, case, distinct, func, or_, select
from sqlalchemy.orm import Session

from reminder import schedule, schedulers, stats
from reminder.config import stored_ladder
from reminder.db.models import Note, Review
from reminder.db.models import ReviewEvent as EventRow
from reminder.stats import NoteHistory, ReviewEvent


def read_notes(session: Session) -> list[NoteHistory]:
    """Every note with its review slots. Plain rows rather than ORM objects: the statistics read the whole store,
    and building an object per review costs ten times the query."""
    return _histories(session, (), ())


def _histories(session: Session, notes_where: Sequence[Any], reviews_where: Sequence[Any]) -> list[NoteHistory]:
    # Through the connection: plain Core rows, without the ORM's per-row loading (a third of the time here).
    conn = session.connection()
    by_note: dict[int, list[schedule.Review]] = {}
    for note_id, offset, extra, due_on, done_on in conn.execute(
        select(Review.note_id, Review.offset, Review.extra, Review.due_on, Review.done_on)
        .join(Note, Note.id == Review.note_id)
        .where(*notes_where, *reviews_where)
        .order_by(Review.note_id, Review.extra, Review.offset)
    ):
        by_note.setdefault(note_id, []).append(schedule.Review(offset, bool(extra), due_on, done_on))
    columns = (Note.id, Note.title, Note.subject, Note.first_studied_on, Note.ladder, Note.long_term_on)
    rows = conn.execute(
        select(*columns, Note.snoozed_until, Note.archived_at, Note.scheduler, Note.scheduler_state)
        .where(*notes_where)
        .order_by(Note.id)
    )
    return [
        NoteHistory(
            id=note_id,
            title=title,
            subject=subject,
            first_studied_on=first,
            ladder=stored_ladder(ladder),
            long_term_on=long_term_on,
            snoozed_until=snoozed_until,
            archived=archived_at is not None,
            reviews=tuple(by_note.get(note_id, ())),
            scheduler=scheduler or "ladder",
            state=schedulers.decode_state(state) if scheduler not in (None, "ladder") and state else None,
        )
        for note_id, title, subject, first, ladder, long_term_on, snoozed_until, archived_at, scheduler, state in rows
        if not reviews_where or note_id in by_note
    ]


def summary_statements() -> dict[str, Any]:
    """The statistics' per-day and per-group counts (stats.review_spans and stats.subject_groups, in SQL), the
    same on SQLite and PostgreSQL: the store is summed up where it lies instead of read note by note."""
    gets_reminders = (Note.archived_at.is_(None), Note.long_term_on.is_(None))
    # An open review of a snoozed note is due from the end of its snooze.
    due_from = case(
        (
            and_(Review.done_on.is_(None), Note.snoozed_until.is_not(None), Note.snoozed_until > Review.due_on),
            Note.snoozed_until,
        ),
        else_=Review.due_on,
    )
    spans = (
        select(due_from, Review.done_on, func.count())
        .join(Note, Note.id == Review.note_id)
        .where(or_(Review.done_on.is_not(None), and_(*gets_reminders)))
        .group_by(due_from, Review.done_on)
    )
    done = (
        select(func.count())
        .where(Review.note_id == Note.id, Review.extra.is_(False), Review.done_on.is_not(None))
        .scalar_subquery()
    )
    per_note = (
        select(Note.subject, Note.ladder, Note.long_term_on.is_not(None).label("long_term"), done.label("done"))
        .where(Note.archived_at.is_(None))
        .subquery()
    )
    keys = (per_note.c.subject, per_note.c.ladder, per_note.c.long_term, per_note.c.done)
    return {
        "spans": spans,
        "groups": select(*keys, func.count()).group_by(*keys),
        "first_study": select(func.min(Note.first_studied_on)),
        "gets_reminders": gets_reminders,
    }


def read_summary(session: Session) -> stats.Summary:
    """What stats.compute_summary needs (stats.Summary.of every note, without reading every note): the notes
    with open reviews that get reminders, with just those reviews, and the counts SQL sums up."""
    q = summary_statements()
    pending = _histories(session, q["gets_reminders"], (Review.done_on.is_(None),))
    conn = session.connection()
    spans: stats.Spans = Counter({(due, done_on): n for due, done_on, n in conn.execute(q["spans"])})
    groups: stats.Groups = Counter()
    for subject, ladder, long_term, done, n in conn.execute(q["groups"]):
        groups[(subject, len(stored_ladder(ladder)), bool(long_term), done)] += n
    return stats.Summary(tuple(pending), spans, groups, conn.scalar(q["first_study"]))


def read_events(session: Session, since: date) -> list[ReviewEvent]:
    """The reviews done on or after ``since``, oldest first: one per note and day, with the rating of that note's
    first review of the day. One review ticks every stage due (an event each), and a second try after `again`
    the same day says nothing more about what the learner remembered when the note came due.
    """
    rows = session.execute(
        select(EventRow.note_id, EventRow.reviewed_on, EventRow.rating)
        .where(EventRow.reviewed_on >= since)
        .order_by(EventRow.reviewed_on, EventRow.note_id, EventRow.id)
    )
    seen: set[tuple[int, date]] = set()
    events = []
    for note_id, day, rating in rows:
        if (note_id, day) not in seen:
            seen.add((note_id, day))
            events.append(ReviewEvent(note_id, day, rating))
    return events


def days_at_limit(session: Session, before: date, limit: int) -> dict[date, int]:
    """The days before ``before`` on which at least ``limit`` notes were reviewed, with how many: what the streak
    under a daily limit needs of the history the charts do not read. Counted in SQL (a row per such day), so a
    streak of years does not read every review event."""
    reviewed = func.count(distinct(EventRow.note_id))
    rows = session.execute(
        select(EventRow.reviewed_on, reviewed)
        .where(EventRow.reviewed_on < before)
        .group_by(EventRow.reviewed_on)
        .having(reviewed >= limit)
    )
    return {day: count for day, count in rows}


def predicted_recall(session: Session, note_ids: Iterable[int], day: date) -> dict[int, float]:
    """The probability of recall on ``day`` that FSRS predicts, for those of ``note_ids`` it schedules."""
    ids = list(note_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Note.id, Note.scheduler_state).where(Note.id.in_(ids), Note.scheduler == "fsrs")
    ).all()
    fsrs = schedulers.scheduler_named("fsrs")
    return {note_id: fsrs.recall(schedulers.decode_state(state), day) for note_id, state in rows if state}


def daily_allowance(session: Session, day: date, limit: int | None) -> int | None:
    """How many more reviews a daily limit allows on ``day``: the limit less the notes already reviewed that day
    (from the CLI, the phone or the vault); None without a limit."""
    if limit is None:
        return None
    reviewed = {e.note_id for e in read_events(session, day) if e.day == day}
    return max(0, limit - len(reviewed))


def choose_due(
    session: Session, due: Sequence[schedule.DueNote], day: date, limit: int | None
) -> tuple[list[schedule.DueNote], int]:
    """What a digest, today's page or `due` lists on ``day`` under a daily limit, and how many wait: the most
    urgent the day's quota still allows (most overdue first, then the lowest predicted recall)."""
    if limit is None:
        return schedule.apply_daily_limit(due, None)
    recall = predicted_recall(session, (d.note_id for d in due), day)
    return schedule.apply_daily_limit(due, daily_allowance(session, day, limit), recall)


def read_stats(session: Session, today: date, extra_every: int, *, daily_limit: int | None = None) -> stats.Stats:
    """Everything `reminder stats`, the stats page and the weekly summary show, for ``today``.

    The events are read back as far as the charts need. Under a daily limit a streak that reaches back to them
    may go on before: the days the limit was reviewed on before them are counted in SQL and the streak again."""
    summary = read_summary(session)
    since = stats.events_since(today)
    events = read_events(session, since)
    figures = stats.compute_summary(summary, events, today, extra_every, daily_limit=daily_limit)
    if daily_limit and stats.streak_reaches_back(figures.streak, today):
        earlier = days_at_limit(session, since, daily_limit)
        streak = stats.streak_of_spans(summary.spans, summary.first_study, today, events, daily_limit, earlier)
        figures = replace(figures, streak=streak)
    return figures
