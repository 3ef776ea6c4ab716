"""Use cases on the store: register, look up, list, find what is due, mark done, edit, remove.

Each function takes a Session (from Store.write() or Store.read()) and, where dates matter, ``today``: the
caller reads the clock once, in the learner's zone. The rules themselves live in reminder.schedule; recording a
review in reminder.recording and editing a note in reminder.editing, without SQLAlchemy, so that the light write
path (reminder.lightwrite) runs the same ones. The statements here are its queries' one definition too
(reminder.compile_sql).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import ColumnElement, Select, String, bindparam, func, or_, select, true
from sqlalchemy.orm import Session, aliased, selectinload

from reminder import editing, recording, schedule
from reminder.checks import FIELD_LIMITS as FIELD_LIMITS
from reminder.checks import FIELD_NAMES as FIELD_NAMES
from reminder.checks import TITLE_MAX as TITLE_MAX
from reminder.checks import check_fields as check_fields
from reminder.checks import check_text as check_text
from reminder.clock import utcnow as utcnow  # re-exported for the callers that take it from here
from reminder.db.models import Note, Review, ReviewEvent
from reminder.duelist import group_due
from reminder.errors import NoteError as NoteError  # re-exported: defined with the other user errors

# The rules of recording a review and of editing a note, pure (no SQLAlchemy), named here for the callers.
from reminder.recording import SOURCES as SOURCES
from reminder.recording import DoneResult as DoneResult
from reminder.recording import FsrsOptions as FsrsOptions
from reminder.recording import ladder_state as ladder_state
from reminder.recording import preview_ratings as preview_ratings
from reminder.recording import record_event as record_event
from reminder.recording import scheduler_state as scheduler_state
from reminder.recording import set_scheduler as set_scheduler
from reminder.recording import store_state as store_state
from reminder.views import VIEW_COLUMNS, NoteView, by_note, like_prefix, note_ref, pick_note, views_from_rows
from reminder.views import note_ladder as note_ladder
from reminder.views import view_note as view_note  # the use cases' public face: callers need not know views

P = ParamSpec("P")
R = TypeVar("R")


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
    unique_title: bool = False,
    scheduler: str = "ladder",
    fsrs: FsrsOptions | None = None,
) -> Note:
    """Register a note. ``unique_title``: refuse a title another active note has (case-insensitive), which would
    make the title ambiguous as a NOTE argument from then on."""
    columns = editing.new_note_fields(
        title=title,
        first_studied_on=first_studied_on,
        today=today,
        ladder=ladder,
        subject=subject,
        source=source,
        pages=pages,
        level=level,
        link=link,
    )
    if unique_title:
        same = session.scalar(same_title_statement(), {"title": columns["title"].lower()})
        if same is not None:
            raise editing.same_title_error(same, columns["title"])
    note = Note(**columns)
    editing.start_schedule(note, ladder, extra_every, scheduler=scheduler, fsrs=fsrs)
    session.add(note)
    session.flush()
    return note


def same_title_statement() -> Select:
    """The id of an active note whose lowered title is ``title`` (`add` refuses a second one)."""
    lowered = func.lower(Note.title) == bindparam("title", type_=String)
    return select(Note.id).where(Note.archived_at.is_(None), lowered).limit(1)


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
    ref = note_ref(ref)  # "#12", as list and show print it, is id 12
    if not ref:
        raise NoteError("no note given")
    options = [selectinload(Note.reviews), selectinload(Note.events)]
    if ref.isdigit():
        note = session.get(Note, int(ref), options=options)
        if note is None or note.archived_at is not None:
            raise NoteError("no note with id {ref}", ref=ref)
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


def resolve_locked(session: Session, ref: str) -> Note:
    """resolve_note for recording a review: the note's row locked (lock_notes, as the phone's buttons take it) and
    its reviews read after the lock, so that a `reminder done` and a press at the same instant record one review."""
    note_id = resolve_note(session, ref).id
    lock_notes(session, [note_id])
    options = [selectinload(Note.reviews), selectinload(Note.events)]
    # populate_existing: what resolve_note read before the lock may be stale by the time the lock is ours.
    locked = session.get(Note, note_id, options=options, populate_existing=True)
    if locked is None or locked.archived_at is not None:
        raise NoteError("no note with id {ref}", ref=str(note_id))
    return locked


# --- reading -----------------------------------------------------------------------------------------------------


def list_statements(*, include_archived: bool = False, note_id: Any = None) -> tuple[Select, Select]:
    """The notes `list` shows (the columns views.view_note reads, by id) and their reviews (by note: its
    ladder stages by offset, then its extra review); with ``note_id``, just that note (what `show` reads).

    Two plain queries whose rows views.views_from_rows turns into views: an ORM object per note and per review
    is most of the cost of listing thousands of notes. The reviews are read in the order of their unique index
    (note_id, extra, offset), which SQLite then walks without sorting (by note and offset it sorted each note's
    rows in a temporary B-tree); the view rules look at the stages and the extra review apart, each in offset
    order, so they read the same. They are not joined to their notes: the reviews of an archived note, which a
    listing without ``--all`` leaves out, are skipped where the two are merged, for less than the join costs.
    """
    notes_q = select(*(Note.__table__.c[name] for name in VIEW_COLUMNS)).order_by(Note.id)
    reviews_q = select(Review.note_id, Review.offset, Review.extra, Review.due_on, Review.done_on).order_by(
        Review.note_id, Review.extra, Review.offset
    )
    if not include_archived:
        notes_q = notes_q.where(Note.archived_at.is_(None))
    if note_id is not None:
        notes_q = notes_q.where(Note.id == note_id)
        reviews_q = reviews_q.where(Review.note_id == note_id)
    return notes_q, reviews_q


def history_statement(note_id: Any) -> Select:
    """A note's review events, in the order of Note.events: what `show` lists as its history."""
    return (
        select(*ReviewEvent.__table__.c)
        .where(ReviewEvent.note_id == note_id)
        .order_by(ReviewEvent.reviewed_on, ReviewEvent.id)
    )


