"""Editing a note: a new note's fields and first reviews, and `edit`'s changes to one.

Pure rules like reminder.recording (whose note shape they share), run by the store path and the light write
path alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from reminder import schedule, schedulers
from reminder.checks import check_fields, check_first_study, clean_title
from reminder.clock import utcnow
from reminder.config import format_ladder
from reminder.errors import NoteError
from reminder.recording import FsrsOptions, add_planned, done_extra_offsets, place_pending, set_scheduler


def new_note_fields(
    *,
    title: str,
    first_studied_on: date,
    today: date,
    ladder: Sequence[int],
    subject: str | None = None,
    source: str | None = None,
    pages: str | None = None,
    level: str | None = None,
    link: str | None = None,
) -> dict[str, Any]:
    """The columns of a note to register, its input checked (NoteError for the first problem)."""
    check_first_study(first_studied_on, today)
    check_fields({"subject": subject, "source": source, "pages": pages, "level": level, "link": link})
    now = utcnow()
    return {
        "title": clean_title(title),
        "first_studied_on": first_studied_on,
        "ladder": format_ladder(tuple(ladder)),
        "subject": subject or None,
        "source": source or None,
        "pages": pages or None,
        "level": level or None,
        "link": link or None,
        "created_at": now,
        "updated_at": now,
    }


def same_title_error(same: int, title: str) -> NoteError:
    """`add` refuses a title an active note has (``same``, its id): it would make the title ambiguous as NOTE."""
    return NoteError(
        "note #{same} already has the title {title!r} (use --allow-duplicate to add another)", same=same, title=title
    )


def start_schedule(
    note: Any, ladder: Sequence[int], extra_every: int, *, scheduler: str = "ladder", fsrs: FsrsOptions | None = None
) -> None:
    """A new note's first reviews: the ladder's stages and the first extra review, then its scheduler's day."""
    for row in schedule.plan_reviews(note.first_studied_on, ladder, extra_every):
        add_planned(note, row)
    if scheduler != "ladder":
        set_scheduler(note, scheduler, fsrs=fsrs, extra_every=extra_every)


def edit_note(
    note: Any,
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
        done_extra = done_extra_offsets(note)
        *stages, extra = schedule.plan_reviews(note.first_studied_on, ladder, extra_every, done_extra=done_extra)
        for row in stages:
            if row.offset not in have:
                add_planned(note, row)
        note.ladder = format_ladder(ladder)
        pending_extra = [r for r in note.reviews if r.extra and r.done_on is None]
        for review in pending_extra:
            review.offset = extra.offset
        if not pending_extra and note.long_term_on is None:
            add_planned(note, extra)
    for review in note.reviews:
        review.due_on = schedule.due_date(note.first_studied_on, review.offset)
    note.reviews.sort(key=lambda r: (r.extra, r.offset))
    if (scheduler is not None and scheduler != note.scheduler) or note.scheduler == "fsrs":
        # Switching replays the history into the new scheduler; an FSRS note is replayed after any edit, since
        # a new first-study date is a new first review.
        set_scheduler(note, scheduler or note.scheduler, extra_every=extra_every, fsrs=fsrs)
    elif note.scheduler == "sr" and note.scheduler_state:
        sr_state = schedulers.decode_sr_state(note.scheduler_state)
        place_pending(note, schedulers.Sr().due_on(sr_state), extra_every)
    note.updated_at = utcnow()
