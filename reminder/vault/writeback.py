"""What write-back puts into a note's file, and writing it for one note outside a sync: `reminder done`/`undo`,
`reminder review` and the phone's buttons call ``prepare_write_back`` in the transaction that records the review,
then ``finish_write_back`` once it has committed (the caller records, then asks the vault to write: the use cases
in reminder.notes know nothing of files)."""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from reminder import notes, schedule
from reminder.db import one_line
from reminder.db.models import Note, Vault
from reminder.i18n import Phrase
from reminder.vault.files import (
    MAX_NOTE_BYTES,
    WRITE_ATTEMPTS,
    FileRead,
    Outcome,
    WriteRefused,
    read_file,
    replace_if_unchanged,
)
from reminder.vault.flags import (
    Flags,
    decode_flags,
    encode_flags,
    flags_to_write,
    note_flags,
    parsed_flags,
    with_flags,
)
from reminder.vault.status import Delivery, same_status, status_lines
from reminder.vault_format import (
    MIRRORS,
    NoteFormatError,
    ParsedNote,
    parse_note,
    set_first_study,
    set_mirrors,
    set_status_block,
    status_section,
)

if TYPE_CHECKING:
    from reminder.config import Settings
    from reminder.db import Store

SHOWN, REMOVED = "shown", "removed"
_CHUNK = 500  # ids per IN (...) query, well under SQLite's parameter limit
log = logging.getLogger("reminder")


@dataclass(frozen=True)
class WriteContext:
    """What a write-back needs besides the note: the day, the extra-review interval, the delivery the status
    block states, whether the vault keeps status blocks, and the first-study key in the vault's own style (None:
    do not write a date)."""

    today: date
    extra_every: int
    delivery: Delivery
    status: bool = True
    first_key: str | None = None


def mirror_values(ladder: tuple[int, ...], flags: Flags) -> dict[str, str]:
    """The template's mirrors of the flags: 학습률 as a fraction ("0.6") and 진행바 as the digest draws it."""
    done = sum(1 for stage in ladder if flags.get(stage))
    pct = schedule.progress(done, len(ladder), bool(flags.get(None)))
    return {MIRRORS[0]: f"{pct / 100:g}", MIRRORS[1]: schedule.progress_bar(pct)}


@dataclass(frozen=True)
class Plan:
    new: bytes  # the file's new content (== the read when nothing is to change)
    flags: Flags  # the flags written
    status: str | None  # the note's status-block state once this is written


def plan_write(
    data: bytes, parsed: ParsedNote, note: Note, base: Flags | None, ctx: WriteContext, *, undated: bool = False
) -> Plan:
    """The file's content with the store's state written in: flags the store changed (and their mirrors), the
    first-study date when the file has none, and the status block. Every other byte is kept."""
    flags = parsed_flags(parsed)
    write = flags_to_write(flags, base, note_flags(note))
    new = data
    if write:
        new = with_flags(new, write)
        new = set_mirrors(new, mirror_values(notes.note_ladder(note), {**flags, **write}))
    if (undated or parsed.first_studied_on is None) and ctx.first_key:
        new = set_first_study(new, ctx.first_key, note.first_studied_on)
    state = note.status_block
    section = status_section(new) if ctx.status and state != REMOVED else None
    if section is not None:
        if section.block is None and state == SHOWN:
            state = REMOVED  # the learner deleted the block: respected from now on
        else:
            view = notes.view_note(note, ctx.today, ctx.extra_every)
            lines = status_lines(view, ctx.today, ctx.delivery, section.language)
            if section.block is None or not same_status(_inner(new, section.block), "\n".join(lines)):
                new = set_status_block(new, lines)
            state = SHOWN
    return Plan(new, write, state)


def _inner(data: bytes, span: tuple[int, int]) -> str:
    """The lines between a block's markers, joined with "\n"."""
    lines = data[span[0] : span[1]].decode("utf-8", "replace").splitlines()
    return "\n".join(lines[1:-1])


class WriteBack(enum.Enum):
    WRITTEN = "written"
    NOTHING = "nothing"  # the file already shows the store's state, or the note has no file with write-back
    LOST = "lost"  # something else wrote the file meanwhile: the next sync writes it
    FAILED = "failed"  # the file or its folder is read-only, broken or unreadable: ``WriteBackResult.reason``


