"""Notes of the Obsidian Spaced Repetition plugin: the ``sr-due``, ``sr-interval`` and ``sr-ease`` lines of their
frontmatter, read and written byte-exact (only the three values change; key order, quotes, comments, line
endings, BOM and body stay as they are). Pure, except ``write_sr``, which writes the note's file.

The plugin writes the fields as ``sr-due: YYYY-MM-DD`` / ``sr-interval: N`` / ``sr-ease: N`` lines
(st3v3nmw/obsidian-spaced-repetition, src/data-store-algorithm/data-store-in-note-algorithm-osr.ts,
noteSetSchedule); the scheduling rule itself is reminder.schedulers.Sr.

An SR note carries no first-study date; the store takes the last review the plugin recorded (``sr-due`` minus
``sr-interval``) in its place, and the note's schedule is the plugin's.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import date, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from reminder.schedulers import SR_MAXIMUM_INTERVAL, SrState, parse_sr_due

if TYPE_CHECKING:
    from reminder.vault.writeback import FileWrite, PendingWrite

# An interval 10 times the plugin's default maximum, an ease 10,000 % (the plugin starts at 250 and adds 20 for
# each Easy): far beyond any schedule the plugin writes.
SR_INTERVAL_LIMIT = 10 * SR_MAXIMUM_INTERVAL
SR_EASE_LIMIT = 10_000
KEYS = ("sr-due", "sr-interval", "sr-ease")
BOM = b"\xef\xbb\xbf"
_OPEN = re.compile(rb"---[ \t]*\r?\n")
_CLOSE = re.compile(rb"^(?:---|\.\.\.)[ \t]*\r?$", re.M)
# One field line at the top level of the frontmatter: the value is what stands between the colon's spaces and
# the end of the line (an optional quote pair kept around it).
_FIELD = re.compile(
    rb"^(sr-due|sr-interval|sr-ease)[ \t]*:[ \t]*(['\"]?)([^'\"\r\n]*?)\2[ \t]*(?:#[^\r\n]*)?\r?$", re.M
)


def _frontmatter_span(data: bytes) -> tuple[int, int] | None:
    start = 3 if data.startswith(BOM) else 0
    opening = _OPEN.match(data, start)
    if opening is None:
        return None
    closing = _CLOSE.search(data, opening.end())
    if closing is None:
        return None
    return opening.end(), closing.start()


def _fields(data: bytes) -> dict[str, re.Match[bytes]]:
    span = _frontmatter_span(data)
    if span is None:
        return {}
    found: dict[str, re.Match[bytes]] = {}
    for match in _FIELD.finditer(data, span[0], span[1]):
        found.setdefault(match.group(1).decode("ascii"), match)
    return found


def read_sr(data: bytes) -> SrState | None:
    """The note's SR schedule, or None when it does not carry all three fields (or one cannot be read)."""
    if b"sr-due" not in data:  # most notes: a byte search instead of a regex over the frontmatter
        return None
    found = _fields(data)
    if set(found) != set(KEYS):
        return None
    try:
        due = parse_sr_due(found["sr-due"].group(3).decode("utf-8"))
        # The plugin reads both with parseFloat and stores the interval rounded (RepItemScheduleInfoOsr).
        interval = round(float(found["sr-interval"].group(3)))
        ease = round(float(found["sr-ease"].group(3)))
    except (ValueError, OverflowError, UnicodeDecodeError):  # nan, inf
        return None
    # Bounds that keep the dates this note is given (its last review, sr-due minus sr-interval, and the next
    # schedule's sums) valid dates: a value beyond them is a typo, not a schedule, and must not stop the sync.
    if not 0 <= interval <= SR_INTERVAL_LIMIT or not 0 < ease <= SR_EASE_LIMIT:
        return None
    if (due - date.min).days < interval or (date.max - due).days <= SR_INTERVAL_LIMIT:
        return None
    return SrState(due=due, interval=interval, ease=ease)


def with_sr(data: bytes, state: SrState) -> bytes:
    """``data`` with the three values set to ``state``'s, every other byte unchanged."""
    found = _fields(data)
    if set(found) != set(KEYS):
        raise ValueError("the note does not carry sr-due, sr-interval and sr-ease")
    values = state.fields()
    out = data
    # From the end, so earlier offsets stay valid.
    for key in sorted(found, key=lambda k: found[k].start(3), reverse=True):
        match = found[key]
        out = out[: match.start(3)] + values[key].encode("ascii") + out[match.end(3) :]
    return out


def first_study_of(state: SrState, today: date) -> date:
    """The day the store takes as an SR note's first study: its last review (never after today)."""
    return min(state.due - timedelta(days=state.interval), today)


def study_note(rel_path: str, data: bytes, today: date) -> Any:
    """An SR note as the vault sync's ParsedNote (no flags, no fields but the title), or None."""
    state = read_sr(data)
    if state is None:
        return None
    from reminder.vault_format import ParsedNote, title_from_path

    return ParsedNote(
        title=title_from_path(rel_path),
        first_studied_on=first_study_of(state, today),
        subject=None,
        source=None,
        pages=None,
        level=None,
        stages={},
        long_term=None,
        content_hash=hashlib.sha256(data).hexdigest(),
    )


def inferred_rating(old: SrState, new: SrState) -> str:
    """The answer the plugin's own review must have been, from how it moved the ease (easy +20, hard -20)."""
    if new.ease > old.ease:
        return "easy"
    if new.ease < old.ease or (new.ease == old.ease == 130 and new.interval < old.interval):
        return "hard"
    return "good"


