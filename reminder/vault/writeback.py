"""What write-back puts into a note's file, and writing it for one note outside a sync: `reminder done`/`undo` and
the phone's button call ``write_back_review`` after the review is recorded (the caller records, then asks the vault
to write: the use cases in reminder.notes know nothing of files)."""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from reminder import notes, schedule
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

SHOWN, REMOVED = "shown", "removed"


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


def write_back_note(
    session: Session, note: Note, *, today: date, extra_every: int, delivery: Delivery
) -> WriteBackResult:
    """Write the store's state of the note (flags, mirrors, status block) into its file, if its vault has
    write-back. Call it after the review is recorded, in the same session (reviews loaded).

    Only flags the file has not changed since the last sync are written (see reminder.vault), so an edit the
    learner made since then is kept and applied by the next sync. The store's schedule is not changed here.
    """
    found = note_path(session, note)
    if found is None:
        return WriteBackResult(WriteBack.NOTHING)
    vault, path = found
    ctx = WriteContext(today, extra_every, delivery, status=vault.status_block)
    base = decode_flags(note.file_flags)
    for _attempt in range(WRITE_ATTEMPTS):
        try:
            got = read_file(path)
            parsed = parse_note(note.vault_path or "", got.data, max_bytes=MAX_NOTE_BYTES)
            if parsed is None:
                return WriteBackResult(WriteBack.FAILED, f"{path} is no longer a study note")
            plan = plan_write(got.data, parsed, note, base, ctx)
            if plan.new == got.data:
                note.status_block = plan.status
                return WriteBackResult(WriteBack.NOTHING)
            done = replace_if_unchanged(path, got, plan.new, dry_run=False)
        except FileNotFoundError:
            return WriteBackResult(WriteBack.LOST, Phrase("{path} is gone", path=path))
        except WriteRefused as exc:
            return WriteBackResult(WriteBack.FAILED, Phrase("{path}: {reason}", path=path, reason=exc))
        except NoteFormatError as exc:
            return WriteBackResult(
                WriteBack.FAILED, Phrase("{path}:{line}: {why}", path=path, line=exc.line, why=exc.reason)
            )
        except OSError as exc:
            return WriteBackResult(WriteBack.FAILED, Phrase("{path}: {reason}", path=path, reason=exc.strerror))
        if done.outcome is Outcome.WRITTEN and done.now is not None:
            record_written(note, got, done.now, base, parsed_flags(parsed), plan)
            session.flush()
            return WriteBackResult(WriteBack.WRITTEN)
        if done.outcome is not Outcome.CHANGED:
            return WriteBackResult(WriteBack.LOST, lost_reason(path, done.outcome, done.kept))
    return WriteBackResult(WriteBack.LOST, Phrase("{path} kept changing while it was written", path=path))


def write_back_review(session: Session, note: Note, today: date, settings: Settings) -> WriteBackResult:
    """After a review is recorded (done, undo, a rating; the command line and the phone's buttons alike), in the
    same session: write it into the note's file in the form its scheduler keeps (the Spaced Repetition plugin's
    fields, else the template's flags). ``settings`` gives extra_every and the delivery's cron and zone."""
    if note.scheduler == "sr":
        from reminder.srnote import write_back_sr

        return write_back_sr(session, note)  # a WriteBackResult, FAILED with the reason as for a flag note
    return write_back_note(
        session,
        note,
        today=today,
        extra_every=settings.extra_every,
        delivery=Delivery(settings.cron, settings.timezone),
    )


def record_written(note: Note, got: FileRead, now: FileRead, base: Flags | None, flags: Flags, plan: Plan) -> None:
    """After a write outside a sync. The base keeps the learner's unsynced flag edits unsynced; the fingerprint
    moves only when the file was as last synced, else the next sync must still read its other changes."""
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
