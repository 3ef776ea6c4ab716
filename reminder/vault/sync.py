"""The sync of one vault into the store (and of every registered vault): the engine behind `reminder sync` and
the runner's sync before each slot."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, true, update
from sqlalchemy.orm import Session, selectinload

from reminder import notes, schedule
from reminder.config import format_ladder
from reminder.cues import refresh_cues
from reminder.db import Store
from reminder.db.models import Note, Review, ReviewEvent, Vault
from reminder.notes import NoteError, utcnow
from reminder.srnote import refresh_sr
from reminder.srnote import study_note as sr_study_note
from reminder.vault.files import (
    _LIMITS,
    MAX_NOTE_BYTES,
    WRITE_ATTEMPTS,
    _fields,
    _File,
    _problem,
    _Read,
    _read,
    _replace_if_unchanged,
    _walk,
)
from reminder.vault.flags import (
    Flags,
    _row_flags,
    _with_flags,
    decode_flags,
    encode_flags,
    flags_from_file,
    flags_to_write,
    note_flags,
    parsed_flags,
)
from reminder.vault.registry import list_vaults
from reminder.vault_format import NoteFormatError, ParsedNote, parse_note

RACY_NS = 1_000_000_000
_CHUNK = 500  # ids per IN (...) query, well under SQLite's parameter limit

ProgressFn = Callable[[int, int], None]  # (files read so far, files to read)


@dataclass
class SyncReport:
    """What one sync of one vault did. Each study note found counts once in added/updated/renamed/unchanged."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    renamed: int = 0
    archived: int = 0
    written_back: int = 0
    skipped: list[str] = field(default_factory=list)  # "path:line: why"
    error: str | None = None  # set by sync_all when the vault could not be synced at all (its folder is gone)

    @property
    def changed(self) -> int:
        return self.added + self.updated + self.renamed + self.archived + self.written_back


# What the unchanged check needs, and nothing that costs a conversion per row (dates are parsed in Python on SQLite).
_LIGHT_COLUMNS = (
    Note.id,
    Note.vault_path,
    Note.file_size,
    Note.file_mtime_ns,
    Note.content_hash,
    Note.file_flags,
    Note.archived_at.is_not(None).label("archived"),
)
_DETAIL_COLUMNS = (
    Note.id,
    Note.title,
    Note.link,
    Note.first_studied_on,
    Note.subject,
    Note.source,
    Note.pages,
    Note.level,
    Note.ladder,
    Note.long_term_on,
)
_EVENT_COLUMNS = ("note_id", "stage", "extra", "rating", "reviewed_on", "source", "created_at")
_FIELD_NAMES = ("title", "link", "first_studied_on", *_LIMITS)
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
)


@dataclass(frozen=True, slots=True)
class _Details:
    """A stored note's fields as the file sets them, and its flags."""

    fields: dict[str, Any]
    flags: Flags


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


@dataclass
class _Work:
    """One study note read from disk that is, or becomes, an existing note of the store."""

    file: _File
    row: Any  # the note's row as loaded at the start of the sync
    got: _Read
    parsed: ParsedNote
    renamed: bool = False


