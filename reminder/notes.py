"""Use cases on the store: register, look up, list, find what is due, mark done, edit, remove.

Each function takes a Session (from Store.write() or Store.read()) and, where dates matter, ``today``: the
caller reads the clock once, in the learner's zone. The rules themselves live in reminder.schedule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, String, bindparam, func, or_, select, true
from sqlalchemy.orm import Session, aliased, selectinload

from reminder import schedule, schedulers
from reminder.checks import FIELD_LIMITS as FIELD_LIMITS
from reminder.checks import FIELD_NAMES as FIELD_NAMES
from reminder.checks import TITLE_MAX as TITLE_MAX
from reminder.checks import check_fields as check_fields
from reminder.checks import check_first_study, clean_title
from reminder.checks import check_text as check_text
from reminder.clock import utcnow as utcnow  # re-exported for the callers that take it from here
from reminder.config import format_ladder
from reminder.db.models import Note, Review, ReviewEvent
from reminder.duelist import group_due
from reminder.errors import NoteError as NoteError  # re-exported: defined with the other user errors
from reminder.views import NoteView, like_prefix, note_ladder, note_ref, pick_note, views_from_rows
from reminder.views import view_note as view_note  # the use cases' public face: callers need not know views


@dataclass(frozen=True)
class FsrsOptions:
    """What a note gets when it is given FSRS (REMINDER_FSRS_RETENTION, REMINDER_FSRS_MAX_INTERVAL)."""

    desired_retention: float = 0.9
    maximum_interval: int = 365
    parameters: tuple[float, ...] | None = None


def _add_review(note: Note, row: schedule.Review) -> None:
    note.reviews.append(Review(offset=row.offset, extra=row.extra, due_on=row.due_on))


def _done_extra(note: Note) -> set[int]:
    return {r.offset for r in note.reviews if r.extra and r.done_on is not None}


def _schedule_reviews(note: Note, ladder: Sequence[int], extra_every: int) -> None:
    """Create the ladder stages and the first extra review of a new note."""
    for row in schedule.plan_reviews(note.first_studied_on, ladder, extra_every):
        _add_review(note, row)


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
    check_first_study(first_studied_on, today)
    check_fields({"subject": subject, "source": source, "pages": pages, "level": level, "link": link})
    title = clean_title(title)
    if unique_title:
        same = session.scalar(
            select(Note.id).where(Note.archived_at.is_(None), func.lower(Note.title) == title.lower()).limit(1)
        )
        if same is not None:
            raise NoteError(
                "note #{same} already has the title {title!r} (use --allow-duplicate to add another)",
                same=same,
                title=title,
            )
    now = utcnow()
    note = Note(
        title=title,
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
    if scheduler != "ladder":
        set_scheduler(note, scheduler, fsrs=fsrs, extra_every=extra_every)
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


def history_statement(note_id: Any) -> Select:
    """A note's review events, in the order of Note.events: what `show` lists as its history."""
    return (
        select(*ReviewEvent.__table__.c)
        .where(ReviewEvent.note_id == note_id)
        .order_by(ReviewEvent.reviewed_on, ReviewEvent.id)
    )


