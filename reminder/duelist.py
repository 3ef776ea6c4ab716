"""Turning the due query's rows into one DueNote per note, on the store path and the light one alike.

The query itself is built with SQLAlchemy in reminder.notes.due_statement; reminder.lightread runs it, compiled
for SQLite, without SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
