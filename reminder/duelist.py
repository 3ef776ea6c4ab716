"""Turning the due query's rows into one DueNote per note, on the store path and the light one alike.

The query itself is built with SQLAlchemy in reminder.notes.due_statement; reminder.lightread runs it, compiled
for SQLite, without SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from reminder import schedule
from reminder.config import stored_ladder


def group_due(rows: Iterable[Sequence], day: date, extra_every: int) -> list[schedule.DueNote]:
    """One DueNote per note from the due query's rows, most overdue first."""
    by_note: dict[int, list[Sequence]] = {}
    for row in rows:
        by_note.setdefault(row[0], []).append(row)
    result = []
    for note_id, note_rows in by_note.items():
        _, _, _, _, title, link, first, ladder_text, done_count, scheduler = note_rows[0]
        ladder = stored_ladder(ladder_text)
        reviews = [schedule.Review(r[1], bool(r[2]), r[3]) for r in note_rows]
        if scheduler == "ladder":
            summary = schedule.summarise_due(first, ladder, extra_every, reviews, day)
        else:  # FSRS, SR: every pending row carries the scheduler's day
            summary = schedule.summarise_scheduled(reviews, day)
        if summary is None:  # pragma: no cover - every row selected is due by construction
            continue
        stage, is_extra, due = summary
        pct = schedule.progress(done_count, len(ladder), False)
        result.append(schedule.DueNote(note_id, title, link, stage, is_extra, due, (day - due).days, pct))
    result.sort(key=lambda d: (-d.days_late, d.title, d.note_id))
    return result


def due_json_text(item: schedule.DueNote, day: Mapping[date | None, str] | None = None) -> str:
    """A due note's JSON object as text, with json's default separators (", ", ": ") and non-ASCII as it is:
    where its shape is written, for `due --json` (through due_json) and inside each note of `list --json`.
    ``day``: each day's JSON text, when a listing shares them (views.JsonDays)."""
    from json.encoder import encode_basestring as string  # the C function json.dumps(ensure_ascii=False) uses

    due_on = f'"{item.due_on.isoformat()}"' if day is None else day[item.due_on]
    link = "null" if item.link is None else string(item.link)
    return (
        f'{{"id": {item.note_id}, "title": {string(item.title)}, "link": {link}, "stage": {item.stage}, '
        f'"extra": {"true" if item.extra else "false"}, "due_on": {due_on}, "days_late": {item.days_late}, '
        f'"progress": {item.progress}}}'
    )


def due_json(item: schedule.DueNote) -> dict[str, Any]:
    """A due note's JSON object (due_json_text's, parsed)."""
    import json

    data: dict[str, Any] = json.loads(due_json_text(item))
    return data