def list_notes(session: Session, today: date, extra_every: int, *, include_archived: bool = False) -> list[NoteView]:
    notes_q, reviews_q = list_statements(include_archived=include_archived)
    note_rows = session.execute(notes_q).mappings()
    return views_from_rows(note_rows, session.execute(reviews_q), today, extra_every)


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
    if lateral:
        note = (
            select(Note.title, Note.link, Note.first_studied_on, Note.ladder, Note.scheduler)
            .where(Note.id == Review.note_id, *active)
            .limit(1)
            .lateral("note")
        )
        return (
            select(
                Review.note_id,
                Review.offset,
                Review.extra,
                Review.due_on,
                note.c.title,
                note.c.link,
                note.c.first_studied_on,
                note.c.ladder,
                done_count,
                note.c.scheduler,
            )
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
            Note.scheduler,
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
    again: bool = False  # rated `again`: nothing ticked, the note comes back on next_due
    next_due: date | None = None


SOURCES = ("cli", "phone", "vault")


def record_event(note: Note, *, stage: int | None, extra: bool, rating: str, day: date, source: str) -> ReviewEvent:
    """Append one review to the note's history (the one place events are made)."""
    schedulers.check_rating(rating)
    if source not in SOURCES:
        raise ValueError(f"unknown review source {source!r}")
    event = ReviewEvent(stage=stage, extra=extra, rating=rating, reviewed_on=day, source=source, created_at=utcnow())
    note.events.append(event)
    return event


def ladder_state(note: Note, extra_every: int) -> schedulers.LadderState:
    """The ladder scheduler's view of a note's review rows."""
    pending_extra = [r.offset for r in note.reviews if r.extra and r.done_on is None]
    again = note.snoozed_until
    return schedulers.LadderState(
        first_studied_on=note.first_studied_on,
        ladder=note_ladder(note),
        extra_every=extra_every,
        done=frozenset(r.offset for r in note.reviews if not r.extra and r.done_on is not None),
        extra_offset=pending_extra[0] if pending_extra else None,
        again_until=again,
        long_term=note.long_term_on is not None,
    )


def scheduler_state(note: Note, extra_every: int) -> Any:
    if note.scheduler == "ladder":
        return ladder_state(note, extra_every)
    if not note.scheduler_state:
        raise NoteError(
            "{title!r} has scheduler {scheduler} but no state; set it again with edit",
            title=note.title,
            scheduler=note.scheduler,
        )
    return schedulers.decode_state(note.scheduler_state)


def preview_ratings(note: Note, day: date, extra_every: int) -> dict[str, date | None]:
    """When the note would come back for each rating given on ``day`` (the review page's and terminal's)."""
    return schedulers.preview(schedulers.scheduler_named(note.scheduler), scheduler_state(note, extra_every), day)


def _pending_rows(note: Note) -> list[Review]:
    return sorted((r for r in note.reviews if r.done_on is None), key=lambda r: (r.extra, r.offset))


def _place_pending(note: Note, due: date, extra_every: int) -> None:
    """A note on FSRS or SR: every pending row carries the scheduler's next day, so the due query (and its
    partial index of pending reviews) serves every scheduler alike. A pending extra row always exists, its
    offset the days from the first study to that day."""
    extras = [r for r in note.reviews if r.extra and r.done_on is None]
    planned = schedule.plan_reviews(
        note.first_studied_on, note_ladder(note), extra_every, done_extra=_done_extra(note), scheduled=due
    )[-1]
    if not extras and note.long_term_on is None:
        _add_review(note, planned)
    elif extras and not any(not r.extra and r.done_on is None for r in note.reviews):
        extras[0].offset = planned.offset  # after the ladder the pending occurrence is the scheduler's day
    for review in note.reviews:
        if review.done_on is None:
            review.due_on = due


def set_scheduler(
    note: Note,
    name: str,
    *,
    extra_every: int,
    fsrs: FsrsOptions | None = None,
    sr: schedulers.SrState | None = None,
) -> None:
    """Give the note another scheduler. Its history is replayed into the new one (the events stay as they are);
    ticked flags stay ticked."""
    if name not in schedulers.SCHEDULERS:
        raise NoteError("{name!r} is not a scheduler (ladder, fsrs or sr)", name=name)
    if name == "ladder":
        note.scheduler, note.scheduler_state = "ladder", None
        for review in note.reviews:
            if not review.extra:
                review.due_on = schedule.due_date(note.first_studied_on, review.offset)
        last = max((e.reviewed_on for e in note.events if e.extra), default=None)
        planned = schedule.plan_reviews(
            note.first_studied_on, note_ladder(note), extra_every, done_extra=_done_extra(note), after=last
        )[-1]
        for review in [r for r in note.reviews if r.extra and r.done_on is None]:
            review.offset, review.due_on = planned.offset, planned.due_on
        return
    state: schedulers.FsrsState | schedulers.SrState
    if name == "fsrs":
        options = fsrs or _fsrs_options_of(note)
        engine = schedulers.Fsrs()
        start = engine.start(
            note.first_studied_on,
            desired_retention=options.desired_retention,
            maximum_interval=options.maximum_interval,
            parameters=options.parameters,
        )
        state = engine.replay(start, note.first_studied_on, ((e.reviewed_on, e.rating) for e in note.events))
        due = engine.due_on(state)
    else:
        if sr is None:
            raise NoteError("an SR note needs its sr-due, sr-interval and sr-ease")
        state, due = sr, sr.due
        # An SR note has no ladder flags (its file has none to tick): open stages go, done ones stay as history.
        for review in [r for r in note.reviews if not r.extra and r.done_on is None]:
            note.reviews.remove(review)
    note.scheduler = name
    store_state(note, state)
    _place_pending(note, due, extra_every)


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


def store_state(note: Note, state: Any) -> None:
    """Keep the scheduler's new state, and what the note's file last said (an SR note's ``file`` entry, which
    lets a sync tell the plugin's own review from a file that has not caught up with one done here)."""
    import json

    kept = {}
    if note.scheduler_state:
        kept = {k: v for k, v in json.loads(note.scheduler_state).items() if k == "file"}
    note.scheduler_state = json.dumps({**json.loads(schedulers.encode_state(state)), **kept}, sort_keys=True)


def _fsrs_options_of(note: Note) -> FsrsOptions:
    """The options an FSRS note was given (kept when it is replayed), or the defaults."""
    if note.scheduler == "fsrs" and note.scheduler_state:
        state = schedulers.decode_state(note.scheduler_state)
        if isinstance(state, schedulers.FsrsState):
            return FsrsOptions(state.desired_retention, state.maximum_interval, state.parameters)
    return FsrsOptions()


def _review_scheduled(note: Note, *, day: date, rating: str, source: str, extra_every: int) -> DoneResult:
    """A review of a note on FSRS or SR: the scheduler gives the next day; the flags are still ticked in order
    (the first open stage, then the occurrence after the ladder), so the note in Obsidian keeps making sense."""
    engine = schedulers.scheduler_named(note.scheduler)
    state = scheduler_state(note, extra_every)
    if engine.due_on(state) > day:
        raise NoteError(
            "nothing is due for {title!r} on {day}; the next review is due {next}",
            title=note.title,
            day=day.isoformat(),
            next=engine.due_on(state).isoformat(),
        )
    new = engine.review(state, rating, day)
    due = engine.due_on(new)
    pending = _pending_rows(note)
    marked: list[tuple[int, bool]] = []
    target = pending[0] if pending else None
    if rating != "again" and target is not None:
        if target.extra:
            target.offset = max((day - note.first_studied_on).days, target.offset if target.due_on > day else 0)
            taken = {r.offset for r in note.reviews if r.extra and r is not target}
            while target.offset in taken:
                target.offset += 1
        target.done_on = day
        marked.append((target.offset, target.extra))
    record_event(
        note,
        stage=target.offset if target else None,
        extra=bool(target and target.extra),
        rating=rating,
        day=day,
        source=source,
    )
    store_state(note, new)
    _place_pending(note, due, extra_every)
    return DoneResult(tuple(marked), already_done=False, long_term=False, again=rating == "again", next_due=due)


def _again_on_ladder(note: Note, *, day: date, source: str, extra_every: int) -> DoneResult:
    """`again` on the ladder: the due stage stays open, and the note comes back tomorrow."""
    pending = [schedule.Review(r.offset, r.extra, r.due_on, r.done_on) for r in note.reviews if r.done_on is None]
    summary = schedule.summarise_due(note.first_studied_on, note_ladder(note), extra_every, pending, day)
    if summary is None:
        nxt = min((r.due_on for r in note.reviews if r.done_on is None), default=None)
        if nxt is None:
            raise NoteError("nothing is due for {title!r} on {day}", title=note.title, day=day.isoformat())
        raise NoteError(
            "nothing is due for {title!r} on {day}; the next review is due {next}",
            title=note.title,
            day=day.isoformat(),
            next=nxt.isoformat(),
        )
    stage, extra, _ = summary
    record_event(note, stage=stage, extra=extra, rating="again", day=day, source=source)
    tomorrow = day + timedelta(days=1)
    if note.snoozed_until is None or note.snoozed_until < tomorrow:
        note.snoozed_until = tomorrow
    note.updated_at = utcnow()
    return DoneResult((), already_done=False, long_term=False, again=True, next_due=tomorrow)


def _check_review_day(note: Note, day: date, today: date) -> None:
    if day > today:
        raise NoteError("{day} is in the future: a review is recorded once it is done", day=day.isoformat())
    if day < note.first_studied_on:
        raise NoteError(
            "{day} is before the first study of {title!r} ({first})",
            day=day.isoformat(),
            title=note.title,
            first=note.first_studied_on.isoformat(),
        )


def _stage_review(note: Note, stage: int) -> Review:
    for review in note.reviews:
        if not review.extra and review.offset == stage:
            return review
    raise NoteError(
        "stage {stage} is not on the ladder of {title!r} ({ladder})", stage=stage, title=note.title, ladder=note.ladder
    )


def _replace_extra(session: Session, note: Note, day: date, extra_every: int) -> None:
    """After an extra review on ``day``, the next one is the first extra offset due after it."""
    planned = schedule.plan_reviews(
        note.first_studied_on, note_ladder(note), extra_every, done_extra=_done_extra(note), after=day
    )[-1]
    if not any(r.extra and r.offset == planned.offset for r in note.reviews):
        _add_review(note, planned)


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
    rating: str = "good",
    source: str = "cli",
) -> DoneResult:
    """Record a review done on ``day``, rated ``rating``, as an event in the note's history.

    Without ``stage`` one review covers every stage due by ``day`` (the extra review included); with ``stage``
    just that ladder stage is ticked, due or not, like ticking its flag in the note. ``long_term`` also marks the
    note as in long-term memory, which ends its reminders. On the ladder ``again`` ticks nothing and brings the
    note back tomorrow; on FSRS and SR the scheduler decides (see reminder.schedulers).
    """
    _check_review_day(note, day, today)
    try:
        schedulers.check_rating(rating)
    except ValueError as exc:
        raise NoteError(str(exc)) from None
    if note.scheduler != "ladder" and not long_term:
        if stage is not None:
            raise NoteError(
                "{title!r} is on {scheduler}: rate the review instead of ticking a stage",
                title=note.title,
                scheduler=note.scheduler,
            )
        result = _review_scheduled(note, day=day, rating=rating, source=source, extra_every=extra_every)
        note.snoozed_until = None
        note.updated_at = utcnow()
        session.flush()
        return result
    if rating == "again" and not long_term:
        if stage is not None:
            raise NoteError("--stage ticks a stage done; `again` leaves it open (leave out --stage)")
        result = _again_on_ladder(note, day=day, source=source, extra_every=extra_every)
        session.flush()
        return result
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
        if nxt is None:
            raise NoteError(
                "nothing is due for {title!r} on {day} (use --stage N to tick one)",
                title=note.title,
                day=day.isoformat(),
            )
        raise NoteError(
            "nothing is due for {title!r} on {day}; the next review is due {next} (use --stage N to tick one)",
            title=note.title,
            day=day.isoformat(),
            next=nxt.isoformat(),
        )
    for offset, extra in marked:
        record_event(note, stage=offset, extra=extra, rating=rating, day=day, source=source)
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
            # Taking a review back is the learner correcting the record (a sync never does this).
            taken = [e for e in note.events if e.stage == stage and not e.extra and e.rating != "again"]
            if taken:
                note.events.remove(taken[-1])
    if long_term and note.long_term_on is not None:
        note.long_term_on = None
        if not any(r.extra and r.done_on is None for r in note.reviews):
            planned = schedule.plan_reviews(
                note.first_studied_on, note_ladder(note), extra_every, done_extra=_done_extra(note)
            )
            _add_review(note, planned[-1])
        changed = True
    if changed and note.scheduler == "fsrs":
        set_scheduler(note, "fsrs", extra_every=extra_every)  # the history without that review, replayed
    elif changed and note.scheduler == "sr" and note.scheduler_state:
        _place_pending(note, schedulers.Sr().due_on(schedulers.decode_sr_state(note.scheduler_state)), extra_every)
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
    scheduler: str | None = None,
    fsrs: FsrsOptions | None = None,
    **fields: str | None,
) -> None:
    """Change a note. A new first-study date moves every stage's due date (done dates stay as recorded);
    a new ladder adds the missing stages and drops the ones no longer on it."""
    allowed = {"subject", "source", "pages", "level", "link"}
    unknown = set(fields) - allowed
    if unknown:
        raise NoteError("cannot edit {name!r}", name=sorted(unknown)[0])
    if title is not None:
        note.title = clean_title(title)
    check_fields(fields)
    for name, value in fields.items():
        if value is not None:
            setattr(note, name, value or None)
    if first_studied_on is not None:
        check_first_study(first_studied_on, today)
        note.first_studied_on = first_studied_on
    if ladder is not None:
        ladder = tuple(ladder)
        for review in [r for r in note.reviews if not r.extra and r.offset not in ladder]:
            note.reviews.remove(review)
        have = {r.offset for r in note.reviews if not r.extra}
        # The extra review follows the new ladder's last stage (or the last extra review done), not the old one's.
        *stages, extra = schedule.plan_reviews(note.first_studied_on, ladder, extra_every, done_extra=_done_extra(note))
        for row in stages:
            if row.offset not in have:
                _add_review(note, row)
        note.ladder = format_ladder(ladder)
        pending_extra = [r for r in note.reviews if r.extra and r.done_on is None]
        for review in pending_extra:
            review.offset = extra.offset
        if not pending_extra and note.long_term_on is None:
            _add_review(note, extra)
    for review in note.reviews:
        review.due_on = schedule.due_date(note.first_studied_on, review.offset)
    note.reviews.sort(key=lambda r: (r.extra, r.offset))
    if (scheduler is not None and scheduler != note.scheduler) or note.scheduler == "fsrs":
        # Switching replays the history into the new scheduler; an FSRS note is replayed after any edit, since
        # a new first-study date is a new first review.
        set_scheduler(note, scheduler or note.scheduler, extra_every=extra_every, fsrs=fsrs)
    elif note.scheduler == "sr" and note.scheduler_state:
        sr_state = schedulers.decode_sr_state(note.scheduler_state)
        _place_pending(note, schedulers.Sr().due_on(sr_state), extra_every)
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
            # A flag ticked in Obsidian is a `good` review. Unticking one reopens the stage but keeps the
            # history: a sync never rewrites it.
            record_event(note, stage=review.offset, extra=False, rating="good", day=day, source="vault")
            if note.scheduler == "fsrs" and note.scheduler_state:
                engine = schedulers.Fsrs()
                state = engine.review(schedulers.decode_fsrs_state(note.scheduler_state), "good", day)
                note.scheduler_state = schedulers.encode_state(state)
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
        if note.scheduler == "fsrs" and note.scheduler_state:
            fsrs_state = schedulers.decode_fsrs_state(note.scheduler_state)
            _place_pending(note, schedulers.Fsrs().due_on(fsrs_state), extra_every)
    if changed:
        note.updated_at = utcnow()
        session.flush()
    return changed