def prepare_sr(session: Any, note: Any) -> PendingWrite | None:
    """In the transaction that recorded a review: the write of the note's SR fields into its file when its vault
    has write-back, to run once it has committed (see reminder.vault.writeback.PendingWrite); None when there is
    nothing to write."""
    from reminder.db.models import Vault
    from reminder.schedulers import decode_state
    from reminder.vault.writeback import PendingWrite

    if note.scheduler != "sr" or not note.scheduler_state or note.vault_id is None or note.vault_path is None:
        return None
    vault = session.get(Vault, note.vault_id)
    if vault is None or not vault.write_back:
        return None
    state = decode_state(note.scheduler_state)
    assert isinstance(state, SrState)
    root = os.path.realpath(vault.path)
    path = os.path.join(root, *note.vault_path.split("/"))
    if not os.path.realpath(path).startswith(root + os.sep):
        return None
    return PendingWrite(note.id, lambda: write_sr(path, state))


def write_sr(path: str, state: SrState) -> FileWrite:
    """Write ``state`` into the SR fields of the file at ``path``; no store access. A note that must not or cannot
    be written is FAILED with the reason, as a flag note's write-back says it."""
    from reminder.vault.files import Outcome, WriteRefused, read_file, replace_if_unchanged
    from reminder.vault.writeback import FileWrite, WriteBack, WriteBackResult, lost_reason

    for _attempt in range(3):
        try:
            got = read_file(path)
            if read_sr(got.data) == state:
                return FileWrite(WriteBackResult(WriteBack.NOTHING))
            done = replace_if_unchanged(path, got, with_sr(got.data, state), dry_run=False)
        except FileNotFoundError:
            return FileWrite(WriteBackResult(WriteBack.LOST, f"{path} is gone"))
        except WriteRefused as exc:
            return FileWrite(WriteBackResult(WriteBack.FAILED, f"{path}: {exc}"))
        except OSError as exc:
            return FileWrite(WriteBackResult(WriteBack.FAILED, f"{path}: {exc.strerror}"))
        except ValueError as exc:  # the file no longer carries the three fields, or is not a note any more
            return FileWrite(WriteBackResult(WriteBack.FAILED, f"{path}: {exc}"))
        if done.outcome is Outcome.WRITTEN and done.now is not None:
            return FileWrite(WriteBackResult(WriteBack.WRITTEN), partial(record_sr, state, got, done.now))
        if done.outcome is not Outcome.CHANGED:  # deleted, or open for writing elsewhere: the next sync writes it
            return FileWrite(WriteBackResult(WriteBack.LOST, lost_reason(path, done.outcome, done.kept)))
    return FileWrite(WriteBackResult(WriteBack.LOST, f"{path} kept changing while it was written"))


def record_sr(state: SrState, got: Any, now: Any, note: Any) -> None:
    """After ``write_sr`` wrote ``got`` over as ``now``, on the row as it is then: the fingerprint moves only when
    the file was as last recorded, else the next sync must still read its other changes."""
    remember_file(note, state)
    if got.sha256 == note.content_hash:
        note.file_size, note.file_mtime_ns, note.content_hash = now.size, now.mtime_ns, now.sha256


def file_seen(note: Any) -> SrState | None:
    """The SR fields the note's file held when the store last read or wrote them."""
    if not note.scheduler_state:
        return None
    seen = json.loads(note.scheduler_state).get("file")
    return SrState(date.fromisoformat(seen["due"]), int(seen["interval"]), int(seen["ease"])) if seen else None


def remember_file(note: Any, state: SrState) -> None:
    data = json.loads(note.scheduler_state) if note.scheduler_state else {}
    data["file"] = {"due": state.due.isoformat(), "interval": state.interval, "ease": state.ease}
    note.scheduler_state = json.dumps(data, sort_keys=True)


def refresh_sr(session: Any, vault_id: int, states: dict[str, SrState], extra_every: int, today: date) -> None:
    """After a sync read files (``states``: path -> read_sr of each SR note's file): an SR note takes the schedule
    its file states when the file changed it since the store last saw it (the plugin reviewed it in Obsidian; that
    review joins the history, its rating inferred from the ease). A file still showing what it showed is behind a
    review done here (without write-back), and the store's schedule stands, as with the flags."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from reminder import notes
    from reminder.db.models import Note
    from reminder.schedulers import decode_state

    if not states:
        return
    stmt = (
        select(Note)
        .where(Note.vault_id == vault_id, Note.vault_path.in_(list(states)))
        .options(selectinload(Note.reviews), selectinload(Note.events))
    )
    for note in session.scalars(stmt):
        state = states[note.vault_path]
        old = decode_state(note.scheduler_state) if note.scheduler == "sr" and note.scheduler_state else None
        if old == state or (old is not None and file_seen(note) == state):
            continue
        # A review moves the last review day (sr-due - sr-interval) on; sr-due itself may move earlier (Hard,
        # done before the note was due).
        if isinstance(old, SrState) and first_study_of(state, today) > first_study_of(old, today):
            day = min(first_study_of(state, today), today)
            notes.record_event(
                note, stage=None, extra=True, rating=inferred_rating(old, state), day=day, source="vault"
            )
        notes.set_scheduler(note, "sr", extra_every=extra_every, sr=state)
        remember_file(note, state)
        note.updated_at = notes.utcnow()
    session.flush()
