"""The sync of one vault into the store (and of every registered vault): the engine behind `reminder sync` and
the runner's sync before each slot.

Three phases, so that the store's write lock (on SQLite a write transaction is BEGIN IMMEDIATE, and a phone press
or `reminder done` waits for it) is held only while rows change, never across file I/O:
1. Read (reminder.vault.reading), in a read transaction: the vault's rows, its files walked, read and parsed.
2. Apply, in one short write transaction: each row the read phase used is read again; one another sync recorded
   meanwhile (or whose Spaced Repetition schedule a press changed) is left as that writer left it, its cues and
   schedule too (the next sync reads its file again if it changed since), one a press
   changed is merged as it is now (the flag merge runs on the row read under the lock, so a press between the
   phases is neither lost nor counted twice). New notes are inserted (a path another sync added meanwhile is an
   existing note), gone ones archived. A note whose file may need a write-back is left as after a write-back that
   lost a race (its file read, its flags taken, no fingerprint): a crash before its write is recorded leaves the
   next sync to read and write it again.
3. Write back, outside any transaction: each write planned from the row as the apply left it, the file written
   (files.replace_if_unchanged), and what the writes learned recorded on the rows as they are then, in a short
   transaction per RECORD_BATCH files (and the files written so far, whatever cuts a round short; a store error
   there is a report line, the next sync reading those files again). A file the learner saved meanwhile is read
   again, merged in another short transaction and written again (WRITE_ATTEMPTS rounds).

New notes go in after the apply, NEW_BATCH per short write transaction. A first sync whose files go to the file
workers inserts the new notes that need no apply (dated by their file, not to be written back) in the read phase
already, a batch at a time as the workers' results come in (VaultReader.insert_early): the vault has no row yet,
so no rename or other writer's note can be among them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import partial
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.pool import SingletonThreadPool, StaticPool

from reminder import notes, schedule
from reminder.clock import utcnow
from reminder.config import format_ladder
from reminder.cues import refresh_cues
from reminder.db import Store, one_line
from reminder.db.models import Note, Review, ReviewEvent, Vault
from reminder.errors import VaultError
from reminder.i18n import Phrase
from reminder.srnote import refresh_sr
from reminder.vault.files import (
    WRITE_ATTEMPTS,
    FileRead,
    Outcome,
    WriteRefused,
    note_fields,
    note_problem,
    replace_if_unchanged,
)
from reminder.vault.flags import (
    Flags,
    decode_flags,
    encode_flags,
    flags_from_file,
    flags_to_write,
    note_flags,
    parsed_flags,
)
from reminder.vault.reading import (
    CHUNK,
    LIGHT_COLUMNS,
    RECENT,
    New,
    ProgressFn,
    SyncReport,
    VaultReader,
    Work,
    fingerprint,
    ladder_of,
    same_row,
)
from reminder.vault.registry import list_vaults
from reminder.vault.status import Delivery
from reminder.vault.writeback import REMOVED, Plan, apply_records, lost_reason, plan_write, record_written
from reminder.vault_format import NoteFormatError, ParsedNote, status_section

__all__ = ["ProgressFn", "SyncReport", "ladder_of", "sync_all", "sync_vault"]

# Files written back per short transaction that records what their writes learned.
RECORD_BATCH = 200

_EVENT_COLUMNS = ("note_id", "stage", "extra", "rating", "reviewed_on", "source", "created_at")
_NEW_NOTE_COLUMNS = (
    "title",
    "link",
    "first_studied_on",
    "subject",
    "source",
    "pages",
    "level",
    "ladder",
    "long_term_on",
    "created_at",
    "updated_at",
    "vault_id",
    "vault_path",
    "file_size",
    "file_mtime_ns",
    "content_hash",
    "file_flags",
    "first_study_from",
    "cue_questions",
    "cue_summary",
)
NEW_BATCH = 1000  # new notes per write transaction: about 0.2 s of the write lock each on a 2-core machine

Record = tuple[int, Callable[[Note], None]]  # a note's id, and what to set on its row as it is then


@dataclass(frozen=True, slots=True)
class _ToPlan:
    """A note whose file may need a write-back: its row as the transaction that applied its read left it (reviews
    loaded), planned after that transaction, without the lock."""

    note: Note
    item: Work
    base: Flags | None  # the flags of the note's last recorded read, before this one was applied
    flags: Flags  # the flags of this read: the note's base once it is recorded


@dataclass(frozen=True, slots=True)
class _Planned:
    """A file to write, outside any transaction."""

    note_id: int
    item: Work
    plan: Plan
    flags: Flags  # the flags of the read the plan was made from: the note's base once it is written


def _as_applied(note: Note, got: FileRead, flags: Flags) -> bool:
    """Whether the row is as the apply left it for this write (its file read as ``got``, no fingerprint): nothing
    else recorded the file since."""
    return (
        note.content_hash is None
        and note.file_size == got.size
        and note.file_mtime_ns == got.mtime_ns
        and note.file_flags == encode_flags(flags)
    )


def _record_synced(note: Note, *, got: FileRead, now: FileRead, flags: Flags, plan: Plan) -> None:
    """After a sync's write, on the row as it is then: as record_written, from the read the write was planned on."""
    if _as_applied(note, got, flags):
        note.content_hash = got.sha256
    record_written(note, got=got, now=now, flags=flags, plan=plan)


