"""What `show` and `list` print about a note, computed for a day from the note and its reviews.

No SQLAlchemy here: the light read path (reminder.lightread) builds the same views from rows it reads with the
standard library's sqlite3, and the store path from rows or ORM objects; every view is made by view_of, where the
rules are applied, and written as JSON by NoteView.json_text.
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from reminder import schedule
from reminder.config import stored_ladder
from reminder.duelist import due_json_text
from reminder.errors import NoteError as NoteError  # re-exported: defined with the other user errors

if TYPE_CHECKING:
    from collections.abc import Collection


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

    def json_text(self, parts: JsonParts | None = None) -> str:
        """The view's JSON object as text, as `list --json` prints it (each item on one line, with json's
        default separators ", " and ": ", non-ASCII as it is). This is where the object's shape is written:
        as_json parses it back for the commands that indent it. Written out here rather than by json's encoder
        from a dict: the encoder takes about as long as making the dict, and both several times what this
        does, for fifty values a note. ``parts``: what the views of one listing share."""
        parts = JsonParts() if parts is None else parts
        (
            note_id, title, subject, source, pages, level, link, first_studied_on, ladder, stages, extra_review,
            long_term_on, snoozed_until, progress, due, next_review, archived, scheduler, history, recall,
        ) = self  # fmt: skip
        day, string, text = parts.day, parts.string, parts.text
        out = (
            f'{{"id": {note_id}, "title": {string(title)}, "subject": {text[subject]}, "source": {text[source]}, '
            f'"pages": {text[pages]}, "level": {text[level]}, '
            f'"link": {"null" if link is None else string(link)}, '
            f'"first_studied_on": {day[first_studied_on]}, "ladder": {parts.ladder[ladder]}, '
            f'"stages": [{", ".join(map(parts.stage.__getitem__, stages))}], '
            f'"extra_review": {parts.extra_review[extra_review]}, '
            f'"long_term": {"false" if long_term_on is None else "true"}, '
            f'"long_term_on": {day[long_term_on]}, "snoozed_until": {day[snoozed_until]}, '
            f'"progress": {progress}, "progress_bar": {parts.bar[progress]}, '
            f'"due": {"null" if due is None else due_json_text(due, day)}, '
            f'"next_review": {parts.next_review[next_review]}, '
            f'"archived": {"true" if archived else "false"}, "scheduler": {text[scheduler]}'
        )
        if recall is not None:
            out += f', "recall": {parts.encode(round(recall, 4))}'  # (json's text of a float: NaN, not nan)
        if history is not None:
            out += f', "history": {parts.encode([h.as_json() for h in history])}'
        return out + "}"

    def as_json(self) -> dict[str, Any]:
        """The view's JSON object (json_text's, parsed: one statement of its shape)."""
        import json

        data: dict[str, Any] = json.loads(self.json_text())
        return data


K = TypeVar("K")


class Texts(dict[K | None, str]):
    """The JSON text of values that repeat from note to note, each written once (by ``write``) and looked up
    after that at C speed; None is null."""

    def __init__(self, write: Callable[[K], str]) -> None:
        super().__init__({None: "null"})
        self.write = write

    def __missing__(self, value: K | None) -> str:
        assert value is not None  # (None is there from the start)
        text = self[value] = self.write(value)
        return text


class JsonDays(Texts[date]):
    """Days as their JSON text ("2026-02-01" in quotes; null for None): a listing's notes share a few hundred."""

    def __init__(self) -> None:
        super().__init__(lambda day: f'"{day.isoformat()}"')


