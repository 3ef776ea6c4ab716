"""The light read path: `due`, `list`, `show NOTE-ID` and `status` on an up-to-date SQLite file without SQLAlchemy.

The queries are the SQLAlchemy statements of reminder.notes, compiled ahead of time for SQLite into
reminder/compiled_sql.py (see reminder.compile_sql); here they run through the standard library's sqlite3, and
their rows become the same DueNote and NoteView objects as on the store path, through the same functions
(duelist.group_due, views.views_from_rows). Every function returns None when the store path must answer
instead: no file yet, or a file (or a compiled module) at a schema other than this version's, which that path
upgrades or refuses with its own message.
"""

from __future__ import annotations

import itertools
import operator
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from reminder import schedule
from reminder.compiled_sql import QUERIES, REVISION
from reminder.duelist import group_due
from reminder.revision import HEAD
from reminder.sqlite_files import read_only_uri, sqlite_path
from reminder.views import NoteError, NoteView, ReviewRow, like_prefix, note_ref, pick_note, views_from_rows

if TYPE_CHECKING:
    from reminder.slots import Status

CONVERT: dict[str, Callable[[Any], Any]] = {
    "date": date.fromisoformat,
    # The stored form is naive UTC (reminder.db.models.UTCDateTime); read aware, as the store path reads it.
    "datetime": lambda text: datetime.fromisoformat(text).replace(tzinfo=UTC),
    "bool": bool,
}


class Unavailable(Exception):
    """This file is not one the light path can read: the store path opens it instead."""


def sqlite_file(url: str) -> Path | None:
    """The store's file for a SQLite URL without options (a URL with ``?...`` goes through SQLAlchemy)."""
    return sqlite_path(url) if "?" not in url else None


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to a file at this version's schema; Unavailable otherwise."""
    if REVISION != HEAD or not path.is_file():
        raise Unavailable
    try:
        conn = sqlite3.connect(read_only_uri(path), uri=True, timeout=10)
    except sqlite3.Error:
        raise Unavailable from None
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        if not row or row[0] != HEAD:
            raise Unavailable
        yield conn
    except sqlite3.Error:
        raise Unavailable from None
    finally:
        conn.close()


class Converted(dict[Any, Any]):
    """Values of one kind of column as SQLAlchemy returns them, from their SQLite text: each distinct text is
    converted once (a store's dates repeat a lot) and looked up at C speed after that; NULL stays None."""

    def __init__(self, convert: Callable[[Any], Any]) -> None:
        super().__init__({None: None})
        self.convert = convert

    def __missing__(self, raw: Any) -> Any:
        value = self[raw] = self.convert(raw)
        return value


def run(conn: sqlite3.Connection, name: str, params: dict[str, Any]) -> tuple[sqlite3.Cursor, list[Any]]:
    """The cursor of compiled query ``name`` and the converters of its columns (None where a value is read as
    it comes)."""
    sql, names, columns, fixed = QUERIES[name]
    given = {**fixed, **params}
    values = [given[n].isoformat() if isinstance(given[n], date) else given[n] for n in names]
    caches: dict[str, Converted] = {}
    return conn.execute(sql, values), [
        caches.setdefault(kind, Converted(CONVERT[kind])) if kind else None for _, kind in columns
    ]


def fetch(conn: sqlite3.Connection, name: str, **params: Any) -> Iterator[tuple]:
    """The rows of compiled query ``name`` as they come, each value as SQLAlchemy would have returned it."""
    cursor, kinds = run(conn, name, params)
    converters = [(i, converted) for i, converted in enumerate(kinds) if converted is not None]
    if not converters:
        yield from cursor
        return
    for raw in cursor:
        row = list(raw)
        for i, converted in converters:
            row[i] = converted[row[i]]
        yield tuple(row)