class _VaultSync:
    def __init__(
        self,
        session: Session,
        vault: Vault,
        *,
        today: date,
        ladder: Sequence[int],
        extra_every: int,
        dry_run: bool,
        progress: ProgressFn | None,
    ) -> None:
        self.session = session
        self.vault = vault
        self.today = today
        self.ladder = tuple(ladder)
        self.extra_every = extra_every
        self.dry_run = dry_run
        self.progress = progress
        self.report = SyncReport()
        self.details: dict[int, _Details] = {}
        self.started = utcnow()
        self.root = os.path.realpath(vault.path)
        if not os.path.isdir(self.root):
            raise NoteError(f"vault {vault.name}: folder {vault.path} does not exist")

    def skip(self, file: _File, line: int, why: str) -> None:
        self.report.skipped.append(f"{file.path}:{line}: {why}")

    # The sync in steps: pick the files to read, read them, then adds, existing notes, renames, archives.

    def run(self) -> SyncReport:
        previous = self.vault.synced_at
        # Notes changed in the store since the last sync (updated_at is set by every change to a note's reviews):
        # only those can have flags to write into a file that did not change.
        touched = (Note.updated_at > previous) if previous is not None else true()
        rows = self.session.execute(
            select(*_LIGHT_COLUMNS, touched.label("touched")).where(Note.vault_id == self.vault.id)
        ).all()
        by_path = {row.vault_path: row for row in rows}
        files = _walk(self.root, self.report.skipped)
        active = sum(1 for row in rows if not row.archived)
        if not files and active:
            self.report.skipped.append(
                f"{self.vault.path}:1: no Markdown file found; its {active} notes are kept, not archived "
                f"(is the folder mounted? `reminder vault rm {self.vault.name}` if the vault is gone)"
            )
            return self.report
        racy_from = self._racy_threshold(previous)
        to_read: list[tuple[_File, Any]] = []
        unchanged: list[tuple[_File, Any]] = []
        for file in files:
            row = by_path.get(file.rel)
            if (
                row is not None
                and not row.archived
                and row.content_hash is not None
                and row.file_size == file.size
                and row.file_mtime_ns == file.mtime_ns
                and file.mtime_ns < racy_from
            ):
                unchanged.append((file, row))
            else:
                to_read.append((file, row))
        maybe_dirty = [(file, row) for file, row in unchanged if self.vault.write_back and row.touched]
        self._load_details([row.id for _, row in maybe_dirty] + [row.id for _, row in to_read if row is not None])
        dirty = {row.id for _, row in maybe_dirty if self._dirty(row)}
        to_read += [(file, row) for file, row in maybe_dirty if row.id in dirty]
        self.report.unchanged += len(unchanged) - len(dirty)

        new: list[tuple[_File, _Read, ParsedNote]] = []
        existing: list[_Work] = []
        fingerprints: list[dict[str, Any]] = []
        not_notes: list[int] = []
        for done, (file, row) in enumerate(to_read, start=1):
            if self.progress:
                self.progress(done, len(to_read))
            try:
                got = _read(file.path)
                if row is not None and not row.archived and got.sha256 == row.content_hash and not self._dirty(row):
                    # Same bytes as last time: a touched file, or one written within a second of the last sync.
                    fingerprints.append(self._fingerprint(row.id, got, row.file_flags))
                    self.report.unchanged += 1
                    continue
                parsed = parse_note(file.rel, got.data, max_bytes=MAX_NOTE_BYTES)
            except NoteFormatError as exc:
                self.skip(file, exc.line, exc.reason)
                continue
            except OSError as exc:
                self.skip(file, 1, f"cannot read the file: {exc.strerror}")
                continue
            if parsed is None:  # not a study note of the template; maybe one of the Spaced Repetition plugin
                parsed = sr_study_note(file.rel, got.data, self.today)
            if parsed is None:
                if row is not None and not row.archived:
                    not_notes.append(row.id)
                continue
            problem = _problem(file.rel, got.data, parsed, self.today)
            if problem:
                self.skip(file, *problem)
                continue
            if row is None:
                new.append((file, got, parsed))
            else:
                existing.append(_Work(file, row, got, parsed))

        seen = {file.rel for file in files}
        gone = {row.vault_path: row for row in rows if row.vault_path not in seen}
        # Renames: a new file with the bytes of a note whose file is gone (active notes first, then archived ones).
        by_hash: dict[str, list[Any]] = {}
        for row in sorted(gone.values(), key=lambda r: (r.archived, r.vault_path)):
            if row.content_hash:
                by_hash.setdefault(row.content_hash, []).append(row)
        added: list[tuple[_File, _Read, ParsedNote]] = []
        for file, got, parsed in sorted(new, key=lambda item: item[0].rel):
            candidates = by_hash.get(parsed.content_hash)
            if candidates:
                row = candidates.pop(0)
                del gone[row.vault_path]
                existing.append(_Work(file, row, got, parsed, renamed=True))
            else:
                added.append((file, got, parsed))

        self._update_fingerprints(fingerprints)
        self._reconcile_existing(existing)
        self._insert(added)
        self._archive([*not_notes, *(row.id for row in gone.values() if not row.archived)])
        read = {w.file.rel: w.got.data for w in existing} | {f.rel: g.data for f, g, _ in added}
        refresh_cues(self.session, self.vault.id, files, read)
        refresh_sr(self.session, self.vault.id, read, self.extra_every, self.today)
        self.vault.synced_at = self.started
        self.session.flush()
        return self.report

    @staticmethod
    def _racy_threshold(previous: datetime | None) -> int:
        """Files modified at or after this instant (ns) are read even when their size and mtime match."""
        if previous is None:
            return 1 << 62
        return int(previous.replace(tzinfo=UTC).timestamp() * 1e9) - RACY_NS

    def _load_details(self, note_ids: list[int]) -> None:
        """Fields and flags of these notes into self.details: per chunk of ids, or for the whole vault when most
        of it is wanted (a first sync after every file changed)."""
        ids = sorted(set(note_ids) - set(self.details))
        if not ids:
            return
        done_stmt = select(Review.note_id, Review.offset).where(Review.extra.is_(False), Review.done_on.is_not(None))
        if len(ids) > 5 * _CHUNK:
            in_vault = Note.vault_id == self.vault.id
            chunks = [(select(*_DETAIL_COLUMNS).where(in_vault), done_stmt.join(Note).where(in_vault))]
        else:
            chunks = [
                (select(*_DETAIL_COLUMNS).where(Note.id.in_(part)), done_stmt.where(Review.note_id.in_(part)))
                for part in (ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK))
            ]
        for notes_stmt, reviews_stmt in chunks:
            done: dict[int, set[int]] = {}
            for note_id, offset in self.session.execute(reviews_stmt):
                done.setdefault(note_id, set()).add(offset)
            for row in self.session.execute(notes_stmt):
                self.details[row.id] = _Details(
                    {name: getattr(row, name) for name in _FIELD_NAMES},
                    _row_flags(row.ladder, done.get(row.id, set()), row.long_term_on is not None),
                )

    def _dirty(self, row: Any) -> bool:
        """Whether the store holds flags the file should show (only with write-back; details loaded)."""
        if not self.vault.write_back:
            return False
        base = decode_flags(row.file_flags)
        return base is not None and bool(flags_to_write(base, base, self.details[row.id].flags))

    @staticmethod
    def _fingerprint(note_id: int, got: _Read, file_flags: str | None) -> dict[str, Any]:
        return {
            "b_id": note_id,
            "b_size": got.size,
            "b_mtime": got.mtime_ns,
            "b_hash": got.sha256,
            "b_flags": file_flags,
        }

    def _update_fingerprints(self, params: list[dict[str, Any]]) -> None:
        if not params:
            return
        table = Note.__table__
        stmt = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                file_size=bindparam("b_size"),
                file_mtime_ns=bindparam("b_mtime"),
                content_hash=bindparam("b_hash"),
                file_flags=bindparam("b_flags"),
            )
        )
        self.session.execute(stmt, params)

    # --- existing notes: fields, the flag merge, write-back

    def _reconcile_existing(self, work: list[_Work]) -> None:
        quick: list[dict[str, Any]] = []
        slow: list[_Work] = []
        for item in work:
            if self._needs_orm(item):
                slow.append(item)
            else:
                # The file changed in ways the store does not keep (the template's derived fields, the body).
                quick.append(self._fingerprint(item.row.id, item.got, encode_flags(parsed_flags(item.parsed))))
                self.report.unchanged += 1
        self._update_fingerprints(quick)
        by_id = {item.row.id: item for item in slow}
        ids = sorted(by_id)
        for start in range(0, len(ids), _CHUNK):
            stmt = select(Note).where(Note.id.in_(ids[start : start + _CHUNK])).options(selectinload(Note.reviews))
            for note in self.session.scalars(stmt):
                self._reconcile(note, by_id[note.id])

    def _needs_orm(self, item: _Work) -> bool:
        row, parsed = item.row, item.parsed
        if item.renamed or row.archived:
            return True
        details = self.details[row.id]
        if parsed.content_hash != row.content_hash and details.fields != _fields(
            self.vault.name, item.file.rel, parsed
        ):
            return True
        base = decode_flags(row.file_flags)
        file = parsed_flags(parsed)
        if flags_from_file(file, base, details.flags):
            return True
        return bool(self.vault.write_back and flags_to_write(file, base, details.flags))

    def _reconcile(self, note: Note, item: _Work) -> None:
        file, got, parsed = item.file, item.got, item.parsed
        base = decode_flags(note.file_flags)
        last_hash = note.content_hash
        changed = False
        if item.renamed:
            note.vault_path = file.rel
            self.report.renamed += 1
        if note.archived_at is not None:
            note.archived_at = None
            note.updated_at = utcnow()
            changed = True
        for _attempt in range(WRITE_ATTEMPTS):
            if parsed.content_hash != last_hash:
                changed |= self._apply_fields(note, file.rel, parsed)
            elif item.renamed:
                changed |= self._apply_fields(note, file.rel, parsed, path_only=True)
            flags = parsed_flags(parsed)
            take = flags_from_file(flags, base, note_flags(note))
            if take:
                changed |= notes.set_flags(
                    self.session,
                    note,
                    stages={k: v for k, v in take.items() if k is not None},
                    long_term=take.get(None),
                    day=self.today,
                    extra_every=self.extra_every,
                )
            write = flags_to_write(flags, base, note_flags(note)) if self.vault.write_back else {}
            if not write:
                self._record(note, got, flags)
                break
            try:
                new = _with_flags(got.data, write)
                written, now = _replace_if_unchanged(file.path, got, new, dry_run=self.dry_run)
            except NoteFormatError as exc:
                self.skip(file, exc.line, f"cannot write the review flags back: {exc.reason}")
                self._record(note, got, flags)
                break
            except OSError as exc:
                self.skip(file, 1, f"cannot write the review flags back: {exc.strerror}")
                break
            if written:
                self.report.written_back += 1
                self._record(note, now, {**flags, **write})
                break
            # Changed since it was read: merge the newer content rather than overwrite it.
            got = now
            try:
                newer = parse_note(file.rel, got.data, max_bytes=MAX_NOTE_BYTES)
            except NoteFormatError as exc:
                self.skip(file, exc.line, exc.reason)
                break
            if newer is None or (problem := _problem(file.rel, got.data, newer, self.today)):
                self.skip(file, *(problem if newer else (1, "the file stopped being a study note while syncing")))
                break
            parsed = newer
        else:
            self.skip(file, 1, "the file kept changing while its review flags were written; tried again next sync")
        if item.renamed:
            return
        if changed:
            self.report.updated += 1
        else:
            self.report.unchanged += 1

    def _apply_fields(self, note: Note, rel: str, parsed: ParsedNote, *, path_only: bool = False) -> bool:
        wanted = _fields(self.vault.name, rel, parsed)
        if path_only:
            wanted = {"title": wanted["title"], "link": wanted["link"]}
        diff = {name: value for name, value in wanted.items() if getattr(note, name) != value}
        if not diff:
            return False
        # edit_note reads None as "leave it" and "" as "clear it"; the file removing a field clears it.
        first = diff.pop("first_studied_on", None)
        title = diff.pop("title", None)
        notes.edit_note(
            self.session,
            note,
            today=self.today,
            extra_every=self.extra_every,
            title=title,
            first_studied_on=first,
            **{name: value or "" for name, value in diff.items()},
        )
        return True

    def _record(self, note: Note, got: _Read, flags: Flags) -> None:
        note.file_size = got.size
        note.file_mtime_ns = got.mtime_ns
        note.content_hash = got.sha256
        note.file_flags = encode_flags(flags)

    # --- new and gone notes

    def _insert(self, added: list[tuple[_File, _Read, ParsedNote]]) -> None:
        """New notes in two executemany statements: the ORM's one flush per note is minutes for a large vault."""
        if not added:
            return
        out = _Inserter(self.session)
        # updated_at is the sync's start, which the next sync compares with: these notes are as their files say.
        now = out.datetime(self.started)
        today = out.date(self.today)
        ladder_text = format_ladder(self.ladder)
        note_rows = []
        for file, got, parsed in added:
            fields = _fields(self.vault.name, file.rel, parsed)
            note_rows.append(
                (
                    fields["title"],
                    fields["link"],
                    out.date(parsed.first_studied_on),
                    parsed.subject,
                    parsed.source,
                    parsed.pages,
                    parsed.level,
                    ladder_text,
                    today if parsed.long_term else None,
                    now,
                    now,
                    self.vault.id,
                    file.rel,
                    got.size,
                    got.mtime_ns,
                    parsed.content_hash,
                    encode_flags(parsed_flags(parsed)),
                )
            )
        out.insert(Note.__table__, _NEW_NOTE_COLUMNS, note_rows)
        ids = self._ids_of([file.rel for file, _got, _parsed in added])
        # The same reviews add_note schedules, ticked as the file states (done on the due day, or today when ticked
        # ahead: the file does not say when); a long-term note has no extra review, as after mark_done.
        extra = schedule.first_extra_offset(self.ladder, self.extra_every)
        # Per first-study day: each stage's (offset, due, done-on when ticked), and the extra review's due day.
        plans: dict[date, tuple[list[tuple[int, Any, Any]], Any]] = {}
        review_rows: list[tuple[Any, ...]] = []
        for file, _got, parsed in added:
            first = parsed.first_studied_on
            plan = plans.get(first)
            if plan is None:
                days = [(offset, schedule.due_date(first, offset)) for offset in self.ladder]
                stages = [(offset, out.date(day), out.date(min(day, self.today))) for offset, day in days]
                plan = plans[first] = (stages, out.date(schedule.due_date(first, extra)))
            note_id, ticked = ids[file.rel], parsed.stages
            review_rows += [
                (note_id, offset, False, due_on, done_on if ticked.get(offset) else None)
                for offset, due_on, done_on in plan[0]
            ]
            if not parsed.long_term:
                review_rows.append((note_id, extra, True, plan[1], None))
        out.insert(Review.__table__, ("note_id", "offset", "extra", "due_on", "done_on"), review_rows)
        # A flag the file states ticked is a `good` review in the note's history, on the day it is done.
        events = [(r[0], r[1], False, "good", r[4], "vault", now) for r in review_rows if r[4] is not None]
        out.insert(ReviewEvent.__table__, _EVENT_COLUMNS, events)
        self.report.added += len(added)

    def _ids_of(self, paths: list[str]) -> dict[str, int]:
        in_vault = Note.vault_id == self.vault.id
        if len(paths) > 5 * _CHUNK:
            return dict(self.session.execute(select(Note.vault_path, Note.id).where(in_vault)).all())
        ids: dict[str, int] = {}
        for start in range(0, len(paths), _CHUNK):
            stmt = select(Note.vault_path, Note.id).where(in_vault, Note.vault_path.in_(paths[start : start + _CHUNK]))
            ids.update(self.session.execute(stmt).all())
        return ids

    def _archive(self, note_ids: Iterable[int]) -> None:
        ids = sorted(set(note_ids))
        if not ids:
            return
        now = utcnow()
        for start in range(0, len(ids), _CHUNK):
            self.session.execute(
                update(Note)
                .where(Note.id.in_(ids[start : start + _CHUNK]), Note.archived_at.is_(None))
                .values(archived_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        self.report.archived += len(ids)


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
) -> SyncReport:
    """Sync one vault in one transaction. ``dry_run`` reports what would change and changes nothing (store and
    files). NoteError when the vault is unknown or its folder does not exist."""
    try:
        with store.write() as session:
            vault = session.get(Vault, vault_id)
            if vault is None:
                raise NoteError(f"no vault with id {vault_id}")
            report = _VaultSync(
                session,
                vault,
                today=today,
                ladder=ladder,
                extra_every=extra_every,
                dry_run=dry_run,
                progress=progress,
            ).run()
            if dry_run:
                raise _DryRun(report)
    except _DryRun as rolled_back:
        return rolled_back.report
    return report


def sync_all(
    store: Store,
    *,
    today: date,
    ladder: Sequence[int],
    extra_every: int,
    dry_run: bool = False,
    progress: Callable[[str], ProgressFn | None] | None = None,
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
            )
        except NoteError as exc:
            reports[name] = SyncReport(error=str(exc))
    return reports