def list_notes(
    session: Session, today: date, extra_every: int, *, include_archived: bool = False, limit: int | None = None
) -> list[NoteView]:
    notes_q, reviews_q = list_statements(include_archived=include_archived)
    reviews = by_note((row.note_id, row) for row in session.execute(reviews_q))
    return views_from_rows(session.execute(notes_q), reviews, today, extra_every, limit=limit)


def due_statement(day: date | ColumnElement[date], *, lateral: bool = False) -> Select:
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

    def columns(note: Any) -> tuple[Any, ...]:
        """What both forms select (duelist.group_due reads it by position), the note's columns from ``note``:
        the notes table, or the lateral subquery of the same columns."""
        return (
            *(Review.note_id, Review.offset, Review.extra, Review.due_on),
            *(note.title, note.link, note.first_studied_on, note.ladder, done_count, note.scheduler),
        )

    if lateral:
        # The subquery selects the notes' columns of that same list (done_count is the reviews' subquery).
        wanted = [c for c in columns(Note.__table__.c) if getattr(c, "table", None) is Note.__table__]
        note = select(*wanted).where(Note.id == Review.note_id, *active).limit(1).lateral("note")
        return select(*columns(note.c)).join(note, true()).where(*pending)
    return select(*columns(Note.__table__.c)).join(Note, Note.id == Review.note_id).where(*pending, *active)


def due_query(session: Session, day: date) -> Select:
    """The due statement in the form for the session's database."""
    return due_statement(day, lateral=session.get_bind().dialect.name == "postgresql")


def due_on(session: Session, day: date, extra_every: int) -> list[schedule.DueNote]:
    """Notes due on ``day`` (overdue included), most overdue first."""
    return group_due(session.execute(due_query(session, day)), day, extra_every)


# --- changing ----------------------------------------------------------------------------------------------------


def adopt_scheduler(
    session: Session, *, created_since: datetime, scheduler: str, extra_every: int, fsrs: FsrsOptions | None = None
) -> int:
    """Give the vault notes a sync imported (created at or after ``created_since``) the scheduler new notes get
    (REMINDER_SCHEDULER), as `reminder add` does; SR notes keep the plugin's. The number of notes switched."""
    if scheduler == "ladder":
        return 0
    stmt = (
        select(Note)
        .where(Note.vault_id.is_not(None), Note.scheduler == "ladder", Note.created_at >= created_since)
        .options(selectinload(Note.reviews), selectinload(Note.events))
    )
    count = 0
    for note in session.scalars(stmt):
        set_scheduler(note, scheduler, extra_every=extra_every, fsrs=fsrs)
        count += 1
    session.flush()
    return count


def remove_note(session: Session, note: Note) -> None:
    session.delete(note)  # its reviews go with it (cascade)
    session.flush()


def lock_notes(session: Any, note_ids: Iterable[int]) -> None:
    """Take the notes' rows before reading their reviews, so that a second press of the same button (or a
    `reminder done` at the same instant) waits for the first one's transaction and then reads what it recorded.
    PostgreSQL runs two writers side by side (SQLite's BEGIN IMMEDIATE already queues every writer; SQLAlchemy
    renders no FOR UPDATE there)."""
    session.execute(select(Note.id).where(Note.id.in_(sorted(note_ids))).order_by(Note.id).with_for_update())


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


def on_store(rule: Callable[Concatenate[Any, P], R]) -> Callable[Concatenate[Session, Note, P], R]:
    """A rule of reminder.recording or reminder.editing as a use case on the store: run on the session's note,
    then flushed (a flush with nothing changed writes nothing). Its keyword arguments keep their types."""

    def run(session: Session, note: Note, /, *args: P.args, **kwargs: P.kwargs) -> R:
        outcome = rule(note, *args, **kwargs)
        session.flush()
        return outcome

    run.__name__, run.__doc__ = rule.__name__, f"{rule.__module__}.{rule.__name__} on a note of the store."
    return run


mark_done = on_store(recording.mark_done)
undo = on_store(recording.undo)
set_flags = on_store(recording.set_flags)  # the vault sync's
edit_note = on_store(editing.edit_note)
