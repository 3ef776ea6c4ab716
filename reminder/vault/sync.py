"""The sync of one vault into the store (and of every registered vault): the engine behind `reminder sync` and
the runner's sync before each slot."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert, select, true, update
from sqlalchemy.orm import Session, selectinload

from reminder import notes, schedule
from reminder.clock import utcnow
from reminder.config import format_ladder
from reminder.cues import Cues, refresh_cues
from reminder.db import Store
from reminder.db.models import ForgottenFile, Note, Review, ReviewEvent, Vault
from reminder.errors import VaultError
from reminder.i18n import N_, NP_, Phrase
from reminder.schedulers import SrState
from reminder.srnote import read_sr, refresh_sr
from reminder.srnote import study_note as sr_study_note
from reminder.vault import gitdates
from reminder.vault.files import (
    FIELD_LIMITS,
    MAX_NOTE_BYTES,
    WRITE_ATTEMPTS,
    FileRead,
    Outcome,
    VaultFile,
    WriteRefused,
    note_fields,
    note_problem,
    read_file,
    replace_if_unchanged,
    walk_vault,
)
from reminder.vault.flags import (
    Flags,
    decode_flags,
    encode_flags,
    flags_from_file,
    flags_to_write,
    note_flags,
    parsed_flags,
    row_flags,
)
from reminder.vault.registry import list_vaults
from reminder.vault.status import Delivery
from reminder.vault.templates import TemplateFolders, template_folders
from reminder.vault.writeback import REMOVED, SHOWN, WriteContext, lost_reason, plan_write
from reminder.vault_format import NoteFormatError, ParsedNote, parse_note, status_section

RACY_NS = 1_000_000_000
_CHUNK = 500  # ids per IN (...) query, well under SQLite's parameter limit

ProgressFn = Callable[[int, int], None]  # (files read so far, files to read)


@dataclass
class SyncReport:
    """What one sync of one vault did. Each study note found counts once in added/updated/renamed/unchanged.
    Its lines are reminder.i18n.Phrase: English text for the log, shown in the reader's language by the CLI."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    renamed: int = 0
    archived: int = 0
    written_back: int = 0
    lost: list[str] = field(default_factory=list)  # write-backs that lost to another writer, retried next sync
    skipped: list[str] = field(default_factory=list)  # "path:line: why"
    error: str | None = None  # set by sync_all when the vault could not be synced at all (its folder is gone)
    failure: VaultError | None = None  # the same, as raised: the command line shows it in the learner's language
    # Files with review-like frontmatter that are not scheduled, "path: why" (templates, forgotten files): not
    # errors, but never dropped without a word.
    not_scheduled: list[str] = field(default_factory=list)
    # "path: no first-study date; scheduled from ..., YYYY-MM-DD": the date chosen for each note made from a
    # template, said once, when it is chosen.
    dated: list[str] = field(default_factory=list)
    templates: str = ""  # which folder was treated as templates, and why
    # Write-back copies a crash left beside their notes (vault.files.backup_path): each note's write-back waits
    # until the learner has looked at its copy and deleted it.
    backups: list[str] = field(default_factory=list)

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
    Note.status_block,
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
_FIELD_NAMES = ("title", "link", "first_studied_on", *FIELD_LIMITS)
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
)


@dataclass(frozen=True, slots=True)
class _Details:
    """A stored note's fields as the file sets them, and its flags."""

    fields: dict[str, Any]
    flags: Flags
    ladder: str


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

    file: VaultFile
    row: Any  # the note's row as loaded at the start of the sync
    got: FileRead
    parsed: ParsedNote  # first_studied_on resolved (a dateless file's date is the store's or the chosen one)
    renamed: bool = False
    undated: bool = False  # the file itself states no first-study date


@dataclass(frozen=True, slots=True)
class _New:
    file: VaultFile
    got: FileRead
    parsed: ParsedNote
    first_study_from: str  # "file", "git" or "mtime"


DATED_BY = {"git": N_("the date git added it"), "mtime": N_("its modification time")}
DEFAULT_FIRST_KEY = "첫 학습날"