@dataclass(frozen=True)
class WriteBackResult:
    outcome: WriteBack
    reason: str = ""


def note_path(session: Session, note: Note) -> tuple[Vault, str] | None:
    """The note's vault (with write-back) and the absolute path of its file, or None."""
    if note.vault_id is None or note.vault_path is None or note.archived_at is not None:
        return None
    vault = session.get(Vault, note.vault_id)
    if vault is None or not vault.write_back:
        return None
    root = os.path.realpath(vault.path)
    path = os.path.join(root, *note.vault_path.split("/"))
    if not os.path.realpath(path).startswith(root + os.sep):
        return None  # a folder on the way became a symlink out of the vault
    return vault, path


@dataclass(frozen=True)
class FileWrite:
    """What writing one note's file came to, and what the store must learn of it: ``record`` applies it to the
    note's row as it is then (None: nothing to record)."""

    result: WriteBackResult
    record: Callable[[Note], None] | None = None


@dataclass(frozen=True)
class PendingWrite:
    """One note's write-back, taken in the transaction that recorded the review and run after it commits: the
    file is read and written outside any transaction (on SQLite a write transaction holds BEGIN IMMEDIATE, so a
    phone press or a command would wait on the file), and what it learned is recorded in a second short one by
    ``finish_write_back``. A crash between the two leaves the row touched and the file as it was: the next sync
    writes it, as after a write-back that lost a race."""

    note_id: int
    run: Callable[[], FileWrite]


def prepare_write_back(session: Session, note: Note, today: date, settings: Settings) -> PendingWrite | None:
    """In the transaction that recorded a review (done, undo, a rating; the command line and the phone's buttons
    alike): the write-back of the note's file in the form its scheduler keeps (the Spaced Repetition plugin's
    fields, else the template's flags), or None when the note has no file with write-back. ``settings`` gives
    extra_every and the delivery's cron and zone."""
    if note.scheduler == "sr":
        from reminder.srnote import prepare_sr

        return prepare_sr(session, note)
    return prepare_note(
        session,
        note,
        WriteContext(today, settings.extra_every, Delivery(settings.cron, settings.timezone)),
    )


def prepare_note(session: Session, note: Note, ctx: WriteContext) -> PendingWrite | None:
    """The write of the store's state of the note (flags, mirrors, status block) into its file, if its vault has
    write-back. The note is used after its session ends, as recorded: the store's sessions keep what they loaded
    after the commit, and its reviews are loaded here."""
    found = note_path(session, note)
    if found is None:
        return None
    vault, path = found
    ctx = WriteContext(ctx.today, ctx.extra_every, ctx.delivery, status=vault.status_block)
    base = decode_flags(note.file_flags)
    _ = note.reviews  # loaded now, while the session is open: plan_write reads them after it closes
    return PendingWrite(note.id, lambda: write_file(path, note, base, ctx))


def write_file(path: str, note: Note, base: Flags | None, ctx: WriteContext) -> FileWrite:
    """Write the recorded state of ``note`` into the file at ``path``; no store access. Only flags the file has
    not changed since the last sync (``base``) are written (see reminder.vault), so an edit the learner made since
    then is kept and applied by the next sync. The store's schedule is not changed here."""
    for _attempt in range(WRITE_ATTEMPTS):
        try:
            got = read_file(path)
            parsed = parse_note(note.vault_path or "", got.data, max_bytes=MAX_NOTE_BYTES)
            if parsed is None:
                return FileWrite(WriteBackResult(WriteBack.FAILED, f"{path} is no longer a study note"))
            plan = plan_write(got.data, parsed, note, base, ctx)
            if plan.new == got.data:
                # Nothing to write; only a status block the learner deleted is worth a transaction.
                record = partial(record_status, plan.status) if plan.status != note.status_block else None
                return FileWrite(WriteBackResult(WriteBack.NOTHING), record)
            done = replace_if_unchanged(path, got, plan.new, dry_run=False)
        except FileNotFoundError:
            return FileWrite(WriteBackResult(WriteBack.LOST, Phrase("{path} is gone", path=path)))
        except WriteRefused as exc:
            return FileWrite(WriteBackResult(WriteBack.FAILED, Phrase("{path}: {reason}", path=path, reason=exc)))
        except NoteFormatError as exc:
            why = Phrase("{path}:{line}: {why}", path=path, line=exc.line, why=exc.reason)
            return FileWrite(WriteBackResult(WriteBack.FAILED, why))
        except OSError as exc:
            why = Phrase("{path}: {reason}", path=path, reason=exc.strerror)
            return FileWrite(WriteBackResult(WriteBack.FAILED, why))
        if done.outcome is Outcome.WRITTEN and done.now is not None:
            record = partial(record_written, got=got, now=done.now, flags=parsed_flags(parsed), plan=plan)
            return FileWrite(WriteBackResult(WriteBack.WRITTEN), record)
        if done.outcome is not Outcome.CHANGED:
            return FileWrite(WriteBackResult(WriteBack.LOST, lost_reason(path, done.outcome, done.kept)))
    why = Phrase("{path} kept changing while it was written", path=path)
    return FileWrite(WriteBackResult(WriteBack.LOST, why))


