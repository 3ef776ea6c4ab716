"""Recording a review: done, undo, the flags a vault file states, and the schedulers behind them.

Pure rules over a note and its rows, with no SQLAlchemy and no clock but ``utcnow`` for the instants kept: the
store path (reminder.notes, on ORM objects) and the light write path (reminder.lightwrite, on rows read with
sqlite3) run these same functions. A note here is anything with the note's columns as attributes, its
``reviews`` and ``events`` lists, and ``add_review(offset, extra, due_on)`` and ``add_event(**columns)``, which
make a row and append it (reminder.db.models.Note is one; lightwrite.LightNote another).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from reminder import schedule, schedulers
from reminder.clock import utcnow
from reminder.errors import NoteError
from reminder.views import note_ladder


@dataclass(frozen=True)
class FsrsOptions:
    """What a note gets when it is given FSRS (REMINDER_FSRS_RETENTION, REMINDER_FSRS_MAX_INTERVAL)."""

    desired_retention: float = 0.9
    maximum_interval: int = 365
    parameters: tuple[float, ...] | None = None


@dataclass(frozen=True)
class DoneResult:
    marked: tuple[tuple[int, bool], ...]  # (stage offset, extra) marked done now
    already_done: bool
    long_term: bool
    again: bool = False  # rated `again`: nothing ticked, the note comes back on next_due
    next_due: date | None = None


SOURCES = ("cli", "phone", "vault")


def record_event(note: Any, *, stage: int | None, extra: bool, rating: str, day: date, source: str) -> Any:
    """Append one review to the note's history (the one place events are made)."""
    schedulers.check_rating(rating)
    if source not in SOURCES:
        raise ValueError(f"unknown review source {source!r}")
    return note.add_event(
        stage=stage, extra=extra, rating=rating, reviewed_on=day, source=source, created_at=utcnow()
    )


def ladder_state(note: Any, extra_every: int) -> schedulers.LadderState:
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


def scheduler_state(note: Any, extra_every: int) -> Any:
    if note.scheduler == "ladder":
        return ladder_state(note, extra_every)
    if not note.scheduler_state:
        raise NoteError(
            "{title!r} has scheduler {scheduler} but no state; set it again with edit",
            title=note.title,
            scheduler=note.scheduler,
        )
    return schedulers.decode_state(note.scheduler_state)


def preview_ratings(note: Any, day: date, extra_every: int) -> dict[str, date | None]:
    """When the note would come back for each rating given on ``day`` (the review page's and terminal's)."""
    return schedulers.preview(schedulers.scheduler_named(note.scheduler), scheduler_state(note, extra_every), day)


def add_planned(note: Any, row: schedule.Review) -> None:
    note.add_review(row.offset, row.extra, row.due_on)


def done_extra_offsets(note: Any) -> set[int]:
    return {r.offset for r in note.reviews if r.extra and r.done_on is not None}


def _pending_rows(note: Any) -> list[Any]:
    return sorted((r for r in note.reviews if r.done_on is None), key=lambda r: (r.extra, r.offset))


def place_pending(note: Any, due: date, extra_every: int) -> None:
    """A note on FSRS or SR: every pending row carries the scheduler's next day, so the due query (and its
    partial index of pending reviews) serves every scheduler alike. A pending extra row always exists, its
    offset the days from the first study to that day."""
    extras = [r for r in note.reviews if r.extra and r.done_on is None]
    planned = schedule.plan_reviews(
        note.first_studied_on, note_ladder(note), extra_every, done_extra=done_extra_offsets(note), scheduled=due
    )[-1]
    if not extras and note.long_term_on is None:
        add_planned(note, planned)
    elif extras and not any(not r.extra and r.done_on is None for r in note.reviews):
        extras[0].offset = planned.offset  # after the ladder the pending occurrence is the scheduler's day
    for review in note.reviews:
        if review.done_on is None:
            review.due_on = due


