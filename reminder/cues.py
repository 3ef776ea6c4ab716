"""Keeping each vault note's cue questions and summary in the store (parsed by reminder.cornell).

The vault sync gives a ``Cues`` the files it walked and the bytes of each note file as it reads it, then calls
``refresh_cues`` once; a note synced before the store kept questions (cue_questions NULL) is read once more to fill
them in. Template placeholders are the lines of the vault's template notes: the files in its templates folders,
which the sync names (reminder.vault.templates: `vault add --templates`, Obsidian's settings, else the folder
names). The sync hands that rule in as ``is_template`` rather than this module importing it, since the vault
package imports this one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
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


class Cues:
    """The cue columns of the note files a sync reads, taken as each file is read: the sync then need not keep
    every file's text to the end (a large vault's would be gigabytes). ``refresh_cues`` stores them.
    ``is_template(rel)`` tells the vault's template files, whose lines are placeholders."""

    def __init__(self, files: list[Any], is_template: Callable[[str], bool]) -> None:
        self.files = files  # every file walked: the templates' lines are the placeholders
        self.is_template = is_template
        self.columns: dict[str, dict[str, Any]] = {}
        self._placeholders: frozenset[str] | None = None

    @property
    def placeholders(self) -> frozenset[str]:
        if self._placeholders is None:  # read the templates only once a note needs them
            self._placeholders = placeholders_of(self.files, self.is_template)
        return self._placeholders

    def add(self, rel: str, data: bytes) -> None:
        self.columns[rel] = cue_columns(data.decode("utf-8", "replace"), self.placeholders)


def refresh_cues(session: Session, vault_id: int, cues: Cues) -> None:
    """Store the questions of every note file read in this sync (``cues``), and of notes that have none stored
    yet."""
    missing = {
        rel
        for rel in session.scalars(
            select(Note.vault_path).where(
                Note.vault_id == vault_id, Note.cue_questions.is_(None), Note.archived_at.is_(None)
            )
        )
        if rel is not None  # a vault's notes all have a path; the column is nullable for notes added by hand
    }
    by_rel = {f.rel: f for f in cues.files}
    todo = dict(cues.columns)
    for rel in missing - set(todo):
        if rel in by_rel and (text := _read_text(by_rel[rel].path)) is not None:
            todo[rel] = cue_columns(text, cues.placeholders)
    if not todo:
        return
    params = [{"b_path": rel, **columns} for rel, columns in todo.items()]
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
