"""The read phase of a vault sync (reminder.vault.sync): the vault's note rows read, its files walked, stat'ed,
read and parsed, and each study note classified (unchanged, changed, new, renamed, gone), all outside any write
transaction, so that a sync reading a large vault holds no write lock a phone press would wait for. What this
phase saw of each row is kept, and the apply phase checks it again under the write lock."""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from reminder.clock import utcnow
from reminder.cues import Cues
from reminder.db.models import ForgottenFile, Note, Review, Vault
from reminder.errors import VaultError
from reminder.i18n import N_, NP_, Phrase
from reminder.schedulers import SrState
from reminder.vault import examine, gitdates
from reminder.vault.examine import Settings, Task, examine_all, parse_file
from reminder.vault.files import (
    FIELD_LIMITS,
    MAX_NOTE_BYTES,
    FileRead,
    VaultFile,
    note_fields,
    read_file,
    walk_vault,
)
from reminder.vault.flags import Flags, decode_flags, flags_to_write, row_flags
from reminder.vault.status import Delivery
from reminder.vault.templates import TemplateFolders, template_folders
from reminder.vault.writeback import SHOWN, WriteContext
from reminder.vault_format import NoteFormatError, ParsedNote, parse_note, status_section

RACY_NS = 1_000_000_000
CHUNK = 500  # ids per IN (...) query, well under SQLite's parameter limit
# A row changed this long before the read phase began may still be unseen by it (a writer's updated_at is taken
# before it commits): the apply phase reads such rows' details again.
RECENT = timedelta(minutes=1)

ProgressFn = Callable[[int, int], None]  # (files read so far, files to read)


@dataclass
class SyncReport:
    """What one sync of one vault did. Each study note found counts once in added/updated/renamed/unchanged, but
    for one another writer recorded, renamed or deleted between the read and the apply (counted nowhere here).
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
# The columns up to scheduler_state are the row's fingerprint: the apply phase compares them with what this phase
# saw. scheduler_state is in it because a press of a Spaced Repetition note changes it (and writes the new schedule
# into the file): the schedule this phase read from the file is then older than the store's, and must not be applied.
LIGHT_COLUMNS = (
    Note.id,
    Note.vault_path,
    Note.file_size,
    Note.file_mtime_ns,
    Note.content_hash,
    Note.file_flags,
    Note.archived_at.is_not(None).label("archived"),
    Note.scheduler_state,
    Note.status_block,
)
FINGERPRINT = ("vault_path", "file_size", "file_mtime_ns", "content_hash", "file_flags", "archived", "scheduler_state")
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
_FIELD_NAMES = ("title", "link", "first_studied_on", *FIELD_LIMITS)


def same_row(seen: Any, now: Any) -> bool:
    """Whether a note's row is still as the read phase saw it: no other sync (or write-back) recorded its file,
    renamed or archived it meanwhile. Reviews may have changed (a phone press): the apply phase reads those."""
    return now is not None and all(getattr(seen, name) == getattr(now, name) for name in FINGERPRINT)


@dataclass(frozen=True, slots=True)
class Details:
    """A stored note's fields as the file sets them, and its flags."""

    fields: dict[str, Any]
    flags: Flags
    ladder: str


@dataclass
class Work:
    """One study note read from disk that is, or becomes, an existing note of the store; what the apply phase and
    the write-back rounds learn of it (a newer read, whether the store changed) is kept here."""

    file: VaultFile
    row: Any  # the note's row as the read phase saw it (then as the apply phase found it); None for a new note
    got: FileRead
    parsed: ParsedNote  # first_studied_on resolved (a dateless file's date is the store's or the chosen one)
    renamed: bool = False
    undated: bool = False  # the file itself states no first-study date
    count: bool = True  # counted in updated/unchanged (a new note is counted as added)
    applied: bool = False  # applied to the store once: a newer read is a merge, not a rename or an un-archive
    changed: bool = False