class JsonParts:
    """What the JSON text of one listing's views shares: the days' text, json's string and value encoders
    (the same C functions json.dumps(ensure_ascii=False) uses, so strings come out byte for byte as they did),
    and the texts that repeat from note to note (subjects, ladders, stages, progress bars)."""

    def __init__(self) -> None:
        import json
        from json.encoder import encode_basestring  # the C one, when the interpreter has it (as CPython does)

        day = self.day = JsonDays()
        self.string: Callable[[str], str] = encode_basestring
        self.encode: Callable[[Any], str] = json.JSONEncoder(ensure_ascii=False).encode
        self.text = Texts[str](encode_basestring)
        self.ladder = Texts[tuple[int, ...]](lambda ladder: f"[{', '.join(map(str, ladder))}]")
        self.bar = Texts[int](lambda progress: encode_basestring(schedule.progress_bar(progress)))
        self.stage = Texts[StageView](
            lambda s: f'{{"stage": {s.stage}, "due_on": {day[s.due_on]}, "done_on": {day[s.done_on]}}}'
        )
        self.extra_review = Texts[StageView](lambda s: f'{{"stage": {s.stage}, "due_on": {day[s.due_on]}}}')
        self.next_review = Texts[tuple[int, bool, date]](
            lambda r: f'{{"stage": {r[0]}, "extra": {"true" if r[1] else "false"}, "due_on": {day[r[2]]}}}'
        )


def views_json(views: Iterable[NoteView]) -> Iterator[str]:
    """The JSON text of a listing's views (NoteView.json_text), as they come."""
    parts = JsonParts()
    return (view.json_text(parts) for view in views)


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
    return active_on(note.archived_at, note.long_term_on, note.snoozed_until, today)


def active_on(archived_at: Any, long_term_on: date | None, snoozed_until: date | None, today: date) -> bool:
    """is_active, from the three columns it reads."""
    return archived_at is None and long_term_on is None and (snoozed_until is None or snoozed_until <= today)


def view_note(note: Any, today: date, extra_every: int, *, with_history: bool = False) -> NoteView:
    """The view of ``note``: a Note with its reviews (and events, with history), or any object with the
    attributes VIEW_COLUMNS names, ``reviews`` and (with history) ``events``."""
    history = (
        tuple(HistoryItem(e.reviewed_on, e.stage, e.extra, e.rating, e.source) for e in note.events)
        if with_history
        else None
    )
    columns = tuple([getattr(note, name) for name in VIEW_COLUMNS])
    return view_of(columns, note.reviews, today, extra_every, history)


def view_of(
    columns: Sequence[Any],
    reviews: Collection[Any],
    today: date,
    extra_every: int,
    history: tuple[HistoryItem, ...] | None = None,
) -> NoteView:
    """The view of a note from its VIEW_COLUMNS values, in that order, and its reviews (anything with the
    attributes of a Review: offset, extra, due_on, done_on; its stages in offset order, and its extra reviews
    in offset order). Where every rule of what a view shows is applied, for a note read any way."""
    (
        note_id, title, subject, source, pages, level, link, first_studied_on, ladder_text, long_term_on,
        snoozed_until, archived_at, scheduler, scheduler_state,
    ) = columns  # fmt: skip
    ladder = stored_ladder(ladder_text)
    stages = tuple([new_stage((r.offset, r.due_on, r.done_on)) for r in reviews if not r.extra])
    # The open reviews as they are (a Review, a ReviewRow or an ORM row: the rules read the same attributes).
    pending = [r for r in reviews if r.done_on is None]
    pending_extra = [r for r in pending if r.extra]
    extra = StageView(pending_extra[0].offset, pending_extra[0].due_on, None) if pending_extra else None
    done = len(stages) - (len(pending) - len(pending_extra))
    pct = schedule.progress(done, len(ladder), long_term_on is not None)
    due_item = None
    next_review = None
    if active_on(archived_at, long_term_on, snoozed_until, today):
        if pending:  # (with none open, nothing is due and nothing comes next)
            if scheduler == "ladder":
                summary = schedule.summarise_due(first_studied_on, ladder, extra_every, pending, today)
            else:
                summary = schedule.summarise_scheduled(pending, today)
            if summary:
                stage, is_extra, due_on = summary
                due_item = schedule.DueNote(note_id, title, link, stage, is_extra, due_on, (today - due_on).days, pct)
                if is_extra:
                    extra = StageView(stage, due_on, None)  # the occurrence due now, as `due` names it
            upcoming = min([(r.due_on, r.offset, r.extra) for r in pending if r.due_on > today], default=None)
            if upcoming:
                next_review = (upcoming[1], upcoming[2], upcoming[0])
    elif archived_at is None and long_term_on is None and pending and snoozed_until:
        # Held (snoozed, or rated `again` on the ladder): the earliest open review comes back on that day.
        first = min(pending, key=lambda r: (r.due_on, r.extra, r.offset))
        next_review = (first.offset, first.extra, max(first.due_on, snoozed_until))
    return new_view((
        note_id, title, subject, source, pages, level, link, first_studied_on, ladder, stages, extra,
        long_term_on, snoozed_until, pct, due_item, next_review, archived_at is not None, scheduler, history,
        recall(scheduler, scheduler_state, today) if scheduler == "fsrs" else None,
    ))  # fmt: skip