def set_scheduler(
    note: Any,
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
            note.first_studied_on, note_ladder(note), extra_every, done_extra=done_extra_offsets(note), after=last
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
    place_pending(note, due, extra_every)


def store_state(note: Any, state: Any) -> None:
    """Keep the scheduler's new state, and what the note's file last said (an SR note's ``file`` entry, which
    lets a sync tell the plugin's own review from a file that has not caught up with one done here)."""
    import json

    kept = {}
    if note.scheduler_state:
        kept = {k: v for k, v in json.loads(note.scheduler_state).items() if k == "file"}
    note.scheduler_state = json.dumps({**json.loads(schedulers.encode_state(state)), **kept}, sort_keys=True)


def _fsrs_options_of(note: Any) -> FsrsOptions:
    """The options an FSRS note was given (kept when it is replayed), or the defaults."""
    if note.scheduler == "fsrs" and note.scheduler_state:
        state = schedulers.decode_state(note.scheduler_state)
        if isinstance(state, schedulers.FsrsState):
            return FsrsOptions(state.desired_retention, state.maximum_interval, state.parameters)
    return FsrsOptions()


def _review_scheduled(note: Any, *, day: date, rating: str, source: str, extra_every: int) -> DoneResult:
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
    place_pending(note, due, extra_every)
    return DoneResult(tuple(marked), already_done=False, long_term=False, again=rating == "again", next_due=due)


def _again_on_ladder(note: Any, *, day: date, source: str, extra_every: int) -> DoneResult:
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


def _check_review_day(note: Any, day: date, today: date) -> None:
    if day > today:
        raise NoteError("{day} is in the future: a review is recorded once it is done", day=day.isoformat())
    if day < note.first_studied_on:
        raise NoteError(
            "{day} is before the first study of {title!r} ({first})",
            day=day.isoformat(),
            title=note.title,
            first=note.first_studied_on.isoformat(),
        )


def _stage_review(note: Any, stage: int) -> Any:
    for review in note.reviews:
        if not review.extra and review.offset == stage:
            return review
    raise NoteError(
        "stage {stage} is not on the ladder of {title!r} ({ladder})", stage=stage, title=note.title, ladder=note.ladder
    )


def _replace_extra(note: Any, day: date, extra_every: int) -> None:
    """After an extra review on ``day``, the next one is the first extra offset due after it."""
    planned = schedule.plan_reviews(
        note.first_studied_on, note_ladder(note), extra_every, done_extra=done_extra_offsets(note), after=day
    )[-1]
    if not any(r.extra and r.offset == planned.offset for r in note.reviews):
        add_planned(note, planned)


def _mark_long_term(note: Any, day: date) -> None:
    note.long_term_on = day
    # Long-term memory ends the extra reviews: drop the pending one so the due index stays small.
    for review in [r for r in note.reviews if r.extra and r.done_on is None]:
        note.reviews.remove(review)


def mark_done(
    note: Any,
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
        return result
    if rating == "again" and not long_term:
        if stage is not None:
            raise NoteError("--stage ticks a stage done; `again` leaves it open (leave out --stage)")
        result = _again_on_ladder(note, day=day, source=source, extra_every=extra_every)
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
                    _replace_extra(note, day, extra_every)
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
    return DoneResult(tuple(marked), already_done=stage is not None and not marked, long_term=long_term)


def undo(note: Any, *, stage: int | None = None, long_term: bool = False, extra_every: int) -> bool:
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
                note.first_studied_on, note_ladder(note), extra_every, done_extra=done_extra_offsets(note)
            )
            add_planned(note, planned[-1])
        changed = True
    if changed and note.scheduler == "fsrs":
        set_scheduler(note, "fsrs", extra_every=extra_every)  # the history without that review, replayed
    elif changed and note.scheduler == "sr" and note.scheduler_state:
        place_pending(note, schedulers.Sr().due_on(schedulers.decode_sr_state(note.scheduler_state)), extra_every)
    if changed:
        note.updated_at = utcnow()
    return changed


def set_flags(
    note: Any,
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
        undo(note, long_term=True, extra_every=extra_every)
        changed = True
    if ticked:
        note.snoozed_until = None
        if note.scheduler == "fsrs" and note.scheduler_state:
            fsrs_state = schedulers.decode_fsrs_state(note.scheduler_state)
            place_pending(note, schedulers.Fsrs().due_on(fsrs_state), extra_every)
    if changed:
        note.updated_at = utcnow()
    return changed
