"""The light write path: `add`, `done`, `undo` and `edit` on an up-to-date SQLite file without SQLAlchemy.

Importing SQLAlchemy and setting up the ORM is most of what a write costs when it is run from a shell. Here the
note is read with the light read path's compiled queries into plain rows (LightNote), changed by the same rule
functions the store path runs on ORM objects (reminder.editing, reminder.recording), and what changed is written
back with INSERT, UPDATE and DELETE statements SQLAlchemy compiled from the models (reminder.compile_sql), in
the order the ORM's flush writes them (inserts, then updates, then deletes, table by table), so the store holds
the same rows whichever path wrote them. All of it runs in one BEGIN IMMEDIATE transaction with the store's busy
timeout and pragmas.

Every function returns None when the store path must do the write instead: no file yet, a file (or a compiled
module) at a schema other than this version's, a NOTE that names no note or several (the store path gives the
error), a SQLite error, and a `done` or `undo` of a note from a vault, whose file the store path writes back
(reminder.vault.writeback works on the ORM). A mistake in the request itself (a date after today, nothing due,
a bad title) raises the rules' own NoteError, with nothing written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from reminder import editing, recording
from reminder.compiled_sql import QUERIES, REVISION, WRITES
from reminder.lightread import Unavailable, fetch, mappings
from reminder.revision import HEAD
from reminder.sqlite_files import SQLITE_BUSY_TIMEOUT_MS
from reminder.views import NoteError, NoteView, like_prefix, note_ref, pick_note, view_note

NOTE_COLUMNS = tuple(name for name, _ in QUERIES["write_note"][2])
REVIEW_COLUMNS = tuple(name for name, _ in QUERIES["write_reviews"][2])
EVENT_COLUMNS = tuple(name for name, _ in QUERIES["note_events"][2])


def _datetime(value: datetime) -> str:
    # As reminder.db.models.UTCDateTime and SQLAlchemy's SQLite DATETIME store an instant: naive UTC text with
    # microseconds (a naive value is UTC already).
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(sep=" ", timespec="microseconds")


TO_SQL: dict[str, Callable[[Any], Any]] = {"date": date.isoformat, "datetime": _datetime, "bool": int}


class LightNote(SimpleNamespace):
    """A note's columns as attributes, its ``reviews`` and ``events``: the shape reminder.recording and
    reminder.editing change, as they change a reminder.db.models.Note."""

    def add_review(self, offset: int, extra: bool, due_on: date) -> SimpleNamespace:
        review = SimpleNamespace(id=None, note_id=self.id, offset=offset, extra=extra, due_on=due_on, done_on=None)
        self.reviews.append(review)
        self.made.append(review)
        return review

    def add_event(self, **columns: Any) -> SimpleNamespace:
        event = SimpleNamespace(id=None, note_id=self.id, **columns)
        self.events.append(event)
        self.made.append(event)
        return event


def _row(item: Any, columns: Sequence[str]) -> tuple[Any, ...]:
    return tuple(getattr(item, name) for name in columns)


def open_for_writes(path: Path, *, any_thread: bool = False) -> sqlite3.Connection:
    """A connection to a file at this version's schema with the store's connection settings (busy timeout, WAL,
    foreign keys); Unavailable when the file is not one the light paths write."""
    if REVISION != HEAD or not path.is_file():
        raise Unavailable
    try:
        conn = sqlite3.connect(
            path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=not any_thread
        )
    except sqlite3.Error:
        raise Unavailable from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        # Read before anything is set on the file: one that is not the store's at this schema is left as it is.
        if _revision(conn) != HEAD:
            raise Unavailable
        # The store's own connection settings (reminder.db._configure_sqlite).
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def begin_immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction (BEGIN IMMEDIATE: the store's only write lock, taken up front) on ``conn``, committed
    when the block ends and rolled back when it raises. A SQLite error of the block itself (a unique key, a lock
    held past the busy timeout) reaches the caller as it is."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        if _revision(conn) != HEAD:  # upgraded meanwhile by a newer reminder
            raise Unavailable
        yield conn
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


@contextmanager
def immediate(path: Path) -> Iterator[sqlite3.Connection]:
    """begin_immediate on a connection of its own to ``path`` (open_for_writes), closed afterwards."""
    conn = open_for_writes(path)
    try:
        with begin_immediate(conn):
            yield conn
    finally:
        conn.close()


@contextmanager
def transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """immediate(), with any SQLite error as Unavailable: the store path then does the write."""
    try:
        with immediate(path) as conn:
            yield conn
    except sqlite3.Error:
        raise Unavailable from None


def _revision(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


def _execute(conn: sqlite3.Connection, name: str, values: dict[str, Any]) -> sqlite3.Cursor:
    sql, params, kinds = WRITES[name]
    args = []
    for param, kind in zip(params, kinds, strict=True):
        value = values[param]
        args.append(TO_SQL[kind](value) if kind and value is not None else value)
    return conn.execute(sql, args)


def load(conn: sqlite3.Connection, ref: str) -> LightNote:
    """The active note ``ref`` names, as notes.resolve_note finds it, with its reviews and events in the order
    of Note.reviews and Note.events; Unavailable when it names none or several (the store path says which)."""
    ref = note_ref(ref)
    if not ref:
        raise Unavailable
    if ref.isdigit():
        note_id = int(ref)
    else:
        exact = list(fetch(conn, "resolve_exact", title=ref.lower()))
        try:
            note_id = pick_note(ref, exact, lambda: list(fetch(conn, "resolve_prefix", prefix=like_prefix(ref))))
        except NoteError:
            raise Unavailable from None
    found = list(mappings(conn, "write_note", note_id=note_id))
    if not found:
        raise Unavailable
    reviews = [SimpleNamespace(**row) for row in mappings(conn, "write_reviews", note_id=note_id)]
    events = [SimpleNamespace(**row) for row in mappings(conn, "note_events", note_id=note_id)]
    return LightNote(**found[0], reviews=reviews, events=events, made=[])


class _Before:
    """What a note and its rows were when read: save writes only what differs."""

    def __init__(self, note: LightNote) -> None:
        self.note = _row(note, NOTE_COLUMNS)
        self.reviews = {r.id: _row(r, REVIEW_COLUMNS) for r in note.reviews}
        self.events = {e.id: e for e in note.events}


def save(conn: sqlite3.Connection, note: LightNote, before: _Before | None) -> None:
    """Write what the rules changed: the note (inserted when ``before`` is None), then its new, changed and
    removed reviews, then its new and removed events; rows made and dropped again are never written."""
    if before is None:
        note.id = _execute(conn, "insert_note", vars(note)).lastrowid
    elif _row(note, NOTE_COLUMNS) != before.note:
        _execute(conn, "update_note", {**vars(note), "key_id": note.id})
    for item in note.made:
        item.note_id = note.id
    present = {id(r) for r in note.reviews}
    for review in note.made:
        if id(review) in present:
            review.id = _execute(conn, "insert_review", vars(review)).lastrowid
    if before is not None:
        for review in sorted(note.reviews, key=lambda r: r.id or 0):
            if review.id in before.reviews and _row(review, REVIEW_COLUMNS) != before.reviews[review.id]:
                _execute(conn, "update_review", {**vars(review), "key_id": review.id})
        for gone in sorted(set(before.reviews) - {r.id for r in note.reviews}):
            _execute(conn, "delete_review", {"key_id": gone})
    events = {id(e) for e in note.events}
    for event in note.made:
        if id(event) in events:
            event.id = _execute(conn, "insert_event", vars(event)).lastrowid
    if before is not None:
        for gone in sorted(set(before.events) - {e.id for e in note.events}):
            _execute(conn, "delete_event", {"key_id": gone})


def add(path: Path, *, today: date, ladder: Sequence[int], extra_every: int, **options: Any) -> NoteView | None:
    """notes.add_note without SQLAlchemy: the new note's view, or None for the store path to add it."""
    unique_title = options.pop("unique_title", False)
    scheduler = options.pop("scheduler", "ladder")
    fsrs = options.pop("fsrs", None)
    try:
        with transaction(path) as conn:
            columns = editing.new_note_fields(today=today, ladder=ladder, **options)
            if unique_title:
                same = next(fetch(conn, "same_title", title=columns["title"].lower()), None)
                if same is not None:
                    raise editing.same_title_error(same[0], columns["title"])
            blank = dict.fromkeys(NOTE_COLUMNS)
            note = LightNote(**{**blank, **columns, "scheduler": "ladder"}, reviews=[], events=[], made=[])
            editing.start_schedule(note, ladder, extra_every, scheduler=scheduler, fsrs=fsrs)
            save(conn, note, None)
            return view_note(note, today, extra_every)
    except Unavailable:
        return None


