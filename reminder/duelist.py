"""Turning the due query's rows into one DueNote per note, and the light read path for `reminder due`.

The query itself is built with SQLAlchemy in reminder.notes.due_statement. A command run from a shell pays for
every import before it prints anything, and SQLAlchemy alone costs several hundred milliseconds to import on a
small machine; so on an embedded SQLite store already at this version's schema, `reminder due` runs the same
query, compiled once for SQLite and kept below as DUE_SQL_SQLITE, through the standard library's sqlite3.
tests/test_due_fast.py checks that DUE_SQL_SQLITE is exactly what SQLAlchemy compiles, and that both paths
return the same notes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from reminder import schedule
from reminder.config import parse_ladder
from reminder.revision import HEAD

# Columns: note_id, offset, extra, due_on, title, link, first_studied_on, ladder, done_count.
DUE_SQL_SQLITE = (
    'SELECT reviews.note_id, reviews."offset", reviews.extra, reviews.due_on, notes.title, notes.link, '
    "notes.first_studied_on, notes.ladder, (SELECT count(*) AS count_1 FROM reviews AS reviews_1 "
    "WHERE reviews_1.note_id = reviews.note_id AND reviews_1.extra IS 0 AND reviews_1.done_on IS NOT NULL) "
    "AS anon_1 FROM reviews JOIN notes ON notes.id = reviews.note_id WHERE reviews.done_on IS NULL "
    "AND reviews.due_on <= ? AND notes.archived_at IS NULL AND notes.long_term_on IS NULL "
    "AND (notes.snoozed_until IS NULL OR notes.snoozed_until <= ?)"
)


def group_due(rows: Iterable[Sequence], day: date, extra_every: int) -> list[schedule.DueNote]:
    """One DueNote per note from the due query's rows, most overdue first."""
    by_note: dict[int, list[Sequence]] = {}
    for row in rows:
        by_note.setdefault(row[0], []).append(row)
    result = []
    ladders: dict[str, tuple[int, ...]] = {}  # most notes share a few ladders: parse each once
    for note_id, note_rows in by_note.items():
        _, _, _, _, title, link, first, ladder_text, done_count = note_rows[0]
        ladder = ladders.get(ladder_text) or ladders.setdefault(ladder_text, parse_ladder(ladder_text))
        reviews = [schedule.Review(r[1], bool(r[2]), r[3]) for r in note_rows]
        summary = schedule.summarise_due(first, ladder, extra_every, reviews, day)
        if summary is None:  # pragma: no cover - every row selected is due by construction
            continue
        stage, is_extra, due = summary
        pct = schedule.progress(done_count, len(ladder), False)
        result.append(schedule.DueNote(note_id, title, link, stage, is_extra, due, (day - due).days, pct))
    result.sort(key=lambda d: (-d.days_late, d.title, d.note_id))
    return result


def due_from_sqlite_file(path: Path, day: date, extra_every: int) -> list[schedule.DueNote] | None:
    """The due list straight from a SQLite file, read-only; None when the full store path must open it instead
    (no file yet, or a schema other than this version's, which that path upgrades or refuses)."""
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        if not row or row[0] != HEAD:
            return None
        iso = day.isoformat()
        raw = conn.execute(DUE_SQL_SQLITE, (iso, iso)).fetchall()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    rows = [(r[0], r[1], r[2], date.fromisoformat(r[3]), r[4], r[5], date.fromisoformat(r[6]), r[7], r[8]) for r in raw]
    return group_due(rows, day, extra_every)


def due_json(item: schedule.DueNote) -> dict[str, Any]:
    return {
        "id": item.note_id,
        "title": item.title,
        "link": item.link,
        "stage": item.stage,
        "extra": item.extra,
        "due_on": item.due_on.isoformat(),
        "days_late": item.days_late,
        "progress": item.progress,
    }
