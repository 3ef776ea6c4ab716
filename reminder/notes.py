"""Use cases on the store: register, look up, list, find what is due, mark done, edit, remove.

Each function takes a Session (from Store.write() or Store.read()) and, where dates matter, ``today``: the
caller reads the clock once, in the learner's zone. The rules themselves live in reminder.schedule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, String, bindparam, func, or_, select, true
from sqlalchemy.orm import Session, aliased, selectinload

from reminder import schedule
from reminder.config import format_ladder
from reminder.db.models import Note, Review
from reminder.duelist import group_due
from reminder.views import NoteError as NoteError  # raised here, defined where the light path can raise it
from reminder.views import NoteView, like_prefix, note_ladder, pick_note, views_from_rows
from reminder.views import view_note as view_note  # the use cases' public face: callers need not know views

TITLE_MAX = 500


def utcnow() -> datetime:
    """Naive UTC, as the store keeps instants."""
    from datetime import UTC

    return datetime.now(UTC).replace(tzinfo=None)


def _clean_title(title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise NoteError("the title is empty")
    if len(title) > TITLE_MAX:
        raise NoteError(f"the title is longer than {TITLE_MAX} characters")
    return title


def _check_first_study(first_studied_on: date, today: date) -> None:
    if first_studied_on > today:
        raise NoteError(
            f"first-study date {first_studied_on.isoformat()} is after today ({today.isoformat()}): "
            "register a note once it has been studied"
        )


def _schedule_reviews(note: Note, ladder: Sequence[int], extra_every: int) -> None:
    """Create the ladder stages and the first extra review of a new note."""
    for offset in ladder:
        note.reviews.append(Review(offset=offset, extra=False, due_on=schedule.due_date(note.first_studied_on, offset)))
    offset = schedule.first_extra_offset(ladder, extra_every)
    note.reviews.append(Review(offset=offset, extra=True, due_on=schedule.due_date(note.first_studied_on, offset)))


def add_note(
    session: Session,
    *,
    title: str,
    first_studied_on: date,
    today: date,
    ladder: Sequence[int],
    extra_every: int,
    subject: str | None = None,
    source: str | None = None,
    pages: str | None = None,
    level: str | None = None,
    link: str | None = None,
) -> Note:
    _check_first_study(first_studied_on, today)
    now = utcnow()
    note = Note(
        title=_clean_title(title),
        first_studied_on=first_studied_on,
        ladder=format_ladder(tuple(ladder)),
        subject=subject or None,
        source=source or None,
        pages=pages or None,
        level=level or None,
        link=link or None,
        created_at=now,
        updated_at=now,
    )
    _schedule_reviews(note, ladder, extra_every)
    session.add(note)
    session.flush()
    return note


def resolve_statements() -> tuple[Select, Select]:
    """(id, title) of the active notes a title reference names: those whose lowered title is ``title`` (the
    reference lowered), and the first 11 whose title starts with ``prefix`` (views.like_prefix of it)."""
    active = Note.archived_at.is_(None)
    exact = select(Note.id, Note.title).where(active, func.lower(Note.title) == bindparam("title", type_=String))
    prefix = (
        select(Note.id, Note.title)
        .where(active, func.lower(Note.title).like(func.lower(bindparam("prefix", type_=String)), escape="/"))
        .order_by(Note.id)
        .limit(11)
    )
    return exact, prefix


def resolve_note(session: Session, ref: str) -> Note:
    """A note by numeric id or by an unambiguous, case-insensitive title prefix (archived notes excluded)."""
    ref = ref.strip()
    if not ref:
        raise NoteError("no note given")
    options = [selectinload(Note.reviews)]
    if ref.isdigit():
        note = session.get(Note, int(ref), options=options)
        if note is None or note.archived_at is not None:
            raise NoteError(f"no note with id {ref}")
        return note
    exact_q, prefix_q = resolve_statements()
    note_id = pick_note(
        ref,
        session.execute(exact_q, {"title": ref.lower()}).all(),
        lambda: session.execute(prefix_q, {"prefix": like_prefix(ref)}).all(),
    )
    note = session.get(Note, note_id, options=options)
    assert note is not None
    return note


# --- reading -----------------------------------------------------------------------------------------------------


def list_statements(*, include_archived: bool = False, note_id: Any = None) -> tuple[Select, Select]:
    """The notes `list` shows (every column, by id) and their reviews (by note, then offset, as Note.reviews);
    with ``note_id``, just that note (what `show` reads).

    Two plain queries whose rows views.views_from_rows turns into views: an ORM object per note and per review
    is most of the cost of listing thousands of notes.
    """
    notes_q = select(*Note.__table__.c).order_by(Note.id)
    reviews_q = (
        select(Review.note_id, Review.offset, Review.extra, Review.due_on, Review.done_on)
        .join(Note, Note.id == Review.note_id)
        .order_by(Review.note_id, Review.offset)
    )
    if not include_archived:
        notes_q = notes_q.where(Note.archived_at.is_(None))
        reviews_q = reviews_q.where(Note.archived_at.is_(None))
    if note_id is not None:
        notes_q = notes_q.where(Note.id == note_id)
        reviews_q = reviews_q.where(Note.id == note_id)
    return notes_q, reviews_q


def list_notes(session: Session, today: date, extra_every: int, *, include_archived: bool = False) -> list[NoteView]:
    notes_q, reviews_q = list_statements(include_archived=include_archived)
    note_rows = session.execute(notes_q).mappings()
    return views_from_rows(note_rows, session.execute(reviews_q), today, extra_every)


def due_statement(day: date, *, lateral: bool = False) -> Select:
    """Pending reviews due by ``day`` of notes that get reminders, with each note's count of done stages.

    It reads the partial index of pending reviews (ix_reviews_pending_due), so its cost follows the number of due
    reviews, not the number of notes; the count uses the (note_id, extra, offset) unique index.

    ``lateral`` (PostgreSQL) fetches each review's note in a LATERAL subquery with LIMIT 1. PostgreSQL's
    statistics cannot see that a pending review is almost never in the past (due date and done date are
    correlated), so it expects a large share of all reviews from the index and would hash-join every note; a
    lateral subquery with a LIMIT is never flattened into a join, so it can only be answered review by review
    through the notes' primary key, and the plan follows the due count. SQLite has no LATERAL and already loops
    over the index this way.
    """
    done = aliased(Review)
    done_count = (
        select(func.count())
        .where(done.note_id == Review.note_id, done.extra.is_(False), done.done_on.is_not(None))
        .scalar_subquery()
    )
    active = (
        # the same conditions as views.is_active, in SQL
        Note.archived_at.is_(None),
        Note.long_term_on.is_(None),
        or_(Note.snoozed_until.is_(None), Note.snoozed_until <= day),
    )
    pending = (Review.done_on.is_(None), Review.due_on <= day)
    if lateral:
        note = (
            select(Note.title, Note.link, Note.first_studied_on, Note.ladder)
            .where(Note.id == Review.note_id, *active)
            .limit(1)
            .lateral("note")
        )
        return (
            select(Review.note_id, Review.offset, Review.extra, Review.due_on, *note.c, done_count)
            .join(note, true())
            .where(*pending)
        )
    return (
        select(
            Review.note_id,
            Review.offset,
            Review.extra,
            Review.due_on,
            Note.title,
            Note.link,
            Note.first_studied_on,
            Note.ladder,
            done_count,
        )
        .join(Note, Note.id == Review.note_id)
        .where(*pending, *active)
    )


def due_query(session: Session, day: date) -> Select:
    """The due statement in the form for the session's database."""
    return due_statement(day, lateral=session.get_bind().dialect.name == "postgresql")