def _change(path: Path, ref: str, rule: Callable[[LightNote], Any], *, writes_back: bool) -> tuple[Any, Any] | None:
    """(what ``rule`` returns, the note) after running it on the note ``ref`` names and saving what it changed;
    None for the store path. ``writes_back``: a note from a vault goes to the store path, which writes its file."""
    try:
        with transaction(path) as conn:
            note = load(conn, ref)
            if writes_back and note.vault_id is not None:
                raise Unavailable
            before = _Before(note)
            outcome = rule(note)
            save(conn, note, before)
            return outcome, note
    except Unavailable:
        return None


def done(
    path: Path, ref: str, *, today: date, extra_every: int, **options: Any
) -> tuple[recording.DoneResult, NoteView] | None:
    """notes.mark_done without SQLAlchemy: (its DoneResult, the note's view), or None for the store path."""

    def rule(note: LightNote) -> recording.DoneResult:
        return recording.mark_done(note, today=today, extra_every=extra_every, **options)

    changed = _change(path, ref, rule, writes_back=True)
    return None if changed is None else (changed[0], view_note(changed[1], today, extra_every))


def undo(path: Path, ref: str, *, today: date, extra_every: int, **options: Any) -> tuple[bool, NoteView] | None:
    """notes.undo without SQLAlchemy: (whether something changed, the note's view), or None for the store path."""

    def rule(note: LightNote) -> bool:
        return recording.undo(note, extra_every=extra_every, **options)

    changed = _change(path, ref, rule, writes_back=True)
    return None if changed is None else (changed[0], view_note(changed[1], today, extra_every))


def edit(path: Path, ref: str, *, today: date, extra_every: int, **changes: Any) -> NoteView | None:
    """notes.edit_note without SQLAlchemy: the note's view after the change, or None for the store path."""

    def rule(note: LightNote) -> None:
        editing.edit_note(note, today=today, extra_every=extra_every, **changes)

    changed = _change(path, ref, rule, writes_back=False)
    return None if changed is None else view_note(changed[1], today, extra_every)