def grouped(
    conn: sqlite3.Connection, name: str, make: Callable[[tuple], Any], **params: Any
) -> Iterator[tuple[Any, list]]:
    """The rows of compiled query ``name`` grouped by their first column, as views.views_from_rows takes a
    listing's reviews: (first column, [``make`` of the other columns of each row, converted as SQLAlchemy would
    return them]). Each distinct rest of a row is converted and made once: a store's reviews repeat a lot (a few
    hundred days, a few offsets), and converting them row by row was most of the cost of reading them."""
    cursor, kinds = run(conn, name, params)
    rest_kinds = kinds[1:]

    def convert(rest: tuple) -> Any:
        return make(tuple([raw if c is None else c[raw] for raw, c in zip(rest, rest_kinds, strict=True)]))

    # Row by row, all of it runs in C (groupby, the slices, the dictionary's lookups); Python only per note, and
    # per distinct rest of a row.
    made = Converted(convert).__getitem__
    rest = operator.itemgetter(slice(1, None))
    for key, rows in itertools.groupby(cursor, key=operator.itemgetter(0)):
        yield key, list(map(made, map(rest, rows)))


def mappings(conn: sqlite3.Connection, name: str, **params: Any) -> Iterator[dict[str, Any]]:
    keys = [key for key, _ in QUERIES[name][2]]
    for row in fetch(conn, name, **params):
        yield dict(zip(keys, row, strict=True))


def due_from_sqlite_file(path: Path, day: date, extra_every: int) -> list[schedule.DueNote] | None:
    try:
        with connect(path) as conn:
            rows = list(fetch(conn, "due", day=day))
    except Unavailable:
        return None
    return group_due(rows, day, extra_every)


def list_from_sqlite_file(
    path: Path, today: date, extra_every: int, *, include_archived: bool = False, limit: int | None = None
) -> list[NoteView] | None:
    prefix = "list_all" if include_archived else "list"
    try:
        with connect(path) as conn:
            # Two cursors read side by side, both in note order: no row list is held in memory.
            reviews = grouped(conn, f"{prefix}_reviews", ReviewRow._make)
            return views_from_rows(fetch(conn, f"{prefix}_notes"), reviews, today, extra_every, limit=limit)
    except Unavailable:
        return None


def note_from_sqlite_file(path: Path, ref: str, today: date, extra_every: int) -> NoteView | None:
    """The note ``ref`` names (an id or a title, as notes.resolve_note reads it); None also when it names none,
    or several, so that the store path gives its own error."""
    ref = note_ref(ref)
    try:
        with connect(path) as conn:
            if ref.isdigit():
                note_id = int(ref)
            else:
                exact = list(fetch(conn, "resolve_exact", title=ref.lower()))
                try:
                    note_id = pick_note(
                        ref, exact, lambda: list(fetch(conn, "resolve_prefix", prefix=like_prefix(ref)))
                    )
                except NoteError:
                    return None
            views = views_from_rows(
                fetch(conn, "note", note_id=note_id),
                grouped(conn, "note_reviews", ReviewRow._make, note_id=note_id),
                today,
                extra_every,
                event_rows=mappings(conn, "note_events", note_id=note_id),
            )
    except Unavailable:
        return None
    return views[0] if views else None


def status_from_sqlite_file(path: Path, cron: str, zone: str, now: datetime) -> Status | None:
    """What `reminder status` shows (reminder.runner.status), its rows with the Slot and Outbox attributes."""
    from reminder import slots  # croniter: only status needs it here

    try:
        with connect(path) as conn:
            found = {
                name: [SimpleNamespace(**row) for row in mappings(conn, name)]
                for name in ("status_last_slot", "status_pending", "status_failed", "status_last_sent")
            }
    except Unavailable:
        return None
    last_slot, last_sent = found["status_last_slot"], found["status_last_sent"]
    return slots.Status(
        last_slot[0] if last_slot else None,
        slots.next_slot(cron, zone, now),
        found["status_pending"],
        found["status_failed"],
        last_sent[0] if last_sent else None,
    )


def vault_folders_from_sqlite_file(path: Path) -> list[str] | None:
    """The registered vaults' folders, by name (reminder.runner.status_statements' ``status_vault_folders``)."""
    try:
        with connect(path) as conn:
            return [row[0] for row in fetch(conn, "status_vault_folders")]
    except Unavailable:
        return None