def due_on(session: Session, day: date, extra_every: int) -> list[schedule.DueNote]:
    """Notes due on ``day`` (overdue included), most overdue first."""
    return group_due(session.execute(due_query(session, day)), day, extra_every)


# --- changing ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DoneResult:
    marked: tuple[tuple[int, bool], ...]  # (stage offset, extra) marked done now
    already_done: bool
    long_term: bool


def _check_review_day(note: Note, day: date, today: date) -> None:
    if day > today:
        raise NoteError(f"{day.isoformat()} is in the future: a review is recorded once it is done")
    if day < note.first_studied_on:
        raise NoteError(
            f"{day.isoformat()} is before the first study of {note.title!r} ({note.first_studied_on.isoformat()})"
        )


def _stage_review(note: Note, stage: int) -> Review:
    for review in note.reviews:
        if not review.extra and review.offset == stage:
            return review
    raise NoteError(f"stage {stage} is not on the ladder of {note.title!r} ({note.ladder})")


def _replace_extra(session: Session, note: Note, day: date, extra_every: int) -> None:
    """After an extra review on ``day``, the next one is the first extra offset due after it."""
    ladder = note_ladder(note)
    offset = schedule.next_extra_offset(note.first_studied_on, ladder, extra_every, day)
    if not any(r.extra and r.offset == offset for r in note.reviews):
        note.reviews.append(Review(offset=offset, extra=True, due_on=schedule.due_date(note.first_studied_on, offset)))