def finish_write_back(store: Store, pending: PendingWrite) -> WriteBackResult:
    """After the transaction that prepared ``pending`` committed: write the file, then record what the write
    learned in a short transaction of its own, the note's row locked (as a press locks it) so that it applies to
    the row as it is then. A store that refuses that record loses nothing: the file's fingerprint stays as it
    was, so the next sync reads the file again and takes its flags."""
    done = pending.run()
    if done.record is not None:
        try:
            with store.write() as session:
                apply_records(session, [(pending.note_id, done.record)])
        except SQLAlchemyError as exc:
            log.warning("write-back note=%s not recorded: %s", pending.note_id, one_line(exc))
    return done.result


def apply_records(session: Session, records: Sequence[tuple[int, Callable[[Note], None]]]) -> None:
    """What file writes learned, each applied to its note's row as it is now: the rows locked (as a press locks
    them) and read after the lock. A note deleted since its file was written is left out."""
    by_id = dict(records)
    ids = sorted(by_id)
    for start in range(0, len(ids), _CHUNK):
        part = ids[start : start + _CHUNK]
        notes.lock_notes(session, part)
        stmt = select(Note).where(Note.id.in_(part)).execution_options(populate_existing=True)
        for note in session.scalars(stmt):
            by_id[note.id](note)


def write_back_note(
    session: Session, note: Note, *, today: date, extra_every: int, delivery: Delivery
) -> WriteBackResult:
    """Prepare, write and record a note's write-back in one session: for tests and tools that hold no store.
    Callers in a write transaction use prepare_write_back and finish_write_back instead."""
    pending = prepare_note(session, note, WriteContext(today, extra_every, delivery))
    if pending is None:
        return WriteBackResult(WriteBack.NOTHING)
    done = pending.run()
    if done.record is not None:
        done.record(note)
        session.flush()
    return done.result


def record_status(status: str | None, note: Note) -> None:
    """The file already shows the store's state: only the status block's state may have changed."""
    note.status_block = status


def record_written(note: Note, *, got: FileRead, now: FileRead, flags: Flags, plan: Plan) -> None:
    """After a write outside a sync, on the row as it is now (a sync may have recorded the file meanwhile). The
    file now holds ``plan.flags``; the base keeps the learner's unsynced flag edits unsynced; the fingerprint moves
    only when the file was as last recorded, else the next sync must still read its other changes."""
    base = decode_flags(note.file_flags)
    note.file_flags = encode_flags({**(base if base is not None else flags), **plan.flags})
    note.status_block = plan.status
    if got.sha256 == note.content_hash:
        note.file_size, note.file_mtime_ns, note.content_hash = now.size, now.mtime_ns, now.sha256


def lost_reason(path: str, outcome: Outcome, kept: str | None) -> Phrase:
    if outcome is Outcome.GONE:
        return Phrase("{path} was deleted while it was written; it stays deleted", path=path)
    if outcome is Outcome.BUSY:
        return Phrase("{path} is open for writing in another program; written at a later sync", path=path)
    if outcome is Outcome.KEPT:
        return Phrase(
            "{path} was saved twice while it was written; the older version is kept as {kept}", path=path, kept=kept
        )
    return Phrase("{path} changed while it was written; written at the next sync", path=path)
