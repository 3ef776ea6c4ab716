"""Obsidian vault sync: study notes come into the store from their frontmatter, and review flags go both ways.

The library behind `reminder vault ...` and `reminder sync`; the runner calls ``sync_all`` before each slot and
the phone/CLI ``done`` may call ``write_back_note``. No click here. Parsing is reminder.vault_format's.

Identity. A note is its vault-relative path. A file that disappears while a new file with the very same bytes
appears is a rename or move: the note follows it (new path, title and link; history kept). A deleted file
archives its note (history kept, reminders stop); a file that comes back at its path, or with the same bytes
elsewhere, un-archives it. A file that stops being a study note (its first-study date removed) is archived too.
A rename combined with an edit in the same sync cannot be told from delete + add, and is treated as such.

Which side wins a review flag. Each note keeps the flags its file stated when the sync last read or wrote it
(``Note.file_flags``): the base of a three-way merge, decided per flag.
- The file changed the flag since then (its value differs from the base, or the key is new): the file wins. A
  flag the learner unticks is undone in the store, a flag ticked is done.
- The file still shows the base value: the store wins. A review marked done on the phone or with the CLI, or
  undone with `reminder undo`, is never overruled by a file that merely has not caught up; with write-back the
  file's flag is rewritten to the store's value, without it the store keeps its state and the file shows the old
  one (so a learner who wants the file to show every review done elsewhere turns write-back on).
- A flag the file does not state leaves the store alone. With write-back a stage done in the store is added to
  the file (after the last stage flag), unless the learner deleted that key since the last sync.
- A flag key the learner adds to the file states a value the file never had: the file wins, even over a change
  made in the store since the last sync (the note is the learner's source of truth). Re-spelling a value
  (``true`` as ``yes``) is no change.
Store changes since the last sync are found through ``Note.updated_at`` (every change to a note's reviews sets it),
so a sync of an unchanged vault reads review rows only for the notes changed since; ``write_back_note`` lets the
phone and CLI write a flag the moment it changes instead of at the next sync.
Other fields (first-study date, subject, source, pages, level) are the file's whenever its content changes;
title and link follow the path.

Incremental. A file whose size and mtime match what was recorded is neither read nor parsed. With write-back,
such a file is read only when the store's flags differ from its recorded ones. A file whose mtime is within a
second of the previous sync is read again once (as git does with "racily clean" files): an edit in the same
timestamp tick as our read would otherwise go unseen. A file re-read with the same bytes is not parsed.

Write-back. Only the flag values change (vault_format.set_flag keeps every other byte: key order, quotes, emoji,
comments, CRLF, BOM, the body). Right before writing, the file is read again; if it changed since it was read
(size, mtime or bytes), it is merged again from the new content instead of being overwritten, up to three times.
The new content goes to a temporary file in the same folder (hidden, so Obsidian and the next sync ignore it),
takes the old file's permissions and owner, and replaces it with os.replace.

Skipped silently: hidden files and folders (``.obsidian/``, ``.trash/``, ...), symlinks (one leading outside the
vault must never be read or written through; one leading inside names a file synced under its own path already),
anything not ending in ``.md``. Skipped with one line ``path:line: why`` (exit status 1): a file that cannot be
read, is over MAX_NOTE_BYTES, is not UTF-8, has malformed or non-mapping frontmatter, a bad date or flag, a
first-study date after today, or a field longer than the store keeps. Nothing already stored for such a file is
touched (a note whose file broke keeps its schedule) and it is reported again at every sync until fixed. A vault
folder that does not exist is an error for that vault (NoteError, exit 2); one with no Markdown file at all
while the store holds its notes looks unmounted, so nothing is archived and that is reported as a skip.

Removing a vault archives its notes and detaches them from it (history kept, the files untouched); adding the
folder again imports its notes afresh.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, insert, select, true, update
from sqlalchemy.orm import Session, selectinload

from reminder import notes, schedule, vault_format
from reminder.config import format_ladder, parse_ladder
from reminder.db import Store
from reminder.db.models import Note, Review, Vault
from reminder.notes import NoteError, utcnow
from reminder.vault_format import NoteFormatError, ParsedNote, obsidian_link, parse_note, set_flag

__all__ = [
    "MAX_NOTE_BYTES",
    "SyncReport",
    "add_vault",
    "list_vaults",
    "remove_vault",
    "sync_all",
    "sync_vault",
    "vault_note_counts",
    "write_back_note",
]

MAX_NOTE_BYTES = 1_000_000
WRITE_ATTEMPTS = 3
RACY_NS = 1_000_000_000
NAME_MAX = 200
_CHUNK = 500  # ids per IN (...) query, well under SQLite's parameter limit

ProgressFn = Callable[[int, int], None]  # (files read so far, files to read)
Flag = int | None  # a stage in days, or None for the long-term flag
Flags = dict[Flag, bool]


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


# --- vaults ------------------------------------------------------------------------------------------------------


def add_vault(session: Session, path: Path, name: str | None, write_back: bool) -> Vault:
    """Register a vault folder. ``name`` (default: the folder's name) is the vault's name in Obsidian, used in
    obsidian:// links. NoteError when the folder does not exist or the name or folder is taken."""
    folder = Path(os.path.abspath(Path(path).expanduser()))
    if not folder.exists():
        raise NoteError(f"vault folder {folder} does not exist")
    if not folder.is_dir():
        raise NoteError(f"{folder} is not a folder")
    name = " ".join((name if name is not None else folder.resolve().name).split())
    if not name:
        raise NoteError("the vault name is empty (give one with --name)")
    if len(name) > NAME_MAX:
        raise NoteError(f"the vault name is longer than {NAME_MAX} characters")
    if session.scalar(select(Vault).where(Vault.name == name)) is not None:
        raise NoteError(f"a vault named {name!r} is already registered; pick another name with --name")
    real = os.path.realpath(folder)
    for other in session.scalars(select(Vault)):
        if os.path.realpath(other.path) == real:
            raise NoteError(f"{folder} is already registered as vault {other.name!r}")
    vault = Vault(name=name, path=str(folder), write_back=write_back, created_at=utcnow())
    session.add(vault)
    session.flush()
    return vault


def list_vaults(session: Session) -> list[Vault]:
    return list(session.scalars(select(Vault).order_by(Vault.name)))


def vault_note_counts(session: Session) -> dict[int, int]:
    """Active (not archived) notes per vault id."""
    rows = session.execute(
        select(Note.vault_id, func.count())
        .where(Note.vault_id.is_not(None), Note.archived_at.is_(None))
        .group_by(Note.vault_id)
    )
    return {vault_id: count for vault_id, count in rows}


def remove_vault(session: Session, name: str) -> int:
    """Forget a vault. Its notes are archived and detached (history kept, reminders stop); its files are left
    alone. Returns the number of notes archived."""
    vault = session.scalar(select(Vault).where(Vault.name == name))
    if vault is None:
        known = ", ".join(v.name for v in list_vaults(session)) or "none"
        raise NoteError(f"no vault named {name!r} (registered: {known})")
    now = utcnow()
    archived = session.execute(
        update(Note)
        .where(Note.vault_id == vault.id, Note.archived_at.is_(None))
        .values(archived_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.execute(
        update(Note).where(Note.vault_id == vault.id).values(vault_id=None).execution_options(synchronize_session=False)
    )
    session.delete(vault)
    session.flush()
    return archived or 0


# --- flags: the three-way merge ----------------------------------------------------------------------------------

_LONG_TERM_CODE = "lt"


def encode_flags(flags: Flags) -> str:
    """``{1: True, 4: False, None: False}`` -> ``"1=1,4=0,lt=0"`` (stages in order, long-term last)."""
    stages = sorted(k for k in flags if k is not None)
    parts = [f"{k}={int(flags[k])}" for k in stages]
    if None in flags:
        parts.append(f"{_LONG_TERM_CODE}={int(flags[None])}")
    return ",".join(parts)


def decode_flags(text: str | None) -> Flags | None:
    """The inverse of encode_flags; None for no record (or one this version cannot read: the file then wins)."""
    if text is None:
        return None
    flags: Flags = {}
    for part in filter(None, text.split(",")):
        key, _, value = part.partition("=")
        if value not in ("0", "1"):
            return None
        if key == _LONG_TERM_CODE:
            flags[None] = value == "1"
        elif key.isdigit():
            flags[int(key)] = value == "1"
        else:
            return None
    return flags


def parsed_flags(parsed: ParsedNote) -> Flags:
    """The flags a note's file states."""
    flags: Flags = dict(parsed.stages)
    if parsed.long_term is not None:
        flags[None] = parsed.long_term
    return flags


def flags_from_file(file: Flags, base: Flags | None, store: Flags) -> Flags:
    """Flags the learner changed in the file since the last sync that differ from the store: the store takes
    them. With no base every flag the file states counts as changed."""
    return {
        flag: value
        for flag, value in file.items()
        if flag in store and store[flag] != value and (base is None or base.get(flag) != value)
    }


def flags_to_write(file: Flags, base: Flags | None, store: Flags) -> Flags:
    """Store values the file should show: flags the file did not change since the last sync but the store did,
    and stages done in the store the file has never stated (a key the learner deleted stays deleted)."""
    out: Flags = {}
    for flag, value in store.items():
        if flag in file:
            if value != file[flag] and base is not None and base.get(flag) == file[flag]:
                out[flag] = value
        elif value and (base is None or flag not in base):
            out[flag] = value
    return out


def note_flags(note: Note) -> Flags:
    """The store's flags of a note (reviews loaded): every ladder stage and the long-term mark."""
    flags: Flags = {r.offset: r.done_on is not None for r in note.reviews if not r.extra}
    flags[None] = note.long_term_on is not None
    return flags


@lru_cache(maxsize=64)
def _ladder(text: str) -> tuple[int, ...]:
    return parse_ladder(text)


def _row_flags(ladder_text: str, done: set[int], long_term: bool) -> Flags:
    flags: Flags = {stage: stage in done for stage in _ladder(ladder_text)}
    flags[None] = long_term
    return flags


def _with_flags(data: bytes, flags: Flags) -> bytes:
    for flag, value in sorted(flags.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
        data = set_flag(data, flag, value)
    return data


# --- files -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _File:
    rel: str  # vault-relative, "/"-separated: the note's identity
    path: str  # absolute, under the vault's real path
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class _Read:
    data: bytes
    size: int
    mtime_ns: int
    mode: int
    uid: int
    gid: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _walk(root: str, skipped: list[str]) -> list[_File]:
    """Every candidate note under ``root`` (a real path), in no particular order."""
    files: list[_File] = []
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            it = os.scandir(folder)
        except OSError as exc:
            if folder == root:
                raise NoteError(f"cannot read vault folder {root}: {exc.strerror}") from None
            skipped.append(f"{folder}:1: cannot read the folder: {exc.strerror}")
            continue
        with it:
            for entry in it:
                name = entry.name
                if name.startswith("."):
                    continue
                try:
                    if entry.is_symlink():
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        stack.append((entry.path, f"{prefix}{name}/"))
                        continue
                    if not name.lower().endswith(".md") or not entry.is_file(follow_symlinks=False):
                        continue
                    st = entry.stat(follow_symlinks=False)
                except OSError as exc:
                    skipped.append(f"{entry.path}:1: cannot read the file: {exc.strerror}")
                    continue
                rel = prefix + name
                try:
                    rel.encode("utf-8")
                except UnicodeEncodeError:
                    shown = os.fsencode(entry.path).decode("utf-8", "backslashreplace")
                    skipped.append(f"{shown}:1: the file name is not UTF-8 (rename it)")
                    continue
                files.append(_File(rel, entry.path, st.st_size, st.st_mtime_ns))
    return files


def _read(path: str, max_bytes: int = MAX_NOTE_BYTES) -> _Read:
    """The file's bytes and the fingerprint they were read with. Never follows a symlink (O_NOFOLLOW)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NoteFormatError(1, "not a regular file")
        if st.st_size > max_bytes:
            raise NoteFormatError(1, f"the file is {st.st_size:,} bytes, over the {max_bytes:,}-byte limit for a note")
        # Plain os.read: a buffered file object per note costs more than the read itself in a large vault. A
        # short read is the end of the file; a full one means it grew since fstat, so read on up to the bound.
        data = os.read(fd, st.st_size + 1)
        while st.st_size < len(data) <= max_bytes:
            chunk = os.read(fd, max_bytes + 1 - len(data))
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise NoteFormatError(1, f"the file is over the {max_bytes:,}-byte limit for a note")
    return _Read(data, st.st_size, st.st_mtime_ns, st.st_mode, st.st_uid, st.st_gid)


def _replace_if_unchanged(path: str, expected: _Read, new: bytes, *, dry_run: bool) -> tuple[bool, _Read]:
    """Write ``new`` over ``path`` if the file still is ``expected``: (True, the written file). Otherwise leave
    it and return (False, what is there now), so the caller merges the newer content instead of losing it."""
    current = _read(path)
    if (current.size, current.mtime_ns, current.data) != (expected.size, expected.mtime_ns, expected.data):
        return False, current
    if dry_run:
        return True, current
    folder, name = os.path.split(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(new)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, stat.S_IMODE(current.mode))
        with contextlib.suppress(OSError):
            # A service running as another user (root in a container) must not hand the note to itself.
            os.chown(tmp, current.uid, current.gid)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    st = os.stat(path, follow_symlinks=False)
    return True, _Read(new, st.st_size, st.st_mtime_ns, st.st_mode, st.st_uid, st.st_gid)


def _field_line(data: bytes, wanted: str | int | None) -> int:
    """The 1-based line of the frontmatter key for ``wanted`` (a vault_format field name), for skip messages."""
    lines = data.split(b"\n")
    for number, raw in enumerate(lines[1:], start=2):
        text = raw.decode("utf-8", "replace").rstrip("\r")
        if text.rstrip() == "---":
            break
        key = text.split(":", 1)[0].strip().strip("\"'")
        kind = vault_format._classify(key) if key else None
        if kind is not None and kind[0] == wanted:
            return number
    return 2


_LIMITS = {name: Note.__table__.c[name].type.length for name in ("subject", "source", "pages", "level")}


def _problem(rel: str, data: bytes, parsed: ParsedNote, today: date) -> tuple[int, str] | None:
    """Why the store cannot take this note as it is, with the line to fix; None when it can."""
    if parsed.first_studied_on > today:
        return (
            _field_line(data, vault_format.FIRST_STUDY),
            f"first-study date {parsed.first_studied_on.isoformat()} is after today ({today.isoformat()})",
        )
    for name, limit in _LIMITS.items():
        value = getattr(parsed, name)
        if value is None:
            continue
        if len(value) > limit:
            return _field_line(data, name), f"{name} is longer than {limit} characters"
        # YAML escapes ("\0", "\ud800") can spell what no database column takes.
        if "\x00" in value or _unencodable(value):
            return _field_line(data, name), f"{name} holds a NUL or an unpaired surrogate escape"
    if not _title(rel):
        return 1, f"the file name makes an empty title or one over {notes.TITLE_MAX} characters"
    return None


def _unencodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _title(rel: str) -> str | None:
    name = rel.rsplit("/", 1)[-1]
    title = " ".join(name[:-3].split())
    return title if 0 < len(title) <= notes.TITLE_MAX else None


def _fields(vault_name: str, rel: str, parsed: ParsedNote) -> dict[str, Any]:
    return {
        "title": _title(rel),
        "link": obsidian_link(vault_name, rel),
        "first_studied_on": parsed.first_studied_on,
        "subject": parsed.subject,
        "source": parsed.source,
        "pages": parsed.pages,
        "level": parsed.level,
    }


# --- sync --------------------------------------------------------------------------------------------------------

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


# --- write-back outside a sync -----------------------------------------------------------------------------------


def write_back_note(session: Session, note: Note) -> bool:
    """Write the store's review flags into the note's file, if its vault has write-back. True when written.

    Call it in the session that changed the note (after mark_done/undo), reviews loaded. Only flags the file has
    not changed since the last sync are written (see the module docstring), so an edit the learner made since
    then is kept and applied by the next sync. Problems (file gone, broken, kept changing) return False: the
    next sync reports them. The store's schedule is not changed here.
    """
    if note.vault_id is None or note.vault_path is None or note.archived_at is not None:
        return False
    vault = session.get(Vault, note.vault_id)
    if vault is None or not vault.write_back:
        return False
    root = os.path.realpath(vault.path)
    path = os.path.join(root, *note.vault_path.split("/"))
    if not os.path.realpath(path).startswith(root + os.sep):
        return False  # a folder on the way became a symlink out of the vault
    base = decode_flags(note.file_flags)
    for _attempt in range(WRITE_ATTEMPTS):
        try:
            got = _read(path)
            parsed = parse_note(note.vault_path, got.data, max_bytes=MAX_NOTE_BYTES)
            if parsed is None:
                return False
            flags = parsed_flags(parsed)
            write = flags_to_write(flags, base, note_flags(note))
            if not write:
                return False
            written, now = _replace_if_unchanged(path, got, _with_flags(got.data, write), dry_run=False)
        except (OSError, NoteFormatError):
            return False
        if written:
            # The base keeps the learner's unsynced flag edits unsynced; the fingerprint moves only when the file
            # was as last synced, else the next sync must still read its other changes.
            note.file_flags = encode_flags({**(base if base is not None else flags), **write})
            if got.sha256 == note.content_hash:
                note.file_size, note.file_mtime_ns, note.content_hash = now.size, now.mtime_ns, now.sha256
            session.flush()
            return True
    return False
