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
import marshal
import tempfile
from collections.abc import Callable, Collection, Generator, Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any, Protocol

from reminder import cornell

if TYPE_CHECKING:  # the store's modules are imported where they are used: a sync's file workers need only cue_columns
    from sqlalchemy.orm import Session

    from reminder.db.models import Note

MAX_BYTES = 1_000_000
_CHUNK = 500


class WalkedFile(Protocol):
    rel: str
    path: str


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_BYTES:
        return None
    return data


def placeholders_of(files: Iterable[WalkedFile], is_template: Callable[[str], bool]) -> frozenset[str]:
    texts = [
        data.decode("utf-8", "replace")
        for f in files
        if is_template(f.rel) and (data := _read_bytes(f.path)) is not None
    ]
    return cornell.template_lines(texts)


def cue_columns(data: bytes, placeholders: frozenset[str]) -> dict[str, Any]:
    """The cue columns of a note file's bytes (only the sections the parse reads are decoded)."""
    parsed = cornell.parse_bytes(data, placeholders)
    questions = json.dumps([c.as_json() for c in parsed.questions], ensure_ascii=False)
    return {"b_questions": questions, "b_summary": parsed.summary or None}


class Cues:
    """The cue columns of the note files a sync reads, taken as each file is read: the sync then need not keep
    every file's text to the end (a large vault's would be gigabytes). ``refresh_cues`` stores them (the new
    notes' are split off first, and inserted with their rows).
    ``is_template(rel)`` tells the vault's template files, whose lines are placeholders.

    Nor are the columns kept in memory: the notes they belong to are stored only after every file is read, and a
    first sync of 100k notes held over half a gigabyte of question text until then. Each chunk of them goes to
    an anonymous temporary file as it fills, and ``chunks`` reads them back one at a time."""

    def __init__(self, files: list[Any], is_template: Callable[[str], bool]) -> None:
        self.files = files  # every file walked: the templates' lines are the placeholders
        self.is_template = is_template
        self.read: set[str] = set()  # the files whose columns were taken
        self._chunk: list[tuple[str, str, str | None]] = []
        self._spill: IO[bytes] | None = None
        self._placeholders: frozenset[str] | None = None

    @property
    def placeholders(self) -> frozenset[str]:
        if self._placeholders is None:  # read the templates only once a note needs them
            self._placeholders = placeholders_of(self.files, self.is_template)
        return self._placeholders

    def add(self, rel: str, data: bytes) -> None:
        columns = cue_columns(data, self.placeholders)
        self.add_columns(rel, columns["b_questions"], columns["b_summary"])

    def add_columns(self, rel: str, questions: str, summary: str | None) -> None:
        """Columns already taken from the file's bytes (by cue_columns, maybe in a worker process)."""
        self.read.add(rel)
        self._keep((rel, questions, summary))

    def _keep(self, entry: tuple[str, str, str | None]) -> None:
        self._chunk.append(entry)
        if len(self._chunk) >= _CHUNK:
            if self._spill is None:
                self._spill = tempfile.TemporaryFile()  # noqa: SIM115 - _chunks_taken() closes it
            marshal.dump(self._chunk, self._spill)  # plain tuples of str: marshal is the fastest format for them
            self._chunk = []

    def _chunks_taken(self) -> Iterator[list[tuple[str, str, str | None]]]:
        """Every chunk of the columns taken so far, in the order taken, each once (the spill is closed after):
        this Cues then holds none, and takes new ones again."""
        spill, last = self._spill, self._chunk
        self._spill, self._chunk = None, []
        if spill is not None:
            with spill:
                spill.seek(0)
                while True:
                    try:
                        yield marshal.load(spill)
                    except EOFError:
                        break
        if last:
            yield last

    def split(self, wanted: Collection[str]) -> Cues:
        """The columns of the paths in ``wanted``, moved to a Cues of their own (in the order taken); this one
        keeps the others. The sync inserts its new notes with theirs, in batches after the apply."""
        moved = Cues(self.files, self.is_template)
        if self.read.issubset(wanted):  # all are wanted (a first sync: every note is new): no pass over them
            moved._chunk, moved._spill, self._chunk, self._spill = self._chunk, self._spill, [], None
            return moved
        for chunk in self._chunks_taken():
            for entry in chunk:
                (moved if entry[0] in wanted else self)._keep(entry)
        return moved

    def entries(self) -> Generator[tuple[str, str, str | None], None, None]:
        """(path, questions, summary) of every column taken, in the order taken, each once."""
        for chunk in self._chunks_taken():
            yield from chunk

    def chunks(self, skip: Collection[str] = ()) -> Iterator[list[dict[str, Any]]]:
        """The columns taken, as update parameters, a chunk at a time (each once); none for the paths in
        ``skip``."""
        for chunk in self._chunks_taken():
            yield [{"b_path": rel, "b_questions": q, "b_summary": s} for rel, q, s in chunk if rel not in skip]


def refresh_cues(session: Session, vault_id: int, cues: Cues, skip: Collection[str] = ()) -> None:
    """Store the questions of every note file read in this sync (``cues``), and of notes that have none stored
    yet. Not those of the paths in ``skip``: files another sync recorded after this one read them."""
    from sqlalchemy import bindparam, select, update

    from reminder.db.models import Note

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
    for rel in sorted(missing - cues.read):
        if rel in by_rel and (data := _read_bytes(by_rel[rel].path)) is not None:
            cues.add(rel, data)
    table = Note.__table__
    stmt = (
        update(table)
        .where(table.c.vault_id == vault_id, table.c.vault_path == bindparam("b_path"))
        .values(cue_questions=bindparam("b_questions"), cue_summary=bindparam("b_summary"))
    )
    for params in cues.chunks(skip):
        if params:
            session.execute(stmt, params)


def note_cues(note: Note) -> tuple[list[cornell.Cue], str]:
    """The stored questions and summary of a note (none for a note added with the CLI)."""
    raw = json.loads(note.cue_questions) if note.cue_questions else []
    return [cornell.Cue(item["q"], item.get("a", "")) for item in raw], note.cue_summary or ""