# A named tuple made from a tuple of all its fields, in one C call: its __new__ is a Python function, and called
# with keywords it cost more than the rest of a view (a listing makes one view per note, one StageView per stage).
new_view = functools.partial(tuple.__new__, NoteView)
new_stage = functools.partial(tuple.__new__, StageView)


def recall(scheduler: str, scheduler_state: str | None, today: date) -> float | None:
    """FSRS's predicted probability of recall today; None for another scheduler, or before a first review."""
    if scheduler != "fsrs" or not scheduler_state:
        return None
    from reminder import schedulers  # FSRS's model: a listing without FSRS notes does not import it

    state = schedulers.decode_state(scheduler_state)
    assert isinstance(state, schedulers.FsrsState)
    return schedulers.Fsrs().recall(state, today)


class ReviewRow(NamedTuple):
    """A review as the view rules read it, where no Review object is at hand (the light read path)."""

    offset: int
    extra: bool
    due_on: date
    done_on: date | None


def views_from_rows(
    note_rows: Iterable[Sequence[Any]],
    review_groups: Iterable[tuple[int, Collection[Any]]],
    today: date,
    extra_every: int,
    *,
    event_rows: Iterable[Mapping[str, Any]] | None = None,
    limit: int | None = None,
) -> list[NoteView]:
    """Views of notes from the rows of notes.list_statements: the notes by id, each its VIEW_COLUMNS values in
    that order, and their reviews grouped by note id in the same order (by_note makes the groups), merged as
    they come (neither side is held in memory; a group with no note listed, an archived note's, is skipped).
    With ``event_rows`` (notes.history_statement's, for `show`), each view carries its review history. With
    ``limit``, the first that many notes: the rows after them are not read."""
    events: dict[int, list[HistoryItem]] = {}
    for e in event_rows or ():
        events.setdefault(e["note_id"], []).append(
            HistoryItem(e["reviewed_on"], e["stage"], e["extra"], e["rating"], e["source"])
        )
    groups = iter(review_groups)
    group = next(groups, None)
    views = []
    for note in itertools.islice(note_rows, limit):
        note_id = note[0]
        while group is not None and group[0] < note_id:
            group = next(groups, None)
        own: Collection[Any] = ()
        if group is not None and group[0] == note_id:
            own = group[1]
            group = next(groups, None)
        history = tuple(events.get(note_id, ())) if event_rows is not None else None
        views.append(view_of(note, own, today, extra_every, history))
    return views


def by_note(rows: Iterable[tuple[int, Any]]) -> Iterator[tuple[int, list[Any]]]:
    """(note id, that note's reviews) from (note id, review) pairs in note order, as views_from_rows takes them."""
    for note_id, pairs in itertools.groupby(rows, key=operator.itemgetter(0)):
        yield note_id, [review for _, review in pairs]