def ladder_of(parsed: ParsedNote, default: Sequence[int]) -> tuple[int, ...] | None:
    """A note's stages come from the flags it carries: the stage flags the learner ticks (1/7/30 for a template
    with 1일후/7일후/1달후). None, for the default ladder, when they are all on it: a note with the 1/4/7 flags of a
    1/4/7/14 template lacks a key (the write-back adds it), and the template's derived 1/0 copies, which stop at
    day 7, never set the ladder."""
    ticked = parsed.ticked_stages
    return ticked if ticked and not set(ticked) <= set(default) else None


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
        zone: str = "UTC",
        delivery: Delivery | None = None,
    ) -> None:
        self.session = session
        self.zone = ZoneInfo(zone)
        self.delivery = delivery or Delivery("0 8 * * *", zone)
        self._git: dict[str, date] | None = None
        self.first_keys: Counter[str] = Counter()
        self.templates = TemplateFolders((), ())
        self.files: list[VaultFile] = []
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
            raise VaultError("vault {name}: folder {path} does not exist", name=vault.name, path=vault.path)

    def skip(self, file: VaultFile, line: int, why: str | Exception) -> None:
        self.report.skipped.append(Phrase("{path}:{line}: {why}", path=file.path, line=line, why=why))

    def parse(self, file: VaultFile, got: FileRead) -> ParsedNote | None:
        """The one parse of a note file per sync: what the frontmatter says (NoteFormatError for a broken one).
        Everything the sync learns from a file's text goes through here."""
        parsed = parse_note(file.rel, got.data, max_bytes=MAX_NOTE_BYTES)
        if parsed is None:  # not a study note of the template; maybe one of the Spaced Repetition plugin
            parsed = sr_study_note(file.rel, got.data, self.today)
        if parsed is not None and parsed.first_studied_on is not None and parsed.first_study_key:
            self.first_keys[parsed.first_study_key] += 1
        return parsed

    def first_key(self, files: Sequence[VaultFile]) -> str:
        """The first-study key in the vault's own style: the one its notes use most, else 첫 학습날."""
        if not self.first_keys:
            for file in files[:50]:
                try:
                    self.parse(file, read_file(file.path))
                except (OSError, NoteFormatError):
                    continue
        return self.first_keys.most_common(1)[0][0] if self.first_keys else DEFAULT_FIRST_KEY

    def choose_date(self, file: VaultFile) -> tuple[date, str]:
        """The first-study day of a new note whose file states none: the day git first added it, else the day
        of its modification time, in the learner's zone (never after today)."""
        if self._git is None:
            self._git = gitdates.added_dates(self.root, self.zone)
        day = self._git.get(file.rel)
        if day is not None:
            return min(day, self.today), "git"
        mtime = datetime.fromtimestamp(file.mtime_ns / 1e9, UTC).astimezone(self.zone).date()
        return min(mtime, self.today), "mtime"

    def context(self, files: Sequence[VaultFile], undated: bool) -> WriteContext:
        return WriteContext(
            self.today,
            self.extra_every,
            self.delivery,
            status=self.vault.status_block,
            first_key=self.first_key(files) if undated else None,
        )

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
        walked = files = walk_vault(self.root, self.report.skipped, self.report.backups)
        active = sum(1 for row in rows if not row.archived)
        if not files and active:
            self.report.skipped.append(
                Phrase(
                    NP_(
                        "{path}:1: no Markdown file found; its {n} note is kept, not archived "
                        "(is the folder mounted? `reminder vault rm {name}` if the vault is gone)",
                        "{path}:1: no Markdown file found; its {n} notes are kept, not archived "
                        "(is the folder mounted? `reminder vault rm {name}` if the vault is gone)",
                    ),
                    path=self.vault.path,
                    n=active,
                    name=self.vault.name,
                )
            )
            return self.report
        files = self.files = self._set_aside(files)
        racy_from = self._racy_threshold(previous)
        to_read: list[tuple[VaultFile, Any]] = []
        unchanged: list[tuple[VaultFile, Any]] = []
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

        seen = {file.rel for file in files}
        gone = {row.vault_path: row for row in rows if row.vault_path not in seen}
        # Renames: a new file with the bytes of a note whose file is gone (active notes first, then archived ones).
        by_hash: dict[str, list[Any]] = {}
        for row in sorted(gone.values(), key=lambda r: (r.archived, r.vault_path)):
            if row.content_hash:
                by_hash.setdefault(row.content_hash, []).append(row)
        # What the sync keeps of each note file it reads, taken as it reads it (not the bytes of every file).
        cues = Cues(walked, self.templates.holds)  # every file: the templates' placeholders too
        sr_states: dict[str, SrState] = {}
        new: list[tuple[VaultFile, FileRead, ParsedNote]] = []
        existing: list[_Work] = []
        fingerprints: list[dict[str, Any]] = []
        not_notes: list[int] = []
        for done, (file, row) in enumerate(to_read, start=1):
            if self.progress:
                self.progress(done, len(to_read))
            try:
                got = read_file(file.path)
                if row is not None and not row.archived and got.sha256 == row.content_hash and not self._dirty(row):
                    # Same bytes as last time: a touched file, or one written within a second of the last sync.
                    fingerprints.append(self._fingerprint(row.id, got, row.file_flags))
                    self.report.unchanged += 1
                    continue
                parsed = self.parse(file, got)
            except NoteFormatError as exc:
                self.skip(file, exc.line, exc.reason)
                continue
            except OSError as exc:
                self.skip(file, 1, Phrase("cannot read the file: {reason}", reason=exc.strerror))
                continue
            if parsed is None:
                if row is not None and not row.archived:
                    not_notes.append(row.id)
                continue
            problem = note_problem(file.rel, got.data, parsed, self.today)
            if problem:
                self.skip(file, *problem)
                continue
            cues.add(file.rel, got.data)
            if (sr_state := read_sr(got.data)) is not None:
                sr_states[file.rel] = sr_state
            if row is None:
                if not self.vault.write_back and parsed.content_hash not in by_hash:
                    # Nothing after this looks at the bytes of a new note that is not a rename (no write-back):
                    # let them go, rather than hold a large vault's every file to the end of the sync.
                    got = replace(got, data=b"")
                new.append((file, got, parsed))
            else:
                existing.append(self._work(file, row, got, parsed))

        added: list[_New] = []
        for file, got, parsed in sorted(new, key=lambda item: item[0].rel):
            candidates = by_hash.get(parsed.content_hash)
            if candidates:
                row = candidates.pop(0)
                del gone[row.vault_path]
                self._load_details([row.id])
                existing.append(self._work(file, row, got, parsed, renamed=True))
            elif parsed.first_studied_on is not None:
                added.append(_New(file, got, parsed, "file"))
            else:
                # Made from a template, no date: the day git added the file, else its modification time; chosen
                # now and kept (the store remembers it; a later touch of the file does not move it).
                day, source = self.choose_date(file)
                added.append(_New(file, got, replace(parsed, first_studied_on=day), source))
                self.report.dated.append(
                    Phrase(
                        "{path}: no first-study date; scheduled from {source}, {day}",
                        path=file.path,
                        source=DATED_BY[source],
                        day=day.isoformat(),
                    )
                )

        self._update_fingerprints(fingerprints)
        self._reconcile_existing(existing)
        self._insert(added)
        self._write_new(added)
        self._archive([*not_notes, *(row.id for row in gone.values() if not row.archived)])
        refresh_cues(self.session, self.vault.id, cues)
        refresh_sr(self.session, self.vault.id, sr_states, self.extra_every, self.today)
        self.vault.synced_at = self.started
        self.session.flush()
        return self.report

    def _set_aside(self, files: list[VaultFile]) -> list[VaultFile]:
        """The files that may be notes: templates and paths forgotten with `reminder rm --forget-file` are not,
        and are reported (templates only when they look like study notes). Their stored notes, if any, archive."""
        folders = {file.rel.rsplit("/", 1)[0] for file in files if "/" in file.rel}
        for folder in list(folders):
            while "/" in folder:
                folder = folder.rsplit("/", 1)[0]
                folders.add(folder)
        self.templates = template_folders(self.root, self.vault.templates, folders)
        self.report.templates = self.templates.describe()
        forgotten = set(
            self.session.scalars(select(ForgottenFile.vault_path).where(ForgottenFile.vault_folder == self.root))
        )
        kept: list[VaultFile] = []
        for file in files:
            if file.rel in forgotten:
                self.report.not_scheduled.append(
                    Phrase(
                        "{path}: not scheduled: its note was deleted with `reminder rm --forget-file`",
                        path=file.path,
                    )
                )
            elif self.templates.holds(file.rel):
                try:
                    parsed = parse_note(file.rel, read_file(file.path).data, max_bytes=MAX_NOTE_BYTES)
                except (OSError, NoteFormatError):
                    parsed = None
                if parsed is not None:
                    self.report.not_scheduled.append(
                        Phrase("{path}: not scheduled: a template (templates folder)", path=file.path)
                    )
            else:
                kept.append(file)
        return kept

    def _work(self, file: VaultFile, row: Any, got: FileRead, parsed: ParsedNote, *, renamed: bool = False) -> _Work:
        """An existing note's file; one that states no date keeps the date the store has (chosen once)."""
        if parsed.first_studied_on is not None:
            return _Work(file, row, got, parsed, renamed=renamed)
        kept = self.details[row.id].fields["first_studied_on"]
        return _Work(file, row, got, replace(parsed, first_studied_on=kept), renamed=renamed, undated=True)

    @staticmethod
    def _racy_threshold(previous: datetime | None) -> int:
        """Files modified at or after this instant (ns) are read even when their size and mtime match."""
        if previous is None:
            return 1 << 62
        return int(previous.timestamp() * 1e9) - RACY_NS

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
                    row_flags(row.ladder, done.get(row.id, set()), row.long_term_on is not None),
                    row.ladder,
                )

    def _dirty(self, row: Any) -> bool:
        """Whether the store holds flags the file should show (only with write-back; details loaded)."""
        if not self.vault.write_back:
            return False
        if row.touched and self.vault.status_block and row.status_block == SHOWN:
            return True  # the schedule may have moved (an extra review done, a snooze): the block may be stale
        base = decode_flags(row.file_flags)
        return base is not None and bool(flags_to_write(base, base, self.details[row.id].flags))

    @staticmethod
    def _fingerprint(note_id: int, got: FileRead, file_flags: str | None) -> dict[str, Any]:
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

    def _reconcile(self, note: Note, item: _Work, *, count: bool = True) -> None:
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
        undated = item.undated
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
            if not self.vault.write_back:
                self._record(note, got, flags)
                break
            try:
                plan = plan_write(got.data, parsed, note, base, self.context(self.files, undated), undated=undated)
                if plan.new == got.data:
                    note.status_block = plan.status
                    self._record(note, got, flags)
                    break
                done = replace_if_unchanged(file.path, got, plan.new, dry_run=self.dry_run)
            except NoteFormatError as exc:
                self.skip(file, exc.line, Phrase("cannot write back: {reason}", reason=exc.reason))
                self._record(note, got, flags)
                break
            except WriteRefused as exc:
                self.skip(file, 1, Phrase("not written back: {reason}", reason=exc))
                self._record(note, got, flags)
                break
            except OSError as exc:
                self.skip(file, 1, Phrase("cannot write back: {reason}", reason=exc.strerror))
                break
            if done.outcome is Outcome.WRITTEN and done.now is not None:
                self.report.written_back += 1
                note.status_block = plan.status
                self._record(note, done.now, {**flags, **plan.flags})
                break
            if done.outcome is not Outcome.CHANGED or done.now is None:
                self._lost(note, got, flags, file, done.outcome, done.kept)
                break
            # Changed since it was read: merge the newer content rather than overwrite it.
            got = done.now
            try:
                newer = self.parse(file, got)
            except NoteFormatError as exc:
                self.skip(file, exc.line, exc.reason)
                break
            if newer is None:
                self.skip(file, 1, Phrase("the file stopped being a study note while syncing"))
                break
            if problem := note_problem(file.rel, got.data, newer, self.today):
                self.skip(file, *problem)
                break
            undated = newer.first_studied_on is None
            parsed = replace(newer, first_studied_on=note.first_studied_on) if undated else newer
        else:
            self._lost(note, got, parsed_flags(parsed), file, Outcome.CHANGED, None)
        if item.renamed or not count:
            return
        if changed:
            self.report.updated += 1
        else:
            self.report.unchanged += 1

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
            self.session,
            note,
            today=self.today,
            extra_every=self.extra_every,
            title=title,
            first_studied_on=first,
            ladder=ladder,
            **cleared,
        )
        return True

    def _lost(
        self, note: Note, got: FileRead, flags: Flags, file: VaultFile, outcome: Outcome, kept: str | None
    ) -> None:
        """The write-back lost to another writer: the learner's file stands, and the next sync reads the file
        again (no fingerprint recorded) and writes what is still to write."""
        self._record(note, got, flags)
        note.content_hash = None
        line = lost_reason(file.path, outcome, kept)
        (self.report.skipped if outcome is Outcome.KEPT else self.report.lost).append(line)

    def _record(self, note: Note, got: FileRead, flags: Flags) -> None:
        note.file_size = got.size
        note.file_mtime_ns = got.mtime_ns
        note.content_hash = got.sha256
        note.file_flags = encode_flags(flags)

    # --- new and gone notes

    def _insert(self, added: list[_New]) -> None:
        """New notes in two executemany statements: the ORM's one flush per note is minutes for a large vault."""
        if not added:
            return
        out = _Inserter(self.session)
        # updated_at is the sync's start, which the next sync compares with: these notes are as their files say.
        now = out.datetime(self.started)
        today = out.date(self.today)
        note_rows = []
        for item in added:
            file, got, parsed = item.file, item.got, item.parsed
            fields = note_fields(self.vault.name, file.rel, parsed)
            note_rows.append(
                (
                    fields["title"],
                    fields["link"],
                    out.date(parsed.first_studied_on),
                    parsed.subject,
                    parsed.source,
                    parsed.pages,
                    parsed.level,
                    format_ladder(ladder_of(parsed, self.ladder) or self.ladder),
                    today if parsed.long_term else None,
                    now,
                    now,
                    self.vault.id,
                    file.rel,
                    got.size,
                    got.mtime_ns,
                    parsed.content_hash,
                    encode_flags(parsed_flags(parsed)),
                    item.first_study_from,
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
            ladder = ladder_of(parsed, self.ladder) or self.ladder
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
        self.report.added += len(added)

    def _write_new(self, added: list[_New]) -> None:
        """With write-back, new notes get what the store adds to a file: the chosen first-study date of a note
        made from a template, and the status block under a 복습알림 heading."""
        if not self.vault.write_back:
            return
        wanted = [
            item
            for item in added
            if item.first_study_from != "file"
            or (self.vault.status_block and status_section(item.got.data) is not None)
        ]
        if not wanted:
            return
        ids = self._ids_of([item.file.rel for item in wanted])
        by_id = {ids[item.file.rel]: item for item in wanted}
        self.session.flush()
        stmt = select(Note).where(Note.id.in_(sorted(by_id))).options(selectinload(Note.reviews))
        for note in self.session.scalars(stmt):
            item = by_id[note.id]
            work = _Work(item.file, None, item.got, item.parsed, undated=item.first_study_from != "file")
            self._reconcile(note, work, count=False)

    def _ids_of(self, paths: list[str]) -> dict[str, int]:
        in_vault = Note.vault_id == self.vault.id
        if len(paths) > 5 * _CHUNK:
            stmts = [select(Note.vault_path, Note.id).where(in_vault)]
        else:
            stmts = [
                select(Note.vault_path, Note.id).where(in_vault, Note.vault_path.in_(paths[start : start + _CHUNK]))
                for start in range(0, len(paths), _CHUNK)
            ]
        # A vault's notes all have a path (the column is nullable for the notes added by hand).
        return {rel: note_id for stmt in stmts for rel, note_id in self.session.execute(stmt) if rel is not None}

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
    zone: str = "UTC",
    delivery: Delivery | None = None,
) -> SyncReport:
    """Sync one vault in one transaction. ``dry_run`` reports what would change and changes nothing (store and
    files). VaultError when the vault is unknown or its folder does not exist."""
    try:
        with store.write() as session:
            vault = session.get(Vault, vault_id)
            if vault is None:
                raise VaultError("no vault with id {vault_id}", vault_id=vault_id)
            report = _VaultSync(
                session,
                vault,
                today=today,
                ladder=ladder,
                extra_every=extra_every,
                dry_run=dry_run,
                progress=progress,
                zone=zone,
                delivery=delivery,
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