def _mark_long_term(note: Note, day: date) -> None:
    note.long_term_on = day
    # Long-term memory ends the extra reviews: drop the pending one so the due index stays small.
    for review in [r for r in note.reviews if r.extra and r.done_on is None]:
        note.reviews.remove(review)


def mark_done(
    session: Session,
    note: Note,
    *,
    day: date,
    today: date,
    extra_every: int,
    stage: int | None = None,
    long_term: bool = False,
) -> DoneResult:
    """Record a review done on ``day``.

    Without ``stage`` one review covers every stage due by ``day`` (the extra review included); with ``stage``
    just that ladder stage is ticked, due or not, like ticking its flag in the note. ``long_term`` also marks the
    note as in long-term memory, which ends its reminders.
    """
    _check_review_day(note, day, today)
    marked: list[tuple[int, bool]] = []
    if stage is not None:
        review = _stage_review(note, stage)
        if review.done_on is None:
            review.done_on = day
            marked.append((review.offset, False))
    else:
        for review in list(note.reviews):
            if review.done_on is None and review.due_on <= day:
                if review.extra:
                    # The pending extra review stands for every occurrence up to today: record the one reviewed.
                    latest = schedule.latest_extra_offset(note.first_studied_on, note_ladder(note), extra_every, day)
                    review.offset = max(review.offset, latest or review.offset)
                    review.due_on = schedule.due_date(note.first_studied_on, review.offset)
                review.done_on = day
                marked.append((review.offset, review.extra))
                if review.extra:
                    _replace_extra(session, note, day, extra_every)
    if long_term and note.long_term_on is None:
        _mark_long_term(note, day)
    elif stage is None and not marked and not long_term:
        nxt = min((r.due_on for r in note.reviews if r.done_on is None), default=None)
        when = f"; the next review is due {nxt.isoformat()}" if nxt else ""
        raise NoteError(f"nothing is due for {note.title!r} on {day.isoformat()}{when} (use --stage N to tick one)")
    if marked or long_term:
        note.snoozed_until = None
        note.updated_at = utcnow()
    session.flush()
    return DoneResult(tuple(marked), already_done=stage is not None and not marked, long_term=long_term)


def undo(session: Session, note: Note, *, stage: int | None = None, long_term: bool = False, extra_every: int) -> bool:
    """Clear a ladder stage's done date, or the long-term mark. True when something changed."""
    if stage is None and not long_term:
        raise NoteError("say what to undo: --stage N or --long-term")
    changed = False
    if stage is not None:
        review = _stage_review(note, stage)
        if review.done_on is not None:
            review.done_on = None
            changed = True
    if long_term and note.long_term_on is not None:
        note.long_term_on = None
        if not any(r.extra and r.done_on is None for r in note.reviews):
            offset = schedule.first_extra_offset(note_ladder(note), extra_every)
            done_extra = [r.offset for r in note.reviews if r.extra]
            if done_extra:
                offset = max(offset, max(done_extra) + extra_every)
            note.reviews.append(
                Review(offset=offset, extra=True, due_on=schedule.due_date(note.first_studied_on, offset))
            )
        changed = True
    if changed:
        note.updated_at = utcnow()
        session.flush()
    return changed