def _record_read(note: Note, *, got: FileRead, flags: Flags) -> None:
    """The write cannot be made (a read-only file, a frontmatter the write cannot edit): the file is recorded as
    read, and the next sync reads it only if it changes."""
    if _as_applied(note, got, flags):
        note.content_hash = got.sha256


def _record_shown(note: Note, *, got: FileRead, flags: Flags, status: str | None) -> None:
    """Nothing to write after all: the file already shows the store's state (``status``: its status block's)."""
    if _as_applied(note, got, flags):
        note.content_hash = got.sha256
        note.status_block = status


class _Inserter:
    """executemany of plain tuples. On SQLite straight to the driver, with dates written as SQLAlchemy writes
    them: its per-value processing costs more than the insert itself for the 50k reviews of a 10k-note vault."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.sqlite = session.get_bind().dialect.name == "sqlite"

    def date(self, value: date | None) -> Any:
        return value.isoformat() if self.sqlite and value is not None else value

    def datetime(self, value: datetime) -> Any:
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else value

    def insert(self, table: Any, names: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if not self.sqlite:
            self.session.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])
            return
        quote = self.session.get_bind().dialect.identifier_preparer.quote
        columns = ", ".join(quote(name) for name in names)
        sql = f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({', '.join('?' * len(names))})"
        self.session.connection().exec_driver_sql(sql, rows)


class _VaultSync(VaultReader):
    """The apply and write-back phases of one vault's sync, after VaultReader.read."""

    early_batch = NEW_BATCH  # see insert_early

    def __init__(self, store: Store, vault: Vault, *, dry_run: bool, **options: Any) -> None:
        super().__init__(vault, **options)
        self.store = store
        self.dry_run = dry_run
        self.dry_session: Session | None = None  # a dry run's one transaction, rolled back at its end
        self.session: Session | None = None  # the write transaction in progress
        self.applied: list[Work] = []  # each note applied, counted once the write-backs are done
        self.refused = False  # the store refused a transaction of the write-back phase (reported once)
        # Early inserts write while the read phase's transaction is open: not in a dry run (its changes are all
        # made in its one transaction, after the read phase), nor on a store of one connection (SQLite in memory).
        if dry_run or isinstance(store.engine.pool, (SingletonThreadPool, StaticPool)):
            self.early_batch = 0

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A short write transaction; in a dry run, the sync's one transaction (rolled back by sync_vault)."""
        if self.dry_session is not None:
            self.session = self.dry_session
            yield self.dry_session
            return
        with self.store.write() as session:
            self.session = session
            try:
                yield session
            finally:
                self.session = None

    @property
    def db(self) -> Session:
        assert self.session is not None, "store access outside the sync's write transactions"
        return self.session

    def finish(self) -> SyncReport:
        """Phases 2 and 3, once ``read`` is done."""
        if self.walked_empty:
            return self.report
        with self.transaction():
            todo, added = self.apply()
        fresh = self._insert_new(added)
        todo += self._load_fresh(fresh)
        self.write_back(todo)
        for item in self.applied:
            if item.count and not item.renamed:
                if item.changed:
                    self.report.updated += 1
                else:
                    self.report.unchanged += 1
        return self.report

    # --- phase 2: what was read, applied to the rows as they are now

    def apply(self) -> tuple[list[_ToPlan], list[New]]:
        """The store changed as the files say, but for the new notes (inserted after, _insert_new); the existing
        notes whose files may need a write-back (their rows as left here), and the new notes to insert."""
        db = self.db
        # On PostgreSQL two syncs of one vault apply one after the other (on SQLite every writer already does).
        vault = db.get(Vault, self.vault.id, with_for_update=True, populate_existing=True)
        if vault is None:
            raise VaultError("no vault with id {vault_id}", vault_id=self.vault.id)
        now = self._rows_now(vault.id)
        by_path = {row.vault_path: row for row in now.values()}
        self._update_fingerprints(self.fingerprints)
        work: list[Work] = []
        stale: set[str] = set()  # files read here that another writer recorded since: their cues, schedule stand
        for item in self.existing:
            row = now.get(item.row.id)
            if not same_row(item.row, row) or (item.renamed and item.file.rel in by_path):
                # Another sync recorded this file (or renamed, archived or deleted its note, or a press changed
                # its Spaced Repetition schedule) since it was read: what it recorded stands, and the next sync
                # reads the file again if it changed since. Counted nowhere: this sync neither changed the note nor
                # found it as it left it (the writer that recorded it counts it; a deleted note is no longer one).
                stale.add(item.file.rel)
                continue
            item.row = row
            work.append(item)
        added: list[New] = []
        for new in self.added:
            row = by_path.get(new.file.rel)
            if row is None:
                added.append(new)
                continue
            # Another sync added this file's note since it was read: an existing note now, with the date it chose.
            self.load_details(db, [row.id])
            parsed = new.parsed if new.first_study_from == "file" else _undated(new.parsed)
            work.append(self.work(new.file, row, new.got, parsed))
        # A press between the phases changed these notes' reviews: their flags are read again, under the lock.
        self.load_details(db, [item.row.id for item in work if item.row.recent], again=True)
        quick: list[dict[str, Any]] = []
        slow: dict[int, Work] = {}
        for item in work:
            if self._needs_orm(item):
                slow[item.row.id] = item
            else:
                # The file changed in ways the store does not keep (the template's derived fields, the body).
                quick.append(fingerprint(item.row, item.got, encode_flags(parsed_flags(item.parsed))))
                self.report.unchanged += 1
        self._update_fingerprints(quick)
        todo = self._apply_all(slow)
        gone = [*self.not_notes, *(row.id for row in self.gone.values() if not row.archived)]
        self._archive(note_id for note_id in gone if same_row(self.rows[note_id], now.get(note_id)))
        refresh_cues(db, vault.id, self.cues, stale)
        # Only the files applied here (the notes still as read): the schedule another sync or a press recorded
        # since the read stands. The new notes' is set as they are inserted.
        applied = {item.file.rel for item in work}
        sr_states = {rel: state for rel, state in self.sr_states.items() if rel in applied}
        refresh_sr(db, vault.id, sr_states, self.extra_every, self.today)
        vault.synced_at = self.started
        db.flush()
        return todo, added

    def _rows_now(self, vault_id: int) -> dict[int, Any]:
        """The rows this apply checks again, as they are now, by id: the notes read (by id), the paths of new and
        renamed files (another sync may have added a note there), the notes whose file went. Only those, in
        chunks, unless they are most of the vault: an unchanged re-sync (the runner's, before each slot) then
        reads no row under the write lock, where it read every row of the vault."""
        ids = {item.row.id for item in self.existing}
        ids.update(self.not_notes)
        ids.update(row.id for row in self.gone.values() if not row.archived)
        paths = {new.file.rel for new in self.added}
        paths.update(item.file.rel for item in self.existing if item.renamed)
        recent = (Note.updated_at >= self.started - RECENT).label("recent")
        query = select(*LIGHT_COLUMNS, recent).where(Note.vault_id == vault_id)
        if len(ids) + len(paths) > 5 * CHUNK:
            stmts = [query]
        else:
            ordered_ids, ordered_paths = sorted(ids), sorted(paths)
            stmts = [query.where(Note.id.in_(ordered_ids[i : i + CHUNK])) for i in range(0, len(ids), CHUNK)]
            stmts += [
                query.where(Note.vault_path.in_(ordered_paths[i : i + CHUNK])) for i in range(0, len(paths), CHUNK)
            ]
        return {row.id: row for stmt in stmts for row in self.db.execute(stmt)}

    def _update_fingerprints(self, params: list[dict[str, Any]]) -> None:
        if not params:
            return
        table = Note.__table__
        stmt = (
            update(table)
            .where(
                table.c.id == bindparam("b_id"),
                # Only a row still as it was read: another sync, or a write-back, may have recorded the file since.
                table.c.content_hash.is_not_distinct_from(bindparam("b_seen_hash")),
                table.c.file_flags.is_not_distinct_from(bindparam("b_seen_flags")),
            )
            .values(
                file_size=bindparam("b_size"),
                file_mtime_ns=bindparam("b_mtime"),
                content_hash=bindparam("b_hash"),
                file_flags=bindparam("b_flags"),
            )
        )
        self.db.execute(stmt, params)

    def _needs_orm(self, item: Work) -> bool:
        row, parsed = item.row, item.parsed
        if item.renamed or row.archived:
            return True
        details = self.details[row.id]
        if parsed.content_hash != row.content_hash and details.fields != note_fields(
            self.vault.name, item.file.rel, parsed
        ):
            return True
        wanted_ladder = ladder_of(parsed, self.ladder)
        if parsed.content_hash != row.content_hash and wanted_ladder and format_ladder(wanted_ladder) != details.ladder:
            return True
        base = decode_flags(row.file_flags)
        file = parsed_flags(parsed)
        if flags_from_file(file, base, details.flags):
            return True
        if not self.vault.write_back:
            return False
        if item.undated or (
            self.vault.status_block and row.status_block != REMOVED and status_section(item.got.data) is not None
        ):
            return True  # a date or a status block to write
        return bool(flags_to_write(file, base, details.flags))

    def _apply_all(self, by_id: dict[int, Work]) -> list[_ToPlan]:
        """Apply each note's read to its row, locked (as a press locks it) and read after the lock; a note deleted
        meanwhile (`reminder rm`) is left out. The notes to plan a write-back for after the transaction."""
        todo: list[_ToPlan] = []
        ids = sorted(by_id)
        for start in range(0, len(ids), CHUNK):
            part = ids[start : start + CHUNK]
            notes.lock_notes(self.db, part)
            stmt = (
                select(Note)
                .where(Note.id.in_(part))
                .options(selectinload(Note.reviews))
                .execution_options(populate_existing=True)
            )
            for note in self.db.scalars(stmt):
                item = by_id[note.id]
                if not item.applied:
                    self.applied.append(item)
                if (write := self._apply(note, item)) is not None:
                    todo.append(write)
        return todo

    def _apply(self, note: Note, item: Work) -> _ToPlan | None:
        """One read of a note's file applied to its row as it is now: fields and the flag merge. A read the store
        already took (a newer one, after a write-back lost to the learner's save) takes only what changed since.
        With write-back, the note to plan a write for once the transaction is over."""
        file, got = item.file, item.got
        if item.undated:  # the file states no date: the store's stands (chosen once)
            item.parsed = _undated(item.parsed, note.first_studied_on)
        parsed = item.parsed
        base = decode_flags(note.file_flags)
        first = not item.applied
        item.applied = True
        if first and item.renamed:
            note.vault_path = file.rel
            self.report.renamed += 1
        if first and note.archived_at is not None:
            note.archived_at = None
            note.updated_at = utcnow()
            item.changed = True
        if parsed.content_hash != note.content_hash:
            item.changed |= self._apply_fields(note, file.rel, parsed)
        elif item.renamed:
            item.changed |= self._apply_fields(note, file.rel, parsed, path_only=True)
        flags = parsed_flags(parsed)
        take = flags_from_file(flags, base, note_flags(note))
        if take:
            item.changed |= notes.set_flags(
                self.db,
                note,
                stages={k: v for k, v in take.items() if k is not None},
                long_term=take.get(None),
                day=self.today,
                extra_every=self.extra_every,
            )
        self._record(note, got, flags)
        if not self.vault.write_back:
            return None
        # Until its write-back is recorded the note is as after one that lost a race: its file read and its flags
        # taken, but no fingerprint, so that the next sync reads and writes the file should this one stop.
        note.content_hash = None
        return _ToPlan(note, item, base, flags)

    def _load_fresh(self, fresh: dict[int, Work]) -> list[_ToPlan]:
        """The new notes to plan a write-back for, read after the transaction that inserted them (inserted
        without a fingerprint, as _apply leaves a note to write)."""
        if not fresh:
            return []
        todo: list[_ToPlan] = []
        with self._reading() as session:
            ids = sorted(fresh)
            for start in range(0, len(ids), CHUNK):
                part = ids[start : start + CHUNK]
                stmt = select(Note).where(Note.id.in_(part)).options(selectinload(Note.reviews))
                for note in session.scalars(stmt):
                    item = fresh[note.id]
                    flags = parsed_flags(item.parsed)
                    todo.append(_ToPlan(note, item, flags, flags))
        return todo

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        if self.dry_session is not None:
            yield self.dry_session
            return
        with self.store.read() as session:
            yield session

    def _plan(self, todo: list[_ToPlan], records: list[Record]) -> list[_Planned]:
        """Each note's write-back planned from its row as applied (no store access, no lock held). A note with
        nothing to write is recorded as read."""
        planned: list[_Planned] = []
        for one in todo:
            note, item = one.note, one.item
            got = item.got
            try:
                context = self.context(item.undated)
                plan = plan_write(got.data, item.parsed, note, one.base, context, undated=item.undated)
            except NoteFormatError as exc:
                self.skip(item.file, exc.line, Phrase("cannot write back: {reason}", reason=exc.reason))
                records.append((note.id, partial(_record_read, got=got, flags=one.flags)))
                continue
            if plan.new == got.data:
                records.append((note.id, partial(_record_shown, got=got, flags=one.flags, status=plan.status)))
                continue
            planned.append(_Planned(note.id, item, plan, one.flags))
        return planned

    def _apply_fields(self, note: Note, rel: str, parsed: ParsedNote, *, path_only: bool = False) -> bool:
        wanted = note_fields(self.vault.name, rel, parsed)
        if path_only:
            wanted = {"title": wanted["title"], "link": wanted["link"]}
        diff = {name: value for name, value in wanted.items() if getattr(note, name) != value}
        stages = None if path_only else ladder_of(parsed, self.ladder)
        ladder = stages if stages and format_ladder(stages) != note.ladder else None
        if not diff and ladder is None:
            return False
        # edit_note reads None as "leave it" and "" as "clear it"; the file removing a field clears it.
        first = diff.pop("first_studied_on", None)
        title = diff.pop("title", None)
        cleared: dict[str, Any] = {name: value or "" for name, value in diff.items()}
        notes.edit_note(
            self.db,
            note,
            today=self.today,
            extra_every=self.extra_every,
            title=title,
            first_studied_on=first,
            ladder=ladder,
            **cleared,
        )
        return True

    @staticmethod
    def _record(note: Note, got: FileRead, flags: Flags) -> None:
        note.file_size = got.size
        note.file_mtime_ns = got.mtime_ns
        note.content_hash = got.sha256
        note.file_flags = encode_flags(flags)

    # --- phase 3: the files written, outside any transaction

    def write_back(self, todo: list[_ToPlan]) -> None:
        """Plan and write each file, then record what the writes learned (a short transaction per RECORD_BATCH
        files). A file saved by the learner since it was read is read again, merged in a short transaction, and
        written again next round; after WRITE_ATTEMPTS rounds it waits for the next sync."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            records: list[Record] = []
            again: dict[int, Work] = {}
            try:
                planned = self._plan(todo, records)
                for write in planned:
                    newer = self._write(write, records)
                    if newer is not None:
                        again[write.note_id] = newer
                    if len(records) >= RECORD_BATCH:
                        batch, records = records, []
                        self._record_all(batch)
            finally:
                # Whatever cuts the round short, the files already written are recorded: a file showing a flag its
                # row's fingerprint does not know would read as a tick after a later undo on the phone.
                self._record_all(records)
            if not again:
                return
            if attempt == WRITE_ATTEMPTS:
                # The note stays as its last merge left it (no fingerprint): the next sync reads it again.
                self.report.lost += [lost_reason(item.file.path, Outcome.CHANGED, None) for item in again.values()]
                return
            try:
                with self.transaction():
                    todo = self._apply_all(again)
            except SQLAlchemyError as exc:
                # The rows stay as the apply left them (no fingerprint): the next sync reads these files again.
                self._store_refused(exc)
                return

    def _write(self, write: _Planned, records: list[Record]) -> Work | None:
        """Write one planned file; what the store must learn goes to ``records``. The note's newer read when the
        file changed since it was read (to merge and write again)."""
        item = write.item
        file = item.file
        try:
            done = replace_if_unchanged(file.path, item.got, write.plan.new, dry_run=self.dry_run)
        except WriteRefused as exc:
            self.skip(file, 1, Phrase("not written back: {reason}", reason=exc))
            records.append((write.note_id, partial(_record_read, got=item.got, flags=write.flags)))
            return None
        except OSError as exc:
            self.skip(file, 1, Phrase("cannot write back: {reason}", reason=exc.strerror))
            return None
        except NoteFormatError as exc:
            # The file changed since it was read into one that is no note to write (past the size limit, no longer
            # a regular file): left as the learner left it, nothing recorded; the next sync reads it again.
            self.skip(file, exc.line, Phrase("cannot write back: {reason}", reason=exc.reason))
            return None
        if done.outcome is Outcome.WRITTEN and done.now is not None:
            self.report.written_back += 1
            record = partial(_record_synced, got=item.got, now=done.now, flags=write.flags, plan=write.plan)
            records.append((write.note_id, record))
            return None
        if done.outcome is not Outcome.CHANGED or done.now is None:
            # The write-back lost to another writer: the learner's file stands, and the note stays as the apply
            # left it (no fingerprint), so the next sync reads the file again and writes what is still to write.
            line = lost_reason(file.path, done.outcome, done.kept)
            (self.report.skipped if done.outcome is Outcome.KEPT else self.report.lost).append(line)
            return None
        # Changed since it was read: merge the newer content rather than overwrite it.
        got = done.now
        try:
            newer = self.parse(file, got)
        except NoteFormatError as exc:
            self.skip(file, exc.line, exc.reason)
            return None
        if newer is None:
            self.skip(file, 1, Phrase("the file stopped being a study note while syncing"))
            return None
        if problem := note_problem(file.rel, got.data, newer, self.today):
            self.skip(file, *problem)
            return None
        item.got, item.parsed, item.undated = got, newer, newer.first_studied_on is None
        return item

    def _record_all(self, records: list[Record]) -> None:
        if not records:
            return
        try:
            with self.transaction() as session:
                apply_records(session, records)
        except SQLAlchemyError as exc:
            # The batch is rolled back: its rows keep no fingerprint (content_hash None), and the next sync reads
            # their files again and records what they show. The sync goes on, and its report says so.
            self._store_refused(exc)

    def _store_refused(self, exc: SQLAlchemyError) -> None:
        """One line in the report, however many of the sync's short transactions the store refused."""
        if not self.refused:
            self.refused = True
            self.report.skipped.append(
                Phrase(
                    "{path}:1: the store refused to record write-backs ({reason}); the next sync reads those files "
                    "again",
                    path=self.vault.path,
                    reason=one_line(exc),
                )
            )

    # --- new and gone notes

    def _insert_new(self, added: list[New]) -> dict[int, Work]:
        """The new notes, NEW_BATCH at a time, each batch in a short write transaction of its own with its notes'
        cue columns and Spaced Repetition schedules: in the apply's one transaction, a first sync of 100k notes
        held the write lock for 20 s, past the 10 s a phone press waits for it. A sync cut short between batches
        has inserted whole notes only; the next one adds the rest (their files are new to the store still).
        Returns what _insert returns, for every batch."""
        fresh: dict[int, Work] = {}
        entries = self.new_cues.entries()  # in the order of the paths, as the new notes are
        pending: dict[str, tuple[str | None, str | None]] = {}
        try:
            for start in range(0, len(added), NEW_BATCH):
                batch = added[start : start + NEW_BATCH]
                columns: dict[str, tuple[str | None, str | None]] = {}
                for item in batch:
                    rel = item.file.rel
                    while rel not in pending and (entry := next(entries, None)) is not None:
                        pending[entry[0]] = (entry[1], entry[2])
                    columns[rel] = pending.pop(rel, (None, None))  # none: refresh_cues reads it next sync
                with self.transaction():
                    fresh.update(self._insert(batch, columns))
        finally:
            entries.close()
        return fresh

    def insert_early(self, batch: list[New], cues: dict[str, tuple[str | None, str | None]]) -> None:
        """New notes of a first sync inserted in the read phase, a batch per short write transaction, as the file
        workers read on: after the apply, where the others go, the sync's own process inserted 10k notes alone
        for a second while the workers had nothing left to do. The read phase hands on only what needs no apply:
        the vault had no row (so no rename, no note another writer holds), the file states its date, and it will
        not be written back. A note another sync added meanwhile stands, as for any insert."""
        with self.transaction():
            fresh = self._insert(batch, cues)
        assert not fresh, "a note to write back is inserted after the apply"

    def _insert(self, added: list[New], cues: dict[str, tuple[str | None, str | None]]) -> dict[int, Work]:
        """New notes in executemany statements: the ORM's one flush per note is minutes for a large vault. Not
        those at a path another sync gave a note since this one's apply: what it recorded stands (it counts them).
        With write-back, the new notes that may get what the store adds to a file (the chosen first-study date of
        a note made from a template, the status block under a 복습알림 heading), by id: inserted without a
        fingerprint until that write is recorded."""
        db = self.db
        # On PostgreSQL each batch waits for another sync's apply of this vault, as the apply does.
        vault = db.get(Vault, self.vault.id, with_for_update=True, populate_existing=True)
        if vault is None:
            raise VaultError("no vault with id {vault_id}", vault_id=self.vault.id)
        taken = set(self._ids_of([item.file.rel for item in added]))
        added = [item for item in added if item.file.rel not in taken]
        if not added:
            return {}
        out = _Inserter(db)
        to_write = {item.file.rel for item in added if item.may_write}
        # updated_at is the sync's start, which the next sync compares with: these notes are as their files say.
        now = out.datetime(self.started)
        today = out.date(self.today)
        note_rows = []
        for item in added:
            file, got, parsed = item.file, item.got, item.parsed
            fields = item.fields
            note_rows.append(
                (
                    fields["title"],
                    fields["link"],
                    out.date(parsed.first_studied_on),
                    parsed.subject,
                    parsed.source,
                    parsed.pages,
                    parsed.level,
                    format_ladder(item.ladder),
                    today if parsed.long_term else None,
                    now,
                    now,
                    self.vault.id,
                    file.rel,
                    got.size,
                    got.mtime_ns,
                    None if file.rel in to_write else parsed.content_hash,
                    encode_flags(parsed_flags(parsed)),
                    item.first_study_from,
                    *cues[file.rel],
                )
            )
        out.insert(Note.__table__, _NEW_NOTE_COLUMNS, note_rows)
        ids = self._ids_of([item.file.rel for item in added])
        # The same reviews add_note schedules, ticked as the file states (done on the due day, or today when ticked
        # ahead: the file does not say when); a long-term note has no extra review, as after mark_done.
        # Per first-study day and ladder: each stage's (offset, due, done-on when ticked), and the extra review.
        plans: dict[tuple[date, tuple[int, ...]], tuple[list[tuple[int, Any, Any]], int, Any]] = {}
        review_rows: list[tuple[Any, ...]] = []
        for item in added:
            parsed = item.parsed
            first = parsed.first_studied_on
            assert first is not None  # resolved before the insert
            ladder = item.ladder
            plan = plans.get((first, ladder))
            if plan is None:
                *rows, extra = schedule.plan_reviews(first, ladder, self.extra_every)
                stages = [(r.offset, out.date(r.due_on), out.date(min(r.due_on, self.today))) for r in rows]
                plan = plans[(first, ladder)] = (stages, extra.offset, out.date(extra.due_on))
            note_id, ticked = ids[item.file.rel], parsed.stages
            review_rows += [
                (note_id, offset, False, due_on, done_on if ticked.get(offset) else None)
                for offset, due_on, done_on in plan[0]
            ]
            if not parsed.long_term:
                review_rows.append((note_id, plan[1], True, plan[2], None))
        out.insert(Review.__table__, ("note_id", "offset", "extra", "due_on", "done_on"), review_rows)
        # A flag the file states ticked is a `good` review in the note's history, on the day it is done.
        events = [(r[0], r[1], False, "good", r[4], "vault", now) for r in review_rows if r[4] is not None]
        out.insert(ReviewEvent.__table__, _EVENT_COLUMNS, events)
        sr_states = {item.file.rel: self.sr_states[item.file.rel] for item in added if item.file.rel in self.sr_states}
        refresh_sr(db, vault.id, sr_states, self.extra_every, self.today)
        self.report.added += len(added)
        return {
            ids[item.file.rel]: Work(
                item.file, None, item.got, item.parsed, undated=item.first_study_from != "file", count=False
            )
            for item in added
            if item.file.rel in to_write
        }

    def _ids_of(self, paths: list[str]) -> dict[str, int]:
        in_vault = Note.vault_id == self.vault.id
        if len(paths) > 5 * CHUNK:
            stmts = [select(Note.vault_path, Note.id).where(in_vault)]
        else:
            stmts = [
                select(Note.vault_path, Note.id).where(in_vault, Note.vault_path.in_(paths[start : start + CHUNK]))
                for start in range(0, len(paths), CHUNK)
            ]
        # A vault's notes all have a path (the column is nullable for the notes added by hand).
        return {rel: note_id for stmt in stmts for rel, note_id in self.db.execute(stmt) if rel is not None}

    def _archive(self, note_ids: Iterable[int]) -> None:
        ids = sorted(set(note_ids))
        if not ids:
            return
        now = utcnow()
        for start in range(0, len(ids), CHUNK):
            self.db.execute(
                update(Note)
                .where(Note.id.in_(ids[start : start + CHUNK]), Note.archived_at.is_(None))
                .values(archived_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        self.report.archived += len(ids)


def _undated(parsed: ParsedNote, day: date | None = None) -> ParsedNote:
    return replace(parsed, first_studied_on=day)


class _DryRun(Exception):
    def __init__(self, report: SyncReport) -> None:
        self.report = report


def sync_vault(
    store: Store,
    vault_id: int,
    *,
    today: date,
    ladder: Sequence[int],
    extra_every: int,
    dry_run: bool = False,
    progress: ProgressFn | None = None,
    zone: str = "UTC",
    delivery: Delivery | None = None,
) -> SyncReport:
    """Sync one vault: its files read outside any write transaction, the store changed in short ones (see the
    module's docstring). ``dry_run`` reports what would change and changes nothing (store and files): its
    changes are made in one transaction, rolled back. VaultError when the vault is unknown or its folder does
    not exist."""
    started = utcnow()  # before the read's snapshot: see VaultReader.started
    with store.read() as session:
        vault = session.get(Vault, vault_id)
        if vault is None:
            raise VaultError("no vault with id {vault_id}", vault_id=vault_id)
        sync = _VaultSync(
            store,
            vault,
            dry_run=dry_run,
            today=today,
            ladder=ladder,
            extra_every=extra_every,
            progress=progress,
            zone=zone,
            delivery=delivery,
            started=started,
        )
        sync.read(session)
    if not dry_run:
        return sync.finish()
    try:
        with store.write() as session:
            sync.dry_session = session
            raise _DryRun(sync.finish())
    except _DryRun as rolled_back:
        return rolled_back.report


def sync_all(
    store: Store,
    *,
    today: date,
    ladder: Sequence[int],
    extra_every: int,
    dry_run: bool = False,
    progress: Callable[[str], ProgressFn | None] | None = None,
    zone: str = "UTC",
    delivery: Delivery | None = None,
) -> dict[str, SyncReport]:
    """Sync every registered vault, by name. A vault whose folder is missing gets a report with ``error`` set;
    the others still sync. ``progress(name)`` may return a callback for that vault's reading phase."""
    with store.read() as session:
        vaults = [(v.id, v.name) for v in list_vaults(session)]
    reports: dict[str, SyncReport] = {}
    for vault_id, name in vaults:
        try:
            reports[name] = sync_vault(
                store,
                vault_id,
                today=today,
                ladder=ladder,
                extra_every=extra_every,
                dry_run=dry_run,
                progress=progress(name) if progress else None,
                zone=zone,
                delivery=delivery,
            )
        except VaultError as exc:
            reports[name] = SyncReport(error=str(exc), failure=exc)
    return reports
