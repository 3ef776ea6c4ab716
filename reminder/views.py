"""What `show` and `list` print about a note, computed for a day from the note and its reviews.

No SQLAlchemy here: the light read path (reminder.lightread) builds the same views from rows it reads with the
standard library's sqlite3, and the store path from ORM objects; both go through view_note.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from typing import Any, NamedTuple

from reminder import schedule, schedulers
from reminder.config import stored_ladder
from reminder.duelist import due_json
from reminder.errors import NoteError as NoteError  # re-exported: defined with the other user errors


def note_ref(ref: str) -> str:
    """A NOTE argument as the lookup reads it: trimmed, and "#12" (as list and show print ids) is id 12."""
    ref = ref.strip()
    return ref[1:] if ref.startswith("#") and ref[1:].isdigit() else ref


def like_prefix(ref: str) -> str:
    """A LIKE pattern (escape character /) for the titles that start with ``ref``, its own % and _ literal."""
    return ref.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


def pick_note(ref: str, exact: Sequence[Sequence], prefixed: Callable[[], Sequence[Sequence]]) -> int:
    """The id a title reference names, from the (id, title) rows of notes.resolve_statements: the one exact
    match, else the one title it starts; NoteError when there is none, or several."""
    if len(exact) == 1:
        return exact[0][0]
    matches = prefixed()
    if not matches:
        raise NoteError("no note matches {ref!r}", ref=ref)
    if len(matches) > 1:
        shown = ", ".join(f"#{note_id} {title}" for note_id, title in matches[:10])
        more = " ..." if len(matches) > 10 else ""
        raise NoteError("{ref!r} matches several notes: {shown}{more}; use the id", ref=ref, shown=shown, more=more)
    return matches[0][0]


# The note columns view_note reads (besides its reviews and events): what list and show fetch, and no more (a
# vault note's cue questions and summary can be long, and list reads every note).
VIEW_COLUMNS = (
    "id", "title", "subject", "source", "pages", "level", "link", "first_studied_on", "ladder", "long_term_on",
    "snoozed_until", "archived_at", "scheduler", "scheduler_state",
)  # fmt: skip


def note_ladder(note: Any) -> tuple[int, ...]:
    return stored_ladder(note.ladder)


class StageView(NamedTuple):
    """A stage of a note's ladder (or its extra review). A named tuple, not a dataclass: `list` makes one per
    stage of every note, and a frozen dataclass costs several times as much to make."""

    stage: int
    due_on: date
    done_on: date | None


class NoteView(NamedTuple):
    """Everything `show` and `list` print about a note, computed for ``today``. A named tuple (immutable, as a
    frozen dataclass would be) because `list` makes one per note: a frozen dataclass of twenty fields costs
    six times as much to make."""

    id: int
    title: str
    subject: str | None
    source: str | None
    pages: str | None
    level: str | None
    link: str | None
    first_studied_on: date
    ladder: tuple[int, ...]
    stages: tuple[StageView, ...]
    extra_review: StageView | None  # the pending extra review (after the ladder), if any
    long_term_on: date | None
    snoozed_until: date | None
    progress: int
    due: schedule.DueNote | None  # set when the note is due on ``today``
    next_review: tuple[int, bool, date] | None  # (stage, extra, due date) of the next review not yet due
    archived: bool = False
    scheduler: str = "ladder"
    history: tuple[HistoryItem, ...] | None = None  # set by show (with_history=True)
    recall: float | None = None  # FSRS: predicted probability of recall today

    def as_json(self, iso: IsoDays | None = None) -> dict[str, Any]:
        """The view's JSON object; ``iso``: the days' text, shared by the views of one listing (see views_json)."""
        day = IsoDays() if iso is None else iso
        return {
            "id": self.id,
            "title": self.title,
            "subject": self.subject,
            "source": self.source,
            "pages": self.pages,
            "level": self.level,
            "link": self.link,
            "first_studied_on": day[self.first_studied_on],
            "ladder": list(self.ladder),
            "stages": [{"stage": s.stage, "due_on": day[s.due_on], "done_on": day[s.done_on]} for s in self.stages],
            "extra_review": (
                {"stage": self.extra_review.stage, "due_on": day[self.extra_review.due_on]}
                if self.extra_review
                else None
            ),
            "long_term": self.long_term_on is not None,
            "long_term_on": day[self.long_term_on],
            "snoozed_until": day[self.snoozed_until],
            "progress": self.progress,
            "progress_bar": schedule.progress_bar(self.progress),
            "due": due_json(self.due) if self.due else None,
            "next_review": (
                {"stage": self.next_review[0], "extra": self.next_review[1], "due_on": day[self.next_review[2]]}
                if self.next_review
                else None
            ),
            "archived": self.archived,
            "scheduler": self.scheduler,
            **({"recall": round(self.recall, 4)} if self.recall is not None else {}),
            **({"history": [h.as_json() for h in self.history]} if self.history is not None else {}),
        }


class IsoDays(dict[date | None, str | None]):
    """Days as their ISO text, each distinct day formatted once (a listing's notes share a few hundred days);
    None stays None."""

    def __init__(self) -> None:
        super().__init__({None: None})

    def __missing__(self, day: date | None) -> str | None:
        text = self[day] = day.isoformat() if day else None
        return text


def views_json(views: Iterable[NoteView]) -> Iterator[dict[str, Any]]:
    """The JSON objects of a listing's views, as they come."""
    iso = IsoDays()
    return (view.as_json(iso) for view in views)


@dataclass(frozen=True)
class HistoryItem:
    reviewed_on: date
    stage: int | None
    extra: bool
    rating: str
    source: str

    def as_json(self) -> dict[str, Any]:
        return {
            "reviewed_on": self.reviewed_on.isoformat(),
            "stage": self.stage,
            "extra": self.extra,
            "rating": self.rating,
            "source": self.source,
        }


def is_active(note: Any, today: date) -> bool:
    """Whether reminders apply: not archived, not long-term, not snoozed past today."""
    return (
        note.archived_at is None
        and note.long_term_on is None
        and (note.snoozed_until is None or note.snoozed_until <= today)
    )


def view_note(note: Any, today: date, extra_every: int, *, with_history: bool = False) -> NoteView:
    """The view of ``note``: a Note with its reviews (and events, with history), or a NoteRow read without the ORM."""
    ladder = note_ladder(note)
    reviews = note.reviews
    stages = tuple([StageView(r.offset, r.due_on, r.done_on) for r in reviews if not r.extra])
    # The open reviews as they are (a Review, a ReviewRow or an ORM row: the rules read the same attributes).
    pending = [r for r in reviews if r.done_on is None]
    pending_extra = [r for r in pending if r.extra]
    extra = StageView(pending_extra[0].offset, pending_extra[0].due_on, None) if pending_extra else None
    done = len(stages) - (len(pending) - len(pending_extra))
    pct = schedule.progress(done, len(ladder), note.long_term_on is not None)
    due_item = None
    next_review = None
    if is_active(note, today):
        if note.scheduler == "ladder":
            summary = schedule.summarise_due(note.first_studied_on, ladder, extra_every, pending, today)
        else:
            summary = schedule.summarise_scheduled(pending, today)
        if summary:
            stage, is_extra, due_on = summary
            due_item = schedule.DueNote(
                note.id, note.title, note.link, stage, is_extra, due_on, (today - due_on).days, pct
            )
            if is_extra:
                extra = StageView(stage, due_on, None)  # the occurrence due now, as `due` names it
        upcoming = min(((r.due_on, r.offset, r.extra) for r in pending if r.due_on > today), default=None)
        if upcoming:
            next_review = (upcoming[1], upcoming[2], upcoming[0])
    elif note.archived_at is None and note.long_term_on is None and pending and note.snoozed_until:
        # Held (snoozed, or rated `again` on the ladder): the earliest open review comes back on that day.
        first = min(pending, key=lambda r: (r.due_on, r.extra, r.offset))
        next_review = (first.offset, first.extra, max(first.due_on, note.snoozed_until))
    return NoteView(
        id=note.id,
        title=note.title,
        subject=note.subject,
        source=note.source,
        pages=note.pages,
        level=note.level,
        link=note.link,
        first_studied_on=note.first_studied_on,
        ladder=ladder,
        stages=stages,
        extra_review=extra,
        long_term_on=note.long_term_on,
        snoozed_until=note.snoozed_until,
        progress=pct,
        due=due_item,
        next_review=next_review,
        archived=note.archived_at is not None,
        scheduler=note.scheduler,
        history=(
            tuple(HistoryItem(e.reviewed_on, e.stage, e.extra, e.rating, e.source) for e in note.events)
            if with_history
            else None
        ),
        recall=_recall(note, today),
    )


def _recall(note: Any, today: date) -> float | None:
    if note.scheduler != "fsrs" or not note.scheduler_state:
        return None
    state = schedulers.decode_state(note.scheduler_state)
    assert isinstance(state, schedulers.FsrsState)
    return schedulers.Fsrs().recall(state, today)


class ReviewRow(NamedTuple):
    note_id: int
    offset: int
    extra: bool
    due_on: date
    done_on: date | None


class NoteRow(SimpleNamespace):
    """A note's columns as attributes and its ``reviews``: what view_note reads from a Note, without the ORM.
    (A namespace: its attributes are read at C speed, where a __getattr__ would cost a call each.)"""


def views_from_rows(
    note_rows: Iterable[Mapping[Any, Any]],
    review_rows: Iterable[Sequence],
    today: date,
    extra_every: int,
    *,
    event_rows: Iterable[Mapping[str, Any]] | None = None,
    limit: int | None = None,
) -> list[NoteView]:
    """Views of notes from the rows of notes.list_statements: the notes by id and their reviews by note id,
    merged as they come (neither side is held in memory). With ``event_rows`` (notes.history_statement's, for
    `show`), each view carries its review history. With ``limit``, the first that many notes: the rows after
    them are not read."""
    events: dict[int, list[SimpleNamespace]] = {}
    for event in event_rows or ():
        events.setdefault(event["note_id"], []).append(SimpleNamespace(**event))
    by_note = itertools.groupby(review_rows, key=operator.itemgetter(0))
    group = next(by_note, None)
    with_history = event_rows is not None
    views = []
    for note in itertools.islice(note_rows, limit):
        note_id = note["id"]
        while group is not None and group[0] < note_id:  # reviews of a note not listed (none, in practice)
            group = next(by_note, None)
        own: list[ReviewRow] = []
        if group is not None and group[0] == note_id:
            # Both paths return `extra` as a bool already (SQLAlchemy's Boolean, lightread's conversion).
            own = list(map(ReviewRow._make, group[1]))
            group = next(by_note, None)
        item = NoteRow(**note, reviews=own, events=events.get(note_id, []))
        views.append(view_note(item, today, extra_every, with_history=with_history))
    return views