def edit_note(
    session: Session,
    note: Note,
    *,
    today: date,
    extra_every: int,
    title: str | None = None,
    first_studied_on: date | None = None,
    ladder: Sequence[int] | None = None,
    **fields: str | None,
) -> None:
    """Change a note. A new first-study date moves every stage's due date (done dates stay as recorded);
    a new ladder adds the missing stages and drops the ones no longer on it."""
    allowed = {"subject", "source", "pages", "level", "link"}
    unknown = set(fields) - allowed
    if unknown:
        raise NoteError(f"cannot edit {sorted(unknown)[0]!r}")
    if title is not None:
        note.title = _clean_title(title)
    for name, value in fields.items():
        if value is not None:
            setattr(note, name, value or None)
    if ladder is not None:
        ladder = tuple(ladder)
        for review in [r for r in note.reviews if not r.extra and r.offset not in ladder]:
            note.reviews.remove(review)
        have = {r.offset for r in note.reviews if not r.extra}
        for offset in ladder:
            if offset not in have:
                note.reviews.append(Review(offset=offset, extra=False, due_on=note.first_studied_on))
        note.ladder = format_ladder(ladder)
        pending_extra = [r for r in note.reviews if r.extra and r.done_on is None]
        first_extra = schedule.first_extra_offset(ladder, extra_every)
        for review in pending_extra:
            review.offset = max(review.offset, first_extra)
    if first_studied_on is not None:
        _check_first_study(first_studied_on, today)
        note.first_studied_on = first_studied_on
    for review in note.reviews:
        review.due_on = schedule.due_date(note.first_studied_on, review.offset)
    note.reviews.sort(key=lambda r: (r.extra, r.offset))
    note.updated_at = utcnow()
    session.flush()


def remove_note(session: Session, note: Note) -> None:
    session.delete(note)  # its reviews go with it (cascade)
    session.flush()


def snooze_notes(session: Session, note_ids: Sequence[int], until: date) -> list[int]:
    """Hold the reminders of these notes until ``until`` (the day of the next slot). Returns the ids changed;
    unknown, archived or long-term notes are left alone."""
    changed = []
    for note in session.scalars(select(Note).where(Note.id.in_(list(note_ids)))):
        if note.archived_at is not None or note.long_term_on is not None:
            continue
        if note.snoozed_until is None or note.snoozed_until < until:
            note.snoozed_until = until
            note.updated_at = utcnow()
            changed.append(note.id)
    session.flush()
    return changed


def set_flags(
    session: Session,
    note: Note,
    *,
    stages: dict[int, bool],
    long_term: bool | None,
    day: date,
    extra_every: int,
) -> bool:
    """Set each named stage's done state, and the long-term mark, as a note's file states them (vault sync).

    Unlike mark_done nothing else is ticked: the file names every flag. A stage ticked now is done on ``day``;
    one already done keeps its date; a stage not on the note's ladder is ignored. ``long_term`` None leaves the
    mark alone. True when something changed.
    """
    changed = False
    ticked = False
    for review in note.reviews:
        if review.extra or review.offset not in stages:
            continue
        if stages[review.offset] and review.done_on is None:
            review.done_on = day
            changed = ticked = True
        elif not stages[review.offset] and review.done_on is not None:
            review.done_on = None
            changed = True
    if long_term and note.long_term_on is None:
        _mark_long_term(note, day)
        changed = ticked = True
    elif long_term is False and note.long_term_on is not None:
        undo(session, note, long_term=True, extra_every=extra_every)
        changed = True
    if ticked:
        note.snoozed_until = None
    if changed:
        note.updated_at = utcnow()
        session.flush()
    return changed


def record_in_vault(session: Session, note: Note) -> bool:
    """After a review is recorded here (CLI or phone), tick the flag in the note's Obsidian file too, when the
    note comes from a vault registered with write-back. True when the file was written."""
    if note.vault_id is None:
        return False
    from reminder.vault import write_back_note

    return write_back_note(session, note)
