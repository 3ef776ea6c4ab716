"""Writing the store's review flags into one note's file outside a sync: `reminder done` and the phone's
button call it the moment a review is recorded."""

from __future__ import annotations

import os

from sqlalchemy.orm import Session

from reminder.db.models import Note, Vault
from reminder.vault.files import (
    MAX_NOTE_BYTES,
    WRITE_ATTEMPTS,
    _read,
    _replace_if_unchanged,
)
from reminder.vault.flags import (
    _with_flags,
    decode_flags,
    encode_flags,
    flags_to_write,
    note_flags,
    parsed_flags,
)
from reminder.vault_format import NoteFormatError, parse_note


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