@dataclass(frozen=True, slots=True)
class New:
    """A new note's file, and what its row is made of (taken in the read phase: no parsing under the lock)."""

    file: VaultFile
    got: FileRead
    parsed: ParsedNote
    first_study_from: str  # "file", "git" or "mtime"
    fields: dict[str, Any]  # note_fields
    ladder: tuple[int, ...]
    may_write: bool  # with write-back: a date to write, or a status block


def ladder_of(parsed: ParsedNote, default: Sequence[int]) -> tuple[int, ...] | None:
    """A note's stages come from the flags it carries: the stage flags the learner ticks (1/7/30 for a template
    with 1일후/7일후/1달후). None, for the default ladder, when they are all on it: a note with the 1/4/7 flags of a
    1/4/7/14 template lacks a key (the write-back adds it), and the template's derived 1/0 copies, which stop at
    day 7, never set the ladder."""
    ticked = parsed.ticked_stages
    return ticked if ticked and not set(ticked) <= set(default) else None


DATED_BY = {"git": N_("the date git added it"), "mtime": N_("its modification time")}
DEFAULT_FIRST_KEY = "첫 학습날"


class VaultReader:
    """The read phase of one vault's sync (``read``), and the parsing and dating both phases use."""

    def __init__(
        self,
        vault: Vault,
        *,
        today: date,
        ladder: Sequence[int],
        extra_every: int,
        progress: ProgressFn | None,
        zone: str = "UTC",
        delivery: Delivery | None = None,
        started: datetime | None = None,
    ) -> None:
        self.zone = ZoneInfo(zone)
        self.delivery = delivery or Delivery("0 8 * * *", zone)
        self._git: dict[str, date] | None = None
        self._first_key: str | None = None
        self.first_keys: Counter[str] = Counter()
        self.templates = TemplateFolders((), ())
        self.files: list[VaultFile] = []
        self.vault = vault
        self.today = today
        self.ladder = tuple(ladder)
        self.extra_every = extra_every
        self.progress = progress
        self.report = SyncReport()
        self.details: dict[int, Details] = {}
        # When the sync began: taken by sync_vault before the read transaction opens, so that whatever that
        # transaction's snapshot misses was changed after it (the next sync's touched check starts from here).
        self.started = started or utcnow()
        self.root = os.path.realpath(vault.path)
        if not os.path.isdir(self.root):
            raise VaultError("vault {name}: folder {path} does not exist", name=vault.name, path=vault.path)
        # What the read phase found, for the apply phase.
        self.rows: dict[int, Any] = {}  # every note row of the vault as read
        self.fingerprints: list[dict[str, Any]] = []  # files re-read with the bytes last recorded
        self.existing: list[Work] = []
        self.added: list[New] = []
        self.not_notes: list[int] = []  # rows whose file stopped being a study note
        self.gone: dict[str, Any] = {}  # rows whose file is gone, by path
        self.cues = Cues([], self.templates.holds)
        self.new_cues = Cues([], self.templates.holds)  # the new notes', inserted with them (split off by read)
        self.sr_states: dict[str, SrState] = {}
        self.walked_empty = False  # no Markdown file while the store holds notes: nothing more to do

    # New notes per early insert; 0: none (the read phase alone stores nothing). See insert_early.
    early_batch = 0

    def insert_early(self, batch: list[New], cues: dict[str, tuple[str | None, str | None]]) -> None:
        """Store ``batch``, new notes of a first sync, with their cue columns (by path), in the read phase."""
        raise NotImplementedError("the read phase alone stores nothing")

    def skip(self, file: VaultFile, line: int, why: str | Exception) -> None:
        self.report.skipped.append(Phrase("{path}:{line}: {why}", path=file.path, line=line, why=why))

    def parse(self, file: VaultFile, got: FileRead) -> ParsedNote | None:
        """reminder.vault.examine.parse_file of a file read here (for first_key), its first-study key counted as
        the read phase counts those of the files it examines."""
        parsed = parse_file(file.rel, got.data, self.today)
        self.count_key(parsed)
        return parsed

    def count_key(self, parsed: ParsedNote | None) -> None:
        """Count the note's first-study key, for first_key."""
        if parsed is not None and parsed.first_studied_on is not None and parsed.first_study_key:
            self.first_keys[parsed.first_study_key] += 1

    def first_key(self) -> str:
        """The first-study key in the vault's own style: the one its notes use most, else 첫 학습날. Taken once,
        in the read phase (it may read files)."""
        if self._first_key is None:
            if not self.first_keys:
                for file in self.files[:50]:
                    try:
                        self.parse(file, read_file(file.path))
                    except (OSError, NoteFormatError):
                        continue
            self._first_key = self.first_keys.most_common(1)[0][0] if self.first_keys else DEFAULT_FIRST_KEY
        return self._first_key

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

    def context(self, undated: bool) -> WriteContext:
        return WriteContext(
            self.today,
            self.extra_every,
            self.delivery,
            status=self.vault.status_block,
            first_key=self.first_key() if undated else None,
        )

    # The read phase in steps: pick the files to read, read them, then tell adds from renames.

    def read(self, session: Session) -> None:
        """Everything the sync learns from the vault's files and rows, in a read transaction (``session``)."""
        previous = self.vault.synced_at
        # Notes changed in the store since the last sync (updated_at is set by every change to a note's reviews):
        # only those can have flags to write into a file that did not change. A writer takes its updated_at before
        # it commits, so a press in flight when the last sync started may carry a time just before that sync's
        # start and still have been unseen by its read: RECENT before it counts as since.
        touched = (Note.updated_at > previous - RECENT) if previous is not None else true()
        rows = session.execute(
            select(*LIGHT_COLUMNS, touched.label("touched")).where(Note.vault_id == self.vault.id)
        ).all()
        self.rows = {row.id: row for row in rows}
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
            self.walked_empty = True
            return
        files = self.files = self._set_aside(session, files)
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
        self.load_details(
            session, [row.id for _, row in maybe_dirty] + [row.id for _, row in to_read if row is not None]
        )
        dirty = {row.id for _, row in maybe_dirty if self.dirty(row)}
        to_read += [(file, row) for file, row in maybe_dirty if row.id in dirty]
        # In the order of the paths (the walk's is the disk's): the cue columns are then taken in the order the new
        # notes are inserted in, a batch at a time (reminder.vault.sync).
        to_read.sort(key=lambda item: item[0].rel)
        self.report.unchanged += len(unchanged) - len(dirty)

        seen = {file.rel for file in files}
        gone = self.gone = {row.vault_path: row for row in rows if row.vault_path not in seen}
        # Renames: a new file with the bytes of a note whose file is gone (active notes first, then archived ones).
        by_hash: dict[str, list[Any]] = {}
        for row in sorted(gone.values(), key=lambda r: (r.archived, r.vault_path)):
            if row.content_hash:
                by_hash.setdefault(row.content_hash, []).append(row)
        # What the sync keeps of each note file it reads, taken as it reads it (not the bytes of every file).
        cues = self.cues = Cues(walked, self.templates.holds)  # every file: the templates' placeholders too
        # The templates are read for their placeholders only when there is a note to read (not on a re-sync of an
        # unchanged vault).
        placeholders = cues.placeholders if to_read else frozenset()
        settings = Settings(self.today, placeholders, self.vault.write_back, frozenset(by_hash))
        tasks = [
            Task(
                file.path,
                file.rel,
                # Same bytes as last time, for a touched file or one written within a second of the last sync: no
                # parse (a row whose flags the file should show is parsed, to be written back).
                row.content_hash if row is not None and not row.archived and not self.dirty(row) else None,
                row is not None,
            )
            for file, row in to_read
        ]
        new: list[tuple[VaultFile, FileRead, ParsedNote]] = []
        # A first sync (no row of this vault yet: no rename, no note another writer holds) whose files go to the
        # file workers inserts its new notes a batch at a time as their results come in, while the workers read
        # on, rather than all of them after the apply: see insert_early. Only the notes whose file states its
        # date and that will not be written back; the others go in after the apply, as in any other sync.
        early: list[New] = []
        early_cues: dict[str, tuple[str | None, str | None]] = {}
        early_ok = self.early_batch > 0 and not rows and examine.workers_for(len(tasks)) > 0
        # Closed however the loop ends: a sync stopped (Ctrl-C, a store error) lets its file workers go at once.
        with contextlib.closing(examine_all(tasks, settings)) as results:
            for done, ((file, row), examined) in enumerate(zip(to_read, results, strict=True), start=1):
                if self.progress:
                    self.progress(done, len(to_read))
                if examined.failure is not None:
                    self.skip(file, *examined.failure)
                    continue
                got = examined.got
                assert got is not None, "only a failure has no read"
                if examined.same:
                    self.fingerprints.append(fingerprint(row, got, row.file_flags))
                    self.report.unchanged += 1
                    continue
                parsed = examined.parsed
                self.count_key(parsed)
                if parsed is None:
                    if row is not None and not row.archived:
                        self.not_notes.append(row.id)
                    continue
                if examined.problem:
                    self.skip(file, *examined.problem)
                    continue
                assert examined.cues is not None, "a note the store can take has its cue columns"
                if examined.sr_state is not None:
                    self.sr_states[file.rel] = examined.sr_state
                if early_ok and row is None and parsed.first_studied_on is not None:
                    item = self.new(file, got, parsed, "file")
                    if not item.may_write:
                        early.append(item)
                        early_cues[file.rel] = examined.cues
                        if len(early) == self.early_batch:
                            self.insert_early(early, early_cues)
                            early, early_cues = [], {}
                        continue
                cues.add_columns(file.rel, *examined.cues)
                if row is None:
                    new.append((file, got, parsed))
                else:
                    self.existing.append(self.work(file, row, got, parsed))

        if early:  # the last batch
            self.insert_early(early, early_cues)
        for file, got, parsed in sorted(new, key=lambda item: item[0].rel):
            candidates = by_hash.get(parsed.content_hash)
            if candidates:
                row = candidates.pop(0)
                del gone[row.vault_path]
                self.load_details(session, [row.id])
                self.existing.append(self.work(file, row, got, parsed, renamed=True))
            elif parsed.first_studied_on is not None:
                self.added.append(self.new(file, got, parsed, "file"))
            else:
                # Made from a template, no date: the day git added the file, else its modification time; chosen
                # now and kept (the store remembers it; a later touch of the file does not move it).
                day, source = self.choose_date(file)
                self.added.append(self.new(file, got, replace(parsed, first_studied_on=day), source))
                self.report.dated.append(
                    Phrase(
                        "{path}: no first-study date; scheduled from {source}, {day}",
                        path=file.path,
                        source=DATED_BY[source],
                        day=day.isoformat(),
                    )
                )
        self._read_missing_cues(session)
        # The new notes' cue columns go in with their rows, a batch at a time after the apply (not updated in by
        # refresh_cues under the write lock); split off here, outside it. A new note another sync adds between
        # the phases keeps the columns that sync stored, taken from the same file.
        if self.added:
            self.new_cues = cues.split({new.file.rel for new in self.added})
        if self.vault.write_back:
            self.first_key()  # read now, if a write-back is to date a note: no file is read under the write lock

    def _read_missing_cues(self, session: Session) -> None:
        """The questions of notes that have none stored and whose file this sync did not read (a store from
        before cues): read now, so that refresh_cues, in the apply phase, finds them and reads no file."""
        missing = session.scalars(
            select(Note.vault_path).where(
                Note.vault_id == self.vault.id, Note.cue_questions.is_(None), Note.archived_at.is_(None)
            )
        )
        by_rel = {file.rel: file for file in self.files}
        for rel in missing:
            if rel is None or rel in self.cues.read or rel not in by_rel:
                continue
            try:
                got = read_file(by_rel[rel].path)
            except OSError:
                continue  # refresh_cues reads it then, or the next sync does
            self.cues.add(rel, got.data)

    def _set_aside(self, session: Session, files: list[VaultFile]) -> list[VaultFile]:
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
            session.scalars(select(ForgottenFile.vault_path).where(ForgottenFile.vault_folder == self.root))
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

    def new(self, file: VaultFile, got: FileRead, parsed: ParsedNote, first_study_from: str) -> New:
        may_write = self.vault.write_back and (
            first_study_from != "file" or (self.vault.status_block and status_section(got.data) is not None)
        )
        fields = note_fields(self.vault.name, file.rel, parsed)
        ladder = ladder_of(parsed, self.ladder) or self.ladder
        return New(file, got, parsed, first_study_from, fields, ladder, may_write)

    def work(self, file: VaultFile, row: Any, got: FileRead, parsed: ParsedNote, *, renamed: bool = False) -> Work:
        """An existing note's file; one that states no date keeps the date the store has (chosen once)."""
        if parsed.first_studied_on is not None:
            return Work(file, row, got, parsed, renamed=renamed)
        kept = self.details[row.id].fields["first_studied_on"]
        return Work(file, row, got, replace(parsed, first_studied_on=kept), renamed=renamed, undated=True)

    @staticmethod
    def _racy_threshold(previous: datetime | None) -> int:
        """Files modified at or after this instant (ns) are read even when their size and mtime match."""
        if previous is None:
            return 1 << 62
        return int(previous.timestamp() * 1e9) - RACY_NS

    def load_details(self, session: Session, note_ids: list[int], *, again: bool = False) -> None:
        """Fields and flags of these notes into self.details: per chunk of ids, or for the whole vault when most
        of it is wanted (a first sync after every file changed). ``again``: read even those already loaded."""
        ids = sorted(set(note_ids) if again else set(note_ids) - set(self.details))
        if not ids:
            return
        done_stmt = select(Review.note_id, Review.offset).where(Review.extra.is_(False), Review.done_on.is_not(None))
        if len(ids) > 5 * CHUNK:
            in_vault = Note.vault_id == self.vault.id
            chunks = [(select(*_DETAIL_COLUMNS).where(in_vault), done_stmt.join(Note).where(in_vault))]
        else:
            chunks = [
                (select(*_DETAIL_COLUMNS).where(Note.id.in_(part)), done_stmt.where(Review.note_id.in_(part)))
                for part in (ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK))
            ]
        for notes_stmt, reviews_stmt in chunks:
            done: dict[int, set[int]] = {}
            for note_id, offset in session.execute(reviews_stmt):
                done.setdefault(note_id, set()).add(offset)
            for row in session.execute(notes_stmt):
                self.details[row.id] = Details(
                    {name: getattr(row, name) for name in _FIELD_NAMES},
                    row_flags(row.ladder, done.get(row.id, set()), row.long_term_on is not None),
                    row.ladder,
                )

    def dirty(self, row: Any) -> bool:
        """Whether the store holds flags the file should show (only with write-back; details loaded)."""
        if not self.vault.write_back:
            return False
        if row.touched and self.vault.status_block and row.status_block == SHOWN:
            return True  # the schedule may have moved (an extra review done, a snooze): the block may be stale
        base = decode_flags(row.file_flags)
        return base is not None and bool(flags_to_write(base, base, self.details[row.id].flags))


def fingerprint(row: Any, got: FileRead, file_flags: str | None) -> dict[str, Any]:
    """The parameters of one fingerprint update of ``row``'s note to ``got``: the update requires the row still
    to hold the hash and flags ``row`` has (on PostgreSQL a write-back may record the file at the same time)."""
    return {
        "b_id": row.id,
        "b_size": got.size,
        "b_mtime": got.mtime_ns,
        "b_hash": got.sha256,
        "b_flags": file_flags,
        "b_seen_hash": row.content_hash,
        "b_seen_flags": row.file_flags,
    }
