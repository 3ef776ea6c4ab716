"""Obsidian vault sync: study notes come into the store from their frontmatter, and review flags go both ways.

The library behind `reminder vault ...` and `reminder sync`; the runner calls ``sync_all`` before each slot, and
the CLI's done/undo and the phone's button call ``prepare_write_back`` while recording a review and
``finish_write_back`` once it is committed. No click here.
Parsing is reminder.vault_format's.

Identity. A note is its vault-relative path. A file that disappears while a new file with the very same bytes
appears is a rename or move: the note follows it (new path, title and link; history kept). A deleted file
archives its note (history kept, reminders stop); a file that comes back at its path, or with the same bytes
elsewhere, un-archives it. A file that stops being a study note (no review-like key left) is archived too.
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

Notes made from a template (flags, no date) are dated once: the day git first added the file, else its mtime in
the learner's zone (vault/gitdates.py); the store keeps the day (``Note.first_study_from`` says where it came
from) and a later touch does not move it. Templates folders (vault/templates.py) hold templates, not notes;
they, and paths forgotten with `reminder rm --forget-file`, are reported, never dropped in silence.

Write-back (vault/writeback.py plans it, vault/files.py writes it). The flag values, the template's mirrors of
them, the chosen first-study date and the status block under 복습알림 change; every other byte stays (key order,
quotes, emoji, comments, CRLF, BOM, the body). The write itself (files.replace_if_unchanged) lets a concurrent
writer make the write-back lose, never the learner: see its docstring. A write-back that lost is retried: merged
again from the new content up to three times, else at the next sync.

Skipped silently: hidden files and folders (``.obsidian/``, ``.trash/``, ...), symlinks (one leading outside the
vault must never be read or written through; one leading inside names a file synced under its own path already),
anything not ending in ``.md``. Skipped with one line ``path:line: why`` (exit status 1): a file that cannot be
read, is over MAX_NOTE_BYTES, is not UTF-8, has malformed or non-mapping frontmatter, a bad date or flag, a
first-study date after today, or a field longer than the store keeps. Nothing already stored for such a file is
touched (a note whose file broke keeps its schedule) and it is reported again at every sync until fixed. A vault
folder that does not exist is an error for that vault (VaultError, exit 2); one with no Markdown file at all
while the store holds its notes looks unmounted, so nothing is archived and that is reported as a skip.

Removing a vault archives its notes and detaches them from it (history kept, the files untouched); adding the
same folder again re-attaches them (ids, history, snoozes), and the next sync un-archives those still there.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reminder.vault.files import MAX_NOTE_BYTES
    from reminder.vault.registry import add_vault, forget_file, list_vaults, remove_vault, vault_note_counts
    from reminder.vault.status import Delivery
    from reminder.vault.sync import SyncReport, sync_all, sync_vault
    from reminder.vault.writeback import (
        WriteBack,
        WriteBackResult,
        finish_write_back,
        prepare_write_back,
        write_back_note,
    )

# Each name's module, loaded when the name is first asked for: importing one light module of the package (as
# `reminder status` does with vault.files, to find write-back copies) must not load the sync and SQLAlchemy.
_HOMES = {
    "MAX_NOTE_BYTES": "files",
    "add_vault": "registry",
    "forget_file": "registry",
    "list_vaults": "registry",
    "remove_vault": "registry",
    "vault_note_counts": "registry",
    "Delivery": "status",
    "SyncReport": "sync",
    "sync_all": "sync",
    "sync_vault": "sync",
    "WriteBack": "writeback",
    "WriteBackResult": "writeback",
    "finish_write_back": "writeback",
    "prepare_write_back": "writeback",
    "write_back_note": "writeback",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "MAX_NOTE_BYTES",
    "Delivery",
    "SyncReport",
    "WriteBack",
    "WriteBackResult",
    "add_vault",
    "finish_write_back",
    "forget_file",
    "list_vaults",
    "prepare_write_back",
    "remove_vault",
    "sync_all",
    "sync_vault",
    "vault_note_counts",
    "write_back_note",
]
