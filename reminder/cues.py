"""Keeping each vault note's cue questions and summary in the store (parsed by reminder.cornell).

The vault sync calls ``refresh_cues`` once per sync with the files it walked and the bytes of those it read; a
note synced before the store kept questions (cue_questions NULL) is read once more to fill them in. Template
placeholders are the lines of the vault's template notes: the files in its templates folders, which the sync
names (reminder.vault.templates: `vault add --templates`, Obsidian's settings, else the folder names). The sync
hands that rule in as ``is_template`` rather than this module importing it, since the vault package imports
this one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from reminder import cornell
from reminder.db.models import Note

MAX_BYTES = 1_000_000
_CHUNK = 500


class WalkedFile(Protocol):
    rel: str
    path: str


def _read_text(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_BYTES:
        return None
    return data.decode("utf-8", "replace")


def placeholders_of(files: Iterable[WalkedFile], is_template: Callable[[str], bool]) -> frozenset[str]:
    texts = [text for f in files if is_template(f.rel) and (text := _read_text(f.path)) is not None]
    return cornell.template_lines(texts)


def cue_columns(text: str, placeholders: frozenset[str]) -> dict[str, Any]:
    parsed = cornell.parse(text, placeholders)
    questions = json.dumps([c.as_json() for c in parsed.questions], ensure_ascii=False)
    return {"b_questions": questions, "b_summary": parsed.summary or None}


def refresh_cues(
    session: Session,
    vault_id: int,
    files: list[Any],
    read: Mapping[str, bytes],
    is_template: Callable[[str], bool],
) -> None:
    """Store the questions of every note file read in this sync (``read``: path -> bytes), and of notes that
    have none stored yet. ``is_template(rel)`` tells the vault's template files, whose lines are placeholders."""
    missing = {
        rel
        for rel in session.scalars(
            select(Note.vault_path).where(
                Note.vault_id == vault_id, Note.cue_questions.is_(None), Note.archived_at.is_(None)
            )
        )
        if rel is not None  # a vault's notes all have a path; the column is nullable for notes added by hand
    }
    by_rel = {f.rel: f for f in files}
    todo: dict[str, str] = {rel: data.decode("utf-8", "replace") for rel, data in read.items()}
    for rel in missing - set(todo):
        if rel in by_rel and (text := _read_text(by_rel[rel].path)) is not None:
            todo[rel] = text
    if not todo:
        return
    placeholders = placeholders_of(files, is_template)
    params = [{"b_path": rel, **cue_columns(text, placeholders)} for rel, text in todo.items()]
    table = Note.__table__
    stmt = (
        update(table)
        .where(table.c.vault_id == vault_id, table.c.vault_path == bindparam("b_path"))
        .values(cue_questions=bindparam("b_questions"), cue_summary=bindparam("b_summary"))
    )
    for start in range(0, len(params), _CHUNK):
        session.execute(stmt, params[start : start + _CHUNK])


def note_cues(note: Note) -> tuple[list[cornell.Cue], str]:
    """The stored questions and summary of a note (none for a note added with the CLI)."""
    raw = json.loads(note.cue_questions) if note.cue_questions else []
    return [cornell.Cue(item["q"], item.get("a", "")) for item in raw], note.cue_summary or ""
